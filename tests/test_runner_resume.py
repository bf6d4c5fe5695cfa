"""Kill the runner (SIGKILL) mid-run, rerun the same command: the result equals an uninterrupted run's."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

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


def test_kill_and_resume_equals_uninterrupted(tmp_path):
    ref_dir, cut_dir = tmp_path / "ref", tmp_path / "cut"
    assert run_cli([*ARGS, f"hydra.run.dir={ref_dir}"]).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "runners.train", *ARGS, f"hydra.run.dir={cut_dir}"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    assert {k: ref[0]["timing"][k] for k in ("epochs_run", "steps", "converged_epoch")} == \
        {k: cut[0]["timing"][k] for k in ("epochs_run", "steps", "converged_epoch")}
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
