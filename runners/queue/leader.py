"""The queue's leader: starts the workers, prints a line per finished run, replaces a worker that died,
passes SIGINT/SIGTERM on as a stop request, and ends with a summary per experiment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from runners import preemption
from runners.queue.plan import Item
from runners.queue.slots import Slots, cores
from runners.queue.state import Outcome, QueueState

POLL_S = 0.5
ROOT = Path(__file__).resolve().parents[2]  # workers import the same packages as this process
# with these set, runners.preemption requeues the whole SLURM job on a stop request instead of exiting
SLURM_JOB_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")
RESUME_HINT = (
    "run the same command again to resume (finished runs are re-reported, interrupted ones resume from "
    "their checkpoint.pt)"
)


@dataclass(frozen=True)
class Finished:
    outcomes: dict[int, Outcome]  # by item index; a run without one is missing
    stopped: bool  # by SIGINT/SIGTERM


def run_queue(items: list[Item], slots: Slots, out: TextIO = sys.stdout) -> Finished:
    """Run ``items`` with one worker per slot, printing a line per finished run."""
    gpus = slots.gpus[: len(items)]
    with tempfile.TemporaryDirectory(prefix="doit-queue-") as tmp, StopRequest() as stop:
        state = QueueState(tmp)
        state.write_plan(items)
        workers = {slot: _start(tmp, _env(gpu, len(gpus))) for slot, gpu in enumerate(gpus)}
        printed: set[int] = set()
        restarts = 0
        while workers:
            time.sleep(POLL_S)
            _report(items, state.outcomes(), printed, out)
            stop.pass_on(workers.values(), out)
            for slot, proc in list(workers.items()):
                code = proc.poll()
                if code is None:
                    continue
                del workers[slot]
                unfinished = len(state.outcomes()) < len(items)
                if code != 0 and unfinished and not stop.count and restarts < len(items):
                    print(f"worker {proc.pid} ended ({_how(code)}); starting another", file=out, flush=True)
                    workers[slot] = _start(tmp, _env(gpus[slot], len(gpus)))
                    restarts += 1
        outcomes = state.outcomes()
        _report(items, outcomes, printed, out)
        return Finished(outcomes, bool(stop.count))


class StopRequest:
    """SIGINT/SIGTERM while installed: the first asks the workers to checkpoint and exit, a second kills them."""

    def __init__(self):
        self.count = self._passed = 0

    def __enter__(self) -> StopRequest:
        self._previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum, frame) -> None:
        self.count += 1

    def pass_on(self, procs, out: TextIO) -> None:
        if self.count == self._passed:
            return
        self._passed = self.count
        if self.count == 1:
            sig = preemption.preempt_signal()  # the runner checkpoints at the next step and ends
            print(
                "stopping: no new runs; the running ones write their checkpoints, then the workers exit "
                "(a second Ctrl-C kills them)",
                file=out,
                flush=True,
            )
        else:
            sig = signal.SIGKILL
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(sig)


def summary(items: list[Item], finished: Finished, out: TextIO = sys.stdout) -> int:
    """Per experiment: runs complete, diverged, failed, missing; each failure's reason. The exit code: 1 when
    a run failed or is missing, else 0 (a diverged run is a result)."""
    outcomes = finished.outcomes
    counts: dict[str, Counter] = {}
    for index, item in enumerate(items):
        outcome = outcomes.get(index)
        counts.setdefault(item.label, Counter())[outcome.status if outcome else "missing"] += 1
    for label, c in counts.items():
        print(
            f"{label}: {c.total()} runs: {c['complete']} complete, {c['diverged']} diverged, "
            f"{c['failed']} failed, {c['missing']} missing",
            file=out,
        )
    for index, outcome in sorted(outcomes.items()):
        if outcome.status == "failed":
            item = items[index]
            print(f"failed: {item.run_dir}: {outcome.reason} (log: {item.log})", file=out)
    missing = len(items) - len(outcomes)
    if missing:
        why = "stopped" if finished.stopped else "not run (a worker ended early, or another queue holds them)"
        print(f"{why}: {missing} runs not finished; {RESUME_HINT}", file=out)
    out.flush()
    return 1 if missing or any(o.status == "failed" for o in outcomes.values()) else 0


def _report(items: list[Item], outcomes: dict[int, Outcome], printed: set[int], out: TextIO) -> None:
    """One line per newly finished run: done/total, experiment, run dir, status, seconds (and the reason)."""
    for index in sorted(set(outcomes) - printed):
        printed.add(index)
        outcome, item = outcomes[index], items[index]
        reason = f" ({outcome.reason})" if outcome.reason else ""
        print(
            f"[{len(printed)}/{len(items)}] {item.label}: {item.run_dir}: {outcome.status} in "
            f"{outcome.seconds:.1f} s{reason}",
            file=out,
            flush=True,
        )


def _env(gpu: str | None, n_workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SLURM_JOB_VARS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", str(max(1, cores() // n_workers)))
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def _start(state_dir: str, env: dict[str, str]) -> subprocess.Popen:
    """A worker in its own session: a Ctrl-C in the terminal reaches only the leader, which passes it on."""
    return subprocess.Popen(
        [sys.executable, "-m", "runners.queue.worker", state_dir, str(os.getpid())],
        env=env,
        start_new_session=True,
    )


def _how(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
