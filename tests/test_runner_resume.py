"""Kill the runner (SIGKILL) mid-run, rerun the same command: the result equals an uninterrupted run's."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO, run_cli

ARGS = ["epochs=4", "checkpoint_every_steps=7", "method.tau=10", "method.n_ini=3", "progress=log"]


def _final(out):
    result = json.loads((out / "result.json").read_text())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s")
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    return result, rows, ckpt


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(tmp_path):
    ref_dir, cut_dir = tmp_path / "ref", tmp_path / "cut"
    assert run_cli([*ARGS, f"hydra.run.dir={ref_dir}"]).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runners.train", *ARGS, f"hydra.run.dir={cut_dir}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not (cut_dir / "metrics.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut_dir / "result.json").exists(), "the run finished before it was killed"
    killed_at = torch.load(cut_dir / "checkpoint.pt", weights_only=True)["trainer"]["loop"]["step"]
    assert 0 < killed_at < 180
    resumed = run_cli([*ARGS, f"hydra.run.dir={cut_dir}"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr

    ref, cut = _final(ref_dir), _final(cut_dir)
    assert ref[0]["metrics"] == cut[0]["metrics"]
    assert ref[0]["doit"] == cut[0]["doit"]
    assert {k: ref[0]["timing"][k] for k in ("epochs_run", "steps", "converged_epoch")} == {
        k: cut[0]["timing"][k] for k in ("epochs_run", "steps", "converged_epoch")
    }
    assert ref[1] == cut[1]
    assert ref[2]["model"].keys() == cut[2]["model"].keys()
    for name, tensor in ref[2]["model"].items():
        assert torch.equal(tensor, cut[2]["model"][name]), name
    assert torch.equal(ref[2]["trainer"]["loop"]["step_losses"], cut[2]["trainer"]["loop"]["step_losses"])
    _same_switches(ref_dir / "switches.csv", cut_dir / "switches.csv")


def _same_switches(a, b):
    """Every cell of switches.csv, the GP predictions included, equal to the letter."""
    with open(a) as fa, open(b) as fb:
        assert list(csv.DictReader(fa)) == list(csv.DictReader(fb))


LAST_CYCLE_ARGS = [
    "epochs=4",
    "checkpoint_every_steps=7",
    "method.tau=40",
    "method.n_ini=3",
    "progress=off",
    "plot=false",
]


@pytest.mark.slow
def test_kill_in_the_last_unscored_cycle_then_resume_equals_uninterrupted(tmp_path):
    """The last switch cycle is still open when training ends (DOIT.finish() scores it): kill -9 inside it."""
    ref_dir, cut_dir = tmp_path / "ref", tmp_path / "cut"
    assert run_cli([*LAST_CYCLE_ARGS, f"hydra.run.dir={ref_dir}"]).returncode == 0
    with open(ref_dir / "switches.csv") as fh:
        last_start = int(list(csv.DictReader(fh))[-1]["step"])
    total = json.loads((ref_dir / "result.json").read_text())["timing"]["steps"]
    assert 0 < total - last_start < 40, (last_start, total)  # the last cycle is cut short by the end

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runners.train", *LAST_CYCLE_ARGS, f"hydra.run.dir={cut_dir}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt, seen, killed_at = cut_dir / "checkpoint.pt", None, None
    deadline = time.monotonic() + 240
    while killed_at is None and proc.poll() is None and time.monotonic() < deadline:
        try:
            st = ckpt.stat()
        except FileNotFoundError:
            time.sleep(0.001)
            continue
        if (st.st_ino, st.st_mtime_ns) == seen:
            time.sleep(0.001)
            continue
        proc.send_signal(signal.SIGSTOP)  # hold it still while we look at the new checkpoint
        seen = (ckpt.stat().st_ino, ckpt.stat().st_mtime_ns)
        step = torch.load(ckpt, weights_only=True)["trainer"]["loop"]["step"]
        if last_start < step < total:
            proc.send_signal(signal.SIGKILL)
            killed_at = step
        proc.send_signal(signal.SIGCONT)
    proc.wait()
    assert killed_at is not None, "no checkpoint was seen inside the last cycle before the run ended"
    assert not (cut_dir / "result.json").exists()
    resumed = run_cli([*LAST_CYCLE_ARGS, f"hydra.run.dir={cut_dir}"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr

    ref, cut = _final(ref_dir), _final(cut_dir)
    assert ref[0]["status"] == cut[0]["status"] == "complete"
    assert ref[0]["metrics"] == cut[0]["metrics"]
    assert ref[0]["doit"] == cut[0]["doit"]
    assert ref[1] == cut[1]
    for name, tensor in ref[2]["model"].items():
        assert torch.equal(tensor, cut[2]["model"][name]), name
    _same_switches(ref_dir / "switches.csv", cut_dir / "switches.csv")
    assert not [p.name for p in cut_dir.iterdir() if p.name.endswith(".tmp")]
