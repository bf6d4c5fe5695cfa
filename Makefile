# Everyday entry points. RESULTS: where `make tables`/`make figures` look for result files (one or more folders).
PY ?= python
RESULTS ?= outputs
REPORT ?= reports
EXP ?= table1_grid_embedded
TOYS ?= paper
LAUNCHER ?= basic
# reproduce-*: workers of the run queue (python -m runners.queue; empty: the usable cores, on GPUs what their
# free memory holds at GB_PER_RUN each); reproduce-gpu: epochs per run (empty: 3, conf/scale/gpu.yaml)
JOBS ?=
GB_PER_RUN ?=
EPOCHS ?=
REPRODUCE = RESULTS=$(RESULTS) REPORT=$(REPORT) PY=$(PY) JOBS=$(JOBS) GB_PER_RUN=$(GB_PER_RUN) EPOCHS=$(EPOCHS)

.PHONY: install demo test test-full lint bench bench-gpu tables toys figures sweep reproduce-embedded reproduce-mnist reproduce-gpu reproduce-beyond slurm-up slurm-down

install:
	$(PY) -m pip install -e ".[dev]"

demo:
	$(PY) -m runners.train

# the README's tests: the quick suite (a few minutes on 2 cores, offline, nothing installed or started)
test:
	$(PY) -m pytest

# the full suite: slow tests too, and a SLURM cluster started as root; first: pip install -e ".[dev,test-full]"
test-full:
	$(PY) -m pytest --full

lint:
	ruff check . && ruff format --check .

bench:
	$(PY) benchmarks/controller_overhead.py
	$(PY) benchmarks/surrogate_cost.py
	$(PY) benchmarks/runner_overhead.py

bench-gpu:
	$(PY) benchmarks/gpu_check.py
	$(PY) benchmarks/runner_overhead.py --device cuda

tables:
	$(PY) -m analysis tables $(addprefix --results ,$(RESULTS)) --out $(REPORT)/tables

toys:
	$(PY) -m runners.toys --scale $(TOYS) --out $(firstword $(RESULTS))/toys

figures: toys
	$(PY) -m analysis figures $(addprefix --results ,$(RESULTS)) --out $(REPORT)/figures

sweep:
	PY=$(PY) JOBS=$(JOBS) scripts/sweep.sh $(EXP) $(LAUNCHER)

reproduce-embedded:
	$(REPRODUCE) bash scripts/reproduce.sh embedded

reproduce-mnist:
	$(REPRODUCE) bash scripts/reproduce.sh mnist

# Tables 1 and 7 and DOIT/DOIT+/bandit with ResNet18 on the full MNIST, on this machine's GPUs
reproduce-gpu:
	$(REPRODUCE) bash scripts/reproduce.sh gpu

# Beyond the paper (README): the one-run table and DOIT+ on their confirmation seeds, at both CPU scales
BEYOND = one_run_grid one_run beyond_grid beyond_ablations beyond_fixed beyond_prodigy
reproduce-beyond:
	EXPERIMENTS="$(BEYOND)" $(REPRODUCE) bash scripts/reproduce.sh embedded
	EXPERIMENTS="$(BEYOND)" $(REPRODUCE) bash scripts/reproduce.sh mnist

slurm-up:
	scripts/slurm/start.sh

slurm-down:
	scripts/slurm/stop.sh
