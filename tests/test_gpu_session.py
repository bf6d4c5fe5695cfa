"""scripts/gpu_session.sh (the one prepared command of a GPU session) on CPU at tiny sizes, so that a scarce
GPU session does not find its bugs: the benchmark phase, RATE instead of the concurrency measurement, the
long-run queues of LONG_METHODS and the validation-best single optimizer, and the tarball of run dirs.
Needs the real MNIST (scale=gpu trains on it); skipped where it is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import MNIST_SOURCE, need_mnist

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_session_on_cpu_benchmarks_then_runs_the_long_methods_and_packs_their_run_dirs(tmp_path):
    need_mnist()
    out = tmp_path / "out"
    out.mkdir()
    env = {
        **os.environ,
        "OUT": str(out),
        "PY": sys.executable,
        "DEVICE": "cpu",
        "RESULTS": str(tmp_path / "runs"),
        "DOIT_CACHE": str(tmp_path / "cache"),
        "MNIST_ROOT": str(MNIST_SOURCE),
        "BUDGET": "600",
        "RATE": "1000",  # steps/s per process: phase 2 is skipped, and the long runs get MAX_EPOCHS
        "MAX_EPOCHS": "4",
        "ONE_RUN": "0",
        "LONG_METHODS": "doit,doit_plus2",
        "BENCH": "--tiny --steps 10 --reps 1",
        "OVERRIDES": "seed=0 device=cpu model.tiny=true dataset.train_size=640",
    }
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_session.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    log = (out / "session.log").read_text()
    assert "phase 2: concurrency (not measured: RATE=1000 given)" in log
    assert "1000 steps/s per process at 16" in log and "long runs 4 epochs" in log
    assert not (out / "queue-one-run.txt").exists()  # ONE_RUN=0
    bench = [
        json.loads(line) for line in (out / "runner_overhead.txt").read_text().splitlines() if line[:1] == "{"
    ]
    assert [b["fused"] for b in bench] == [False, True]  # default implementations, then fused kernels
    assert all(0 < b["doit_vs_sgd"] and 0 < b["runner_vs_bare_steps_only"] for b in bench)

    with tarfile.open(out / "gpu-runs.tar.gz") as tar:
        names = tar.getnames()
        records = [json.load(tar.extractfile(n)) for n in names if n.endswith("/result.json")]
    assert not [n for n in names if n.endswith("checkpoint.pt")]  # packed without checkpoints
    ran = sorted((r["run"]["method"], (r["hyper"] or {}).get("lr")) for r in records)  # DOIT: no hyper
    assert [m for m, _ in ran] == ["adagrad", "doit", "doit_plus2"]
    assert dict(ran)["adagrad"] == 0.01  # the validation-best single optimizer of the 3-epoch GPU runs
    for r in records:
        assert r["status"] == "complete"
        assert (r["run"]["scale"], r["run"]["model"], r["run"]["epochs"], r["run"]["seed"]) == (
            "gpu",
            "resnet18",
            4,
            0,
        )
