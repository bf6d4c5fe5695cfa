"""examples/mnist.py runs as a script on the real MNIST (MNIST_ROOT, else ../shared/data/mnist: gzipped IDX)
for a few batches and DOIT switches (skipped where the files are absent); without data and network it is one
line. Slow: scripts of their own (the full suite)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MNIST_SOURCE, need_mnist

ROOT = Path(__file__).resolve().parents[1]
SOURCE = MNIST_SOURCE
FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def script_env(**extra):
    """The environment with the repository importable (after any PYTHONPATH already set)."""
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


@pytest.fixture
def mnist_root(tmp_path):
    """torchvision's layout ``<root>/MNIST/raw/<file>`` (decompressed) from the shared gz files."""
    need_mnist()
    from runners.data.mnist import stage_gzipped

    return stage_gzipped(SOURCE, tmp_path / "data")


@pytest.mark.slow
def test_mnist_example_trains_with_doit(mnist_root, tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "mnist.py"),
        "--data",
        str(mnist_root),
        "--epochs",
        "2",
        "--max-batches",
        "12",
        "--batch-size",
        "32",
        "--test-batch-size",
        "100",
        "--tau",
        "3",
        "--n-ini",
        "2",
        "--no-accel",
        "--log-interval",
        "4",
    ]
    done = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=script_env(OMP_NUM_THREADS="1")
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert len(re.findall(r"^Test set: Average loss: [\d.]+, Accuracy: \d+/1200 ", out, re.M)) == 2, out
    switches, cycles = map(int, re.search(r"^DOIT: (\d+) switches in (\d+) cycles", out, re.M).groups())
    assert switches >= 1 and cycles >= 6, out


@pytest.mark.slow
def test_mnist_example_offline_without_data_is_one_line(tmp_path):
    """No data and no network: the script exits with one line naming --data (no traceback)."""
    script = ROOT / "examples" / "mnist.py"
    code = (
        "import sys, torchvision.datasets as d; sys.argv = ['mnist.py', '--data', sys.argv[1], '--dry-run']\n"
        "def offline(self): raise RuntimeError('no network')\n"
        "d.MNIST.download = offline\n"
        f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=script_env(),
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "--data" in done.stderr
