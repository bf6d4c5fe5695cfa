"""SIGINT and SIGTERM: checkpoint at the next step boundary, one line saying how to resume, exit
code 130 / 143; the same command then ends exactly like an uninterrupted run.

The signal is real and arrives at a known step: right after the first epoch's ``metrics.jsonl`` is written,
so the run stops at step 42 (the first step of epoch 2) whatever the machine's speed. In the quick tests the
run (``runners.train.main``) signals its own process from that write; the slow ones send it from outside to a
``python -m runners.train``-like subprocess, whose hook (``HOOK``) says when it wrote the first epoch and
waits there until the signal arrived.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, run_main
from faultcheck import assert_same_run, checkpoint_step, cli, one_error_line

from analysis import record
from runners import results
from runners.cli import main

ARGS = ["method=adam", "epochs=3", "progress=off", "plot=false"]
HOOK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from runners import preemption, results
    from runners.cli import main

    marker, args = Path(sys.argv[1]), sys.argv[2:]
    write_jsonl = results.write_jsonl

    def write_then_wait(path, rows):
        write_jsonl(path, rows)
        if not marker.exists():  # the first epoch's rows: tell the test, wait for its signal
            marker.write_text(str(len(rows)))
            deadline = time.monotonic() + 600  # a test that never signals must not hang for ever
            while not preemption.requested() and time.monotonic() < deadline:
                time.sleep(0.01)

    results.write_jsonl = write_then_wait
    sys.exit(main(args))
    """
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main([*ARGS, "seed=0", f"hydra.run.dir={out}"]) == 0
    return out


def _interrupt(args: list[str], marker: Path, sig: signal.Signals) -> subprocess.CompletedProcess:
    """Run ``args`` with the hook, send ``sig`` once the first epoch is written, wait for the end."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOOK, str(marker), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even under a shell that ignores it
    )
    try:
        while not marker.exists() and proc.poll() is None:
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        assert marker.exists(), "the run ended before its first epoch: " + proc.stderr.read()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _interrupt_in_process(args, sig, capsys, monkeypatch) -> subprocess.CompletedProcess:
    """Run ``args`` in this process; the first epoch's write sends ``sig`` to this process."""
    write_jsonl = results.write_jsonl

    def write_then_signal(path, rows):
        write_jsonl(path, rows)
        if len(rows) == 1:
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(results, "write_jsonl", write_then_signal)
    saved = signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # as in a fresh process: the run takes it
    try:
        code, out, err = cli(capsys, args)
    finally:
        signal.signal(signal.SIGINT, saved)
        monkeypatch.setattr(results, "write_jsonl", write_jsonl)
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.mark.parametrize(
    ("sig", "code", "where"),
    [
        (signal.SIGINT, 130, "in process"),
        (signal.SIGTERM, 143, "in process"),
        pytest.param(signal.SIGTERM, 143, "subprocess", marks=pytest.mark.slow),
    ],
)
def test_signal_checkpoints_says_how_to_resume_and_the_rerun_ends_alike(
    sig, code, where, reference, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    args = [*ARGS, "seed=0", f"hydra.run.dir={out}"]
    if where == "subprocess":
        proc = _interrupt(args, tmp_path / "marker", sig)
    else:
        proc = _interrupt_in_process(args, sig, capsys, monkeypatch)
    assert proc.returncode == code, proc.stderr
    assert one_error_line(proc.stderr) == (
        f"error: interrupted by {sig.name} at step 42; {out / 'checkpoint.pt'} holds it: run the same command "
        "to resume"
    )
    assert checkpoint_step(out) == 42 and not (out / "result.json").exists()
    assert main(args) == 0
    assert_same_run(reference, out)


def test_a_signal_stops_a_basic_sweep_and_the_rerun_finishes_it(reference, tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep"
    args = ["-m", *ARGS, "seed=0,1", f"hydra.sweep.dir={sweep}"]
    proc = _interrupt_in_process(args, signal.SIGTERM, capsys, monkeypatch)
    assert proc.returncode == 143, proc.stderr
    line = one_error_line(proc.stderr)
    stopped = re.fullmatch(
        r"error: interrupted by SIGTERM at step 42; (\S+)/checkpoint\.pt holds it: run the same command to resume",
        line,
    )
    assert stopped and Path(stopped.group(1)).name.endswith("seed=0"), line
    assert "stopped at #0, 1 not started" in proc.stdout
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [Path(stopped.group(1)).name]

    again = run_main(args)
    assert again.returncode == 0, again.stderr
    assert f"sweep {sweep}: 2 runs: 2 complete, 0 diverged, 0 failed, 0 missing" in again.stdout
    assert_same_run(reference, Path(stopped.group(1)))


def test_a_signal_after_the_last_step_lets_the_run_finish_then_stops(tmp_path, capsys, monkeypatch):
    """In process: SIGINT while result.json is written; the record is complete, the exit code still 130."""
    out, write_result = tmp_path / "run", results.write_result

    def write_then_interrupt(path, result):
        write_result(path, result)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(results, "write_result", write_then_interrupt)
    saved = signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # as in a fresh process: the run takes it
    try:
        code, _, err = cli(capsys, [*ARGS, f"hydra.run.dir={out}"])
    finally:
        signal.signal(signal.SIGINT, saved)
    assert code == 130
    assert one_error_line(err) == (
        f"error: interrupted by SIGINT after the run ended; {out / 'result.json'} is complete"
    )
    assert record.loads((out / "result.json").read_text()).status == "complete"
