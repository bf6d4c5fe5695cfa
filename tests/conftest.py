"""Shared fixtures: compose the real config (lightning-hydra-template style), run the CLI, and the two test
commands.

``python -m pytest`` (the README's) is the quick suite: every module, no network, nothing installed or
started, under three minutes on two cores (pyproject's addopts run it on one pytest-xdist worker per core,
a test module per worker; ``-n 0`` runs it in one process). ``python -m pytest --full`` adds the tests marked ``slow`` (kill and
resume, sweeps through the launchers, the real-MNIST reproduction, the examples and benchmarks), runs the
Hypothesis properties on more examples, and lets the SLURM tests install and start a single-node cluster
(as root, on Debian; ``scripts/slurm/start.sh``); with the optional extras installed
(``pip install -e ".[dev,test-full]"``) nothing is skipped but what needs the machine (root, a GPU,
the real MNIST files).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from runners.config import compose
from runners.schema import CONF_DIR

REPO = CONF_DIR.parent
# Shrunk, fast settings for runner tests (the digits default, fewer epochs, no display).
FAST = ["epochs=1", "progress=off", "plot=false"]
GPU_RESULTS = REPO / "results" / "h200-resnet18-mnist-3ep"
FULL_COMMAND = 'pip install -e ".[dev,test-full]" && python -m pytest --full'
# The real MNIST (four .gz files or torchvision's layout): MNIST_ROOT, else the shared copy beside the repo.
MNIST_SOURCE = Path(os.environ.get("MNIST_ROOT") or REPO.parent / "shared" / "data" / "mnist")
MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]

# Hypothesis: a few examples in the quick suite, many in the full one; no example database in the repo.
_HYPOTHESIS = {"deadline": None, "suppress_health_check": list(HealthCheck), "database": None}
settings.register_profile("quick", max_examples=10, **_HYPOTHESIS)
settings.register_profile("full", max_examples=150, **_HYPOTHESIS)


def pytest_addoption(parser):
    parser.addoption(
        "--full",
        action="store_true",
        help="the full suite: the slow tests too, Hypothesis' full profile, and the SLURM tests may install "
        "and start a single-node cluster (root on Debian). Install the extras first: "
        'pip install -e ".[dev,test-full]"',
    )


def pytest_configure(config):
    settings.load_profile("full" if config.getoption("full") else "quick")
    # Hypothesis' own files (a cache of the constants in the source) in a temporary folder, not the checkout
    config.hypothesis_home = tempfile.mkdtemp(prefix="doit-tests-hypothesis-")
    set_hypothesis_home_dir(config.hypothesis_home)


def pytest_unconfigure(config):
    home = getattr(config, "hypothesis_home", None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


def pytest_report_header(config):
    if config.getoption("full"):
        return "doit: the full suite (--full)"
    return f"doit: the quick suite; slow tests deselected (the full suite: {FULL_COMMAND})"


def pytest_collection_modifyitems(config, items):
    """The quick suite leaves out the ``slow`` tests, unless ``--full`` or a ``-m`` expression asks."""
    if config.getoption("full") or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def full_suite(config) -> bool:
    return bool(config.getoption("full"))


def needs(module: str, extra: str, package: str | None = None):
    """``pytest.importorskip`` whose reason says what to install (the extra, or the full test command)."""
    return pytest.importorskip(
        module,
        reason=f"needs {package or module}: pip install -e '.[{extra}]' (or the full tests: {FULL_COMMAND})",
    )


def need_mnist() -> Path:
    """The real MNIST's folder, or skip saying where the tests look for it."""
    if not all((MNIST_SOURCE / f"{name}.gz").is_file() for name in MNIST_FILES):
        pytest.skip(
            f"real MNIST not found in {MNIST_SOURCE}: set MNIST_ROOT to a folder of its four .gz files "
            "(and run the full tests: python -m pytest --full)"
        )
    return MNIST_SOURCE


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """``$DOIT_CACHE`` (the pre-trained digits weights, staged MNIST) in the session's temporary folder, for
    the subprocesses too: the tests never write to the user's ~/.cache/doit-repro."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOIT_CACHE", str(tmp_path_factory.mktemp("doit_cache")))
        yield


@pytest.fixture
def one_thread():
    """Small CPU models run fastest on one torch thread (and far faster than on two busy ones)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def compose_train(overrides: list[str]):
    """``(cfg, choices)`` of ``conf/train.yaml`` with ``overrides``, without the ``hydra`` node."""
    return compose(overrides)


def run_cli(args: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """``python -m runners.train *args`` from the repo root, output captured: for the tests of the process
    itself (exit codes, stderr, signals); the rest call ``runners.train.main`` in-process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "runners.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def run_main(args: list[str]) -> subprocess.CompletedProcess:
    """``runners.train.main(args)`` in this process, returning what ``run_cli`` would (exit code, stdout,
    stderr): the same code path without a Python start-up and the imports (seconds each). Runs on one torch
    thread, as the runner's subprocesses effectively do on a busy 2-core machine."""
    from runners.cli import main

    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(["runners.train", *args], code, out.getvalue(), err.getvalue())


# The shared finished run: a tiny DOIT run of the embedded default (digits, small CNN, the paper's 15
# candidates), one epoch of 41 steps in cycles of 10, its figure drawn.
RUN_ARGS = ["epochs=1", "progress=off", "plot=true", "method.tau=10", "method.n_ini=3"]


@dataclasses.dataclass(frozen=True)
class FinishedRun:
    root: Path  # holds folder/run/ (a results root for analysis)
    dir: Path  # the run dir: result.json, metrics.jsonl, switches.csv, config.yaml, checkpoint.pt, run.png
    proc: subprocess.CompletedProcess  # what runners.train.main printed
    args: list[str]  # the overrides it ran with (RUN_ARGS)

    def copy(self, to: Path) -> Path:
        """A private copy of the run dir at ``to`` (modes and bytes preserved), for tests that change it."""
        shutil.copytree(self.dir, to)
        return to


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> FinishedRun:
    """One finished run the runner wrote (under umask 0o022), shared by the tests that only read its artefacts
    or change copies of them."""
    root = tmp_path_factory.mktemp("finished")
    out = root / "folder" / "run"
    previous = os.umask(0o022)
    try:
        done = run_main([*RUN_ARGS, f"hydra.run.dir={out}"])
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr[-2000:]
    return FinishedRun(root, out, done, list(RUN_ARGS))


@pytest.fixture(scope="session")
def gpu_tables(tmp_path_factory) -> Path:
    """``python -m analysis tables --scale gpu`` over the H200 runs in results/ (75 runs), rendered once."""
    from analysis.__main__ import main as analysis_main

    out = tmp_path_factory.mktemp("gpu_tables")
    assert analysis_main(["tables", "--results", str(GPU_RESULTS), "--out", str(out), "--scale", "gpu"]) == 0
    return out
