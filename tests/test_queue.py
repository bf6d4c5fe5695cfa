"""The work queue of runs (``python -m runners.queue``) on CPU, with embedded-scale sweeps reduced by overrides."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import REPO, run_main

from runners.queue import slots
from runners.queue.leader import run_queue, summary
from runners.queue.plan import plan
from runners.queue.slots import GIB, Slots, choose

EMBEDDED = ["scale=embedded", "seed=0", "epochs=1"]


def sweep_dir(tmp_path: Path) -> str:
    return f"hydra.sweep.dir={tmp_path}/sweeps/${{experiment_name}}"


def queue_command(args: list[str]) -> tuple[list[str], dict]:
    """``python -m runners.queue *args`` with this checkout's packages."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HYDRA_FULL_ERROR", None)
    return [sys.executable, "-m", "runners.queue", *args], env


def wait_for(condition, proc: subprocess.Popen, what: str) -> None:
    """Poll ``condition`` while the queue runs (a marker file, not a sleep of a guessed length)."""
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the queue ended (exit code {proc.returncode}) before {what}: {proc.stdout.read()}")
        time.sleep(0.05)


@pytest.mark.slow
def test_run_dirs_are_those_of_a_hydra_multirun(tmp_path):
    args = [
        "experiment=table1_grid",
        *EMBEDDED,
        "model=mlp",
        "method=sgd,adam",
        "lr=0.1,1e-3",
        sweep_dir(tmp_path),
    ]
    done = run_main(["-m", *args])
    assert done.returncode == 0, done.stderr[-2000:]
    written = sorted(p.parent for p in tmp_path.glob("sweeps/*/*/result.json"))
    items = plan([args])
    assert sorted(Path(i.run_dir) for i in items) == written and len(written) == 4
    # the queue over the multirun's run dirs re-reports each run: same dirs, same composed configs
    out = io.StringIO()
    finished = run_queue(items, Slots([None], "test"), out)
    assert summary(items, finished, out) == 0
    assert "table1_grid: 4 runs: 4 complete, 0 diverged, 0 failed, 0 missing" in out.getvalue()
    assert sorted(p.parent for p in tmp_path.glob("sweeps/*/*/result.json")) == written


@pytest.mark.slow
def test_two_workers_claim_runs_not_experiments(tmp_path):
    items = plan(
        [["experiment=table1_grid", *EMBEDDED, "lr=0.1", sweep_dir(tmp_path)]]
    )  # 5 methods x 2 models
    finished = run_queue(items, Slots([None, None], "test"), io.StringIO())
    outcomes = list(finished.outcomes.values())
    assert len(outcomes) == 10 and {o.status for o in outcomes} <= {"complete", "diverged"}
    workers = {o.worker for o in outcomes}
    assert len(workers) == 2  # both workers ran runs of the one experiment
    last = [max(o.ended for o in outcomes if o.worker == w) for w in workers]
    assert abs(last[0] - last[1]) <= 2 * max(o.seconds for o in outcomes)  # neither idled while runs waited


@pytest.mark.slow
def test_killed_worker_and_stopped_queue_resume_their_run(tmp_path):
    args = ["--jobs", "1", "experiment=table1_grid", *EMBEDDED[:2], "epochs=40", "model=cnn", "method=sgd"]
    args += ["lr=0.01", "checkpoint_every_steps=10", sweep_dir(tmp_path)]
    (item,) = plan([args[2:]])
    run_dir, lease = Path(item.run_dir), Path(item.run_dir) / ".queue-lease"
    command, env = queue_command(args)
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        wait_for((run_dir / "checkpoint.pt").exists, proc, "the first checkpoint")
        first = int(lease.read_text())
        os.kill(first, signal.SIGKILL)  # mid-run: 40 epochs, a checkpoint every 10 steps
        wait_for(lambda: lease.read_text().strip() not in ("", str(first)), proc, "the run was claimed again")
        proc.send_signal(signal.SIGTERM)  # the queue asks its worker to checkpoint and exit
        out, _ = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    assert f"worker {first} ended (signal SIGKILL); starting another" in out
    assert "stopped: 1 runs not finished; run the same command again to resume" in out
    assert (run_dir / "checkpoint.pt").is_file() and not (run_dir / "result.json").exists()
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "table1_grid: 1 runs: 1 complete, 0 diverged, 0 failed, 0 missing" in done.stdout
    assert (run_dir / "train.log").read_text().count("resumed from") == 2  # after the kill, after the stop
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "complete" and result["timing"]["epochs_run"] == 40


