"""Hydra launcher plugins of the DOIT suite (``hydra/launcher=slurm|local``, see docs/cluster.md)."""
