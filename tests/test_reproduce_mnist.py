"""`make reproduce-mnist`'s code path (scripts/reproduce.sh mnist) in a reduced form on the real MNIST
(../shared/data/mnist, gzipped IDX): one seed, two methods of Table 1, one epoch of an 8,000-example subset
(225 steps). Skipped where the files are absent (a user's machine downloads MNIST instead)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "mnist"


@pytest.mark.slow
def test_reduced_reproduce_mnist_runs_tables_and_figures(tmp_path):
    if not (SOURCE / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {SOURCE}")
    env = {
        **os.environ,
        "RESULTS": str(tmp_path / "out"),
        "REPORT": str(tmp_path / "rep"),
        "DOIT_CACHE": str(tmp_path / "cache"),
        "EXPERIMENTS": "table1_fixed",
        "OVERRIDES": "seed=0 method=adabound,doit dataset.train_size=8000 epochs=1 method.n_ini=5",
        "JOBS": "2",
    }
    env.pop("MNIST_ROOT", None)  # the script finds ../shared/data/mnist itself
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "reproduce.sh"), "mnist"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"MNIST from {SOURCE}" in done.stdout
    results = sorted((tmp_path / "out" / "sweeps" / "table1_fixed_mnist").glob("*/result.json"))
    records = {r["run"]["method"]: r for r in (json.loads(p.read_text()) for p in results)}
    assert set(records) == {"adabound", "doit"}
    for r in records.values():
        assert (r["run"]["scale"], r["run"]["dataset"], r["run"]["model"]) == ("mnist", "mnist", "cnn")
        assert r["status"] == "complete" and r["timing"]["steps"] == 225  # ceil(7,200 / 32)
    doit = records["doit"]["doit"]
    assert doit["n_cycles"] == 23 and 0 < doit["omega_t"] < 1  # pre-trained on digits: transferability runs
    assert records["adabound"]["metrics"]["final_test_acc"] > 50  # real data, a real model: far above chance
    table = (tmp_path / "rep" / "tables" / "table1_mnist.md").read_text()
    assert "mnist/cnn [paper: mnist/resnet18]" in table and "99.51 ± 0.01" in table  # the paper's DOIT cell
    assert "| DOIT (ours) | best baseline: AdaBound | val_acc |" in table  # picked on validation
    assert (tmp_path / "rep" / "figures" / "doit_switching_mnist_mnist_cnn.png").stat().st_size > 0