@pytest.mark.slow
def test_a_diverging_run_is_a_result_and_the_queue_goes_on(tmp_path):
    items = plan(
        [
            [
                "experiment=table1_grid",
                *EMBEDDED,
                "model=mlp",
                "method=adam",
                "lr=1e30,0.01",
                sweep_dir(tmp_path),
            ]
        ]
    )
    out = io.StringIO()
    finished = run_queue(items, Slots([None], "test"), out)
    assert [finished.outcomes[i].status for i in range(2)] == ["diverged", "complete"]  # the queue went on
    assert summary(items, finished, out) == 0
    text = out.getvalue()
    assert "table1_grid: 2 runs: 1 complete, 1 diverged, 0 failed, 0 missing" in text
    assert f"[1/2] table1_grid: {items[0].run_dir}: diverged in" in text


def test_a_failing_run_is_reported_and_the_exit_code_is_not_zero(tmp_path):
    roots = f"dataset.root={tmp_path}/no-mnist,{tmp_path}/nor-here"
    items = plan(
        [["dataset=mnist", "epochs=1", "dataset.download=false", roots, f"hydra.sweep.dir={tmp_path}/s"]]
    )
    out = io.StringIO()
    finished = run_queue(items, Slots([None], "test"), out)
    assert [o.status for o in finished.outcomes.values()] == ["failed", "failed"]  # one failure stops nothing
    assert summary(items, finished, out) == 1
    text = out.getvalue()
    assert "sweep: 2 runs: 0 complete, 0 diverged, 2 failed, 0 missing" in text
    assert f"failed: {items[0].run_dir}: error: dataset.root:" in text
    assert "the run failed" in items[0].log.read_text()  # with its traceback


def test_the_command_refuses_a_sweep_it_cannot_compose_in_one_line(tmp_path, capsys):
    """``python -m runners.queue`` (its main, in this process): exit code 2, one line, nothing ran."""
    from runners.queue.__main__ import main

    assert main(["--jobs", "1", "--experiments", "table1_grid", "method=nope", sweep_dir(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: method: unknown option 'nope'") and err.count("\n") == 1
    assert not (tmp_path / "sweeps").exists()


def test_plan_puts_larger_runs_first_and_doit_kinds_first_at_equal_size():
    items = plan(
        [
            ["experiment=table1_fixed", "scale=embedded", "seed=0"],  # 5 methods x 2 models, 6 epochs
            ["experiment=table7_one_lr", "scale=embedded", "seed=0", "epochs=12"],  # 1 run
        ]
    )
    assert [i.label for i in items] == ["table7_one_lr"] + ["table1_fixed"] * 10
    assert [i.doit for i in items[1:]] == [True] * 2 + [False] * 8


def test_cpu_workers_are_the_usable_cores():
    assert choose(None, use_gpu=False).gpus == [None] * len(os.sched_getaffinity(0))
    assert choose(3, use_gpu=False).gpus == [None] * 3


def test_gpu_workers_follow_free_memory_and_cores_pinned_when_several(monkeypatch):
    free = {0: 40 * GIB, 1: 10 * GIB}
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free[i], 80 * GIB))
    monkeypatch.setattr(slots, "cores", lambda: 16)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    # GPU 4: 10 runs fit, 8 cores are its share; GPU 6: 2 fit
    assert Counter(choose(None, use_gpu=True, gb_per_run=4).gpus) == {"4": 8, "6": 2}
    assert choose(3, use_gpu=True).gpus == ["4", "6", "4"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert choose(None, use_gpu=True, gb_per_run=4).gpus == [None] * 10  # one GPU: left as the worker sees it
