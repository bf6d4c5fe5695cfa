"""A work queue of runs: every run of every experiment's sweep is one item, claimed by long-lived workers.

``python -m runners.queue`` (``__main__``) plans the items (``plan``: Hydra's own sweep expansion, the run
dirs a multirun writes, largest first), picks the workers (``slots``), and leads them (``leader``); each
worker (``worker``) claims runs under a lease that dies with it (``lease``) and runs them in-process; the
plan and the outcomes are shared through files (``state``).
"""
