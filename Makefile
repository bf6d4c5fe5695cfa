# Everyday entry points. RESULTS: where `make tables`/`make figures` look for result files.
PY ?= python
RESULTS ?= outputs
REPORT ?= reports
EXP ?= table1_grid_embedded
TOYS ?= paper
LAUNCHER ?= basic
JOBS ?= 2              # reproduce-*: experiment queues side by side (scripts/reproduce.sh)

.PHONY: install demo test lint bench tables toys figures sweep reproduce-embedded reproduce-mnist reproduce-beyond slurm-up slurm-down

install:
	$(PY) -m pip install -e ".[dev]"

demo:
	$(PY) -m runners.train

test:
	$(PY) -m pytest

lint:
	ruff check . && ruff format --check .

bench:
	$(PY) benchmarks/controller_overhead.py
	$(PY) -m benchmarks.surrogate_cost
	$(PY) benchmarks/runner_overhead.py

tables:
	$(PY) -m analysis tables --results $(RESULTS) --out $(REPORT)/tables

toys:
	$(PY) -m runners.toys --scale $(TOYS) --out $(RESULTS)/toys

figures: toys
	$(PY) -m analysis figures --results $(RESULTS) --out $(REPORT)/figures

sweep:
	PY=$(PY) scripts/sweep.sh $(EXP) $(LAUNCHER)

reproduce-embedded:
	RESULTS=$(RESULTS) REPORT=$(REPORT) PY=$(PY) JOBS=$(JOBS) bash scripts/reproduce.sh embedded

reproduce-mnist:
	RESULTS=$(RESULTS) REPORT=$(REPORT) PY=$(PY) JOBS=$(JOBS) bash scripts/reproduce.sh mnist

# DOIT+ (README "Beyond the paper") on its confirmation seeds, at both CPU scales
BEYOND = beyond_grid beyond_ablations beyond_fixed beyond_prodigy
reproduce-beyond:
	EXPERIMENTS="$(BEYOND)" RESULTS=$(RESULTS) REPORT=$(REPORT) PY=$(PY) JOBS=$(JOBS) bash scripts/reproduce.sh embedded
	EXPERIMENTS="$(BEYOND)" RESULTS=$(RESULTS) REPORT=$(REPORT) PY=$(PY) JOBS=$(JOBS) bash scripts/reproduce.sh mnist

slurm-up:
	scripts/slurm/start.sh

slurm-down:
	scripts/slurm/stop.sh
