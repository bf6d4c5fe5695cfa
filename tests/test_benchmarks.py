"""Every benchmark runs as documented (``python benchmarks/<name>.py``) from a temporary working directory with
PYTHONPATH unset: from a plain checkout (no installed package on the path) and where a package is installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, need_mnist

BENCHMARKS = sorted(p for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("_"))
# `python SCRIPT ARGS` without the site .pth files (no installed or editable package of any checkout), but with
# the site-packages dirs (torch and the other dependencies): a checkout that was never installed
NOT_INSTALLED = (
    "import os, runpy, site, sys; sys.path.extend(site.getsitepackages()); sys.argv = sys.argv[1:]; "
    "sys.path.insert(0, os.path.dirname(sys.argv[0])); runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_benchmark(
    script: Path, args: list[str], cwd: Path, installed: bool, **env
) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
    python = [sys.executable] if installed else [sys.executable, "-S", "-c", NOT_INSTALLED]
    return subprocess.run(
        [*python, str(script), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=900
    )


# Each is a process of its own (seconds of imports): the quick suite runs one, the full suite all of them.
QUICK = ("runner_overhead", False)
CASES = [
    pytest.param(
        script,
        installed,
        id=f"{script.stem}-{'installed' if installed else 'checkout'}",
        marks=() if (script.stem, installed) == QUICK else pytest.mark.slow,
    )
    for script in BENCHMARKS
    for installed in (False, True)
]


@pytest.mark.parametrize(("script", "installed"), CASES)
def test_every_benchmark_runs_from_anywhere(script, installed, tmp_path):
    done = run_benchmark(script, ["--help"], tmp_path, installed)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


@pytest.mark.slow
def test_runner_overhead_resnet18_mnist_tiny_on_cpu(tmp_path):
    mnist = need_mnist()
    args = ["--device", "cpu", "--tiny", "--steps", "3", "--reps", "1"]
    script = REPO / "benchmarks" / "runner_overhead.py"
    done = run_benchmark(
        script, args, tmp_path, False, MNIST_ROOT=str(mnist), DOIT_CACHE=str(tmp_path / "cache")
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["setting"].startswith("tiny ResNet18 on MNIST") and report["steps"] == 3
    for key in (
        "runner_vs_bare_steps_only",
        "runner_vs_bare_with_eval",
        "doit_vs_sgd",
        "doit_controller_vs_sgd",
    ):
        assert report[key] > 0
    assert report["targets"] == {"runner_vs_bare": 0.95, "doit_vs_sgd": 0.98, "doit_controller_vs_sgd": 0.98}
    assert "DOIT (sgd(lr=0.01) only) vs SGD" in done.stdout
