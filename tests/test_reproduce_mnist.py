"""`make reproduce-mnist` and `make reproduce-gpu` (scripts/reproduce.sh, a queue of runs) in reduced forms
on the real MNIST (MNIST_ROOT, else ../shared/data/mnist: gzipped IDX): one seed, two methods of Table 1, one epoch of a subset;
the GPU scale on CPU with a tiny ResNet18. Skipped where the files are absent (a user's machine downloads
MNIST instead). Also what `make reproduce-gpu` runs: its experiments composed at scale=gpu."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import MNIST_SOURCE, need_mnist

from runners.config import compose
from runners.queue.plan import plan

ROOT = Path(__file__).resolve().parents[1]
SOURCE = MNIST_SOURCE
GPU_RUNS = {  # make reproduce-gpu's experiments (scripts/reproduce.sh gpu) and their runs at seeds 0, 1, 2
    "table1_grid": 45,
    "table1_fixed": 15,
    "table7_ablations": 9,
    "table7_strategies": 9,
    "table7_one_lr": 3,
    "beyond_fixed": 9,
}


def needs_mnist() -> None:
    need_mnist()


def reproduce(scale: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "RESULTS": str(tmp_path / "out"),
        "REPORT": str(tmp_path / "rep"),
        "DOIT_CACHE": str(tmp_path / "cache"),
        **env,
    }
    env["MNIST_ROOT"] = str(SOURCE)  # the tests' copy (the script would find ../shared/data/mnist itself)
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "reproduce.sh"), scale],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_reduced_reproduce_mnist_runs_tables_and_figures(tmp_path):
    needs_mnist()
    done = reproduce(
        "mnist",
        tmp_path,
        EXPERIMENTS="table1_fixed",
        OVERRIDES="seed=0 method=adabound,doit dataset.train_size=8000 epochs=1 method.n_ini=5",
        JOBS="2",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"MNIST from {SOURCE}" in done.stdout
    assert "table1_fixed: 2 runs: 2 complete, 0 diverged, 0 failed, 0 missing" in done.stdout
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


@pytest.mark.slow
def test_reproduce_gpu_runs_tables_1_and_7_and_beyond_with_resnet18_on_the_full_mnist():
    items = plan([[f"experiment={e}", "scale=gpu", "threads=1"] for e in GPU_RUNS])
    assert Counter(i.label for i in items) == GPU_RUNS
    assert {o for i in items for o in i.overrides if o.startswith("seed=")} == {"seed=0", "seed=1", "seed=2"}
    assert all(i.device == "cuda" and "/sweeps/" + i.label + "_gpu/" in i.run_dir for i in items)
    for experiment in GPU_RUNS:
        cfg, _ = compose([f"experiment={experiment}", "scale=gpu"])
        model = (cfg.model.name, cfg.model.pretrained, cfg.model.weights_missing)
        assert (cfg.dataset.name, cfg.dataset.train_size, cfg.batch_size, cfg.epochs) == (
            "mnist",
            None,
            64,
            3,
        )
        assert model == ("resnet18", True, "scratch")
        assert cfg.space.name == ("one_lr" if experiment == "table7_one_lr" else "paper15")
        n_ini = 50 if experiment in ("table1_fixed", "beyond_fixed") else 20  # Table 1's DOIT, Table 7's
        assert (cfg.method.tau, cfg.method.n_ini) == (25, n_ini)


@pytest.mark.slow
def test_reduced_reproduce_gpu_on_cpu_records_the_gpu_scale(tmp_path):
    needs_mnist()
    done = reproduce(
        "gpu",
        tmp_path,
        EXPERIMENTS="table1_fixed",
        OVERRIDES="seed=0 method=sgd,doit device=cpu model.tiny=true dataset.train_size=2000 method.n_ini=2",
        EPOCHS="1",
        JOBS="2",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "table1_fixed: 2 runs: 2 complete, 0 diverged, 0 failed, 0 missing" in done.stdout
    results = sorted((tmp_path / "out" / "sweeps" / "table1_fixed_gpu").glob("*epochs=1*/result.json"))
    records = [json.loads(p.read_text())["run"] for p in results]
    assert sorted(r["method"] for r in records) == ["doit", "sgd"]
    for r in records:
        assert (r["scale"], r["dataset"], r["model"], r["batch_size"], r["epochs"]) == (
            "gpu",
            "mnist",
            "resnet18",
            64,
            1,
        )
        assert r["pretrained"] is False  # the tiny ResNet has no ImageNet weights
