"""The one shared runner: ``python -m runners.train`` (Hydra 1.3 over ``conf/``), see docs/architecture.md."""
