# Everyday entry points. RESULTS: where `make tables`/`make figures` look for result files.
PY ?= python
RESULTS ?= outputs
REPORT ?= reports
EXP ?= table1_embedded
LAUNCHER ?= basic

.PHONY: install demo test lint bench tables figures sweep reproduce-embedded slurm-up slurm-down

install:
	$(PY) -m pip install -e ".[dev]"

demo:
	$(PY) -m runners.train

test:
	$(PY) -m pytest

lint:
	ruff check .

bench:
	$(PY) benchmarks/controller_overhead.py
	$(PY) benchmarks/runner_overhead.py
	$(PY) benchmarks/surrogate_cost.py
