"""``python -m runners.queue.worker STATE_DIR LEADER_PID``: one long-lived worker of a queue (its leader
starts it).

The worker claims the first run of the plan that has no outcome and whose lease is free, runs it in this
process through ``runners.train.run`` (the run's log lines, stdout and stderr are appended to
``<run dir>/train.log``, Hydra's job log), records its outcome and claims again, until nothing is left.
A run that fails or diverges is recorded and the worker goes on. A stop request (the preemption signal,
which the leader sends, or SIGTERM) makes the current run write its checkpoint and the worker exit with no
outcome for it; the leader's death makes the worker exit before its next claim.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from runners import config, errors, faults, preemption
from runners.queue import lease
from runners.queue.plan import Item
from runners.queue.state import Outcome, QueueState
from runners.schema import ConfigError
from runners.train import run

LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"  # Hydra's job log format
MAX_CLAIMS = 3  # a run whose worker died while running it this often is recorded as failed
log = logging.getLogger("runners.queue")


def main(argv: list[str]) -> int:
    state, leader = QueueState(argv[0]), int(argv[1])
    preemption.install()
    signal.signal(signal.SIGTERM, signal.getsignal(preemption.preempt_signal()))
    logging.getLogger().setLevel(logging.INFO)
    items = state.items()
    while not preemption.requested() and os.getppid() == leader:
        claimed = claim(state, items)
        if claimed is None:
            return 0
        index, held = claimed
        with held:
            outcome = attempt(state, index, items[index])
            if outcome is None:  # stopped mid-run: its checkpoint is written, a rerun resumes it
                return 0
            state.record(index, outcome)
    return 0


def claim(state: QueueState, items: list[Item]) -> tuple[int, lease.Lease] | None:
    """The first unfinished item whose lease this worker could take, with the lease; None if there is none."""
    for index, item in enumerate(items):
        if state.finished(index):
            continue
        try:
            held = lease.take(item.run_dir)
        except OSError as err:
            now = time.time()
            state.record(
                index, Outcome("failed", f"run dir {item.run_dir}: {err}", 0.0, os.getpid(), now, now)
            )
            continue
        if held is None:
            continue
        if state.finished(index):  # another worker finished it between the first look and the lease
            held.release()
            continue
        return index, held
    return None


def attempt(state: QueueState, index: int, item: Item) -> Outcome | None:
    """Run ``item`` (holding its lease); None when a stop request interrupted it."""
    started, claims = time.time(), state.count_claim(index)
    if claims > MAX_CLAIMS:
        status, reason = "failed", f"its worker died during this run {claims - 1} times (out of memory?)"
    else:
        with _run_log(item.log):
            log.info("queue worker %d: claim %d of this run", os.getpid(), claims)
            try:
                status, reason = _run(item)
            except (SystemExit, faults.Interrupted) as exit_:
                if preemption.requested():
                    log.info("stopped; the same command resumes this run from its checkpoint")
                    return None
                status, reason = "failed", f"exited: {exit_}"
    ended = time.time()
    return Outcome(status, reason, ended - started, os.getpid(), started, ended)


def _run(item: Item) -> tuple[str, str]:
    """``(status, reason)`` of one run, composed as the multirun composes it."""
    try:
        cfg, choices = config.compose(item.overrides)
        result = run(cfg, Path(item.run_dir), choices)
    except Exception as err:  # one failing run never stops the queue: its reason is its outcome
        log.exception("the run failed")
        return "failed", _reason(err)
    if result.status == "diverged":
        return "diverged", f"diverged at step {result.diverged_step}"
    return "complete", ""


def _reason(err: Exception) -> str:
    if (known := faults.one_line(err)) is not None:
        return f"error: {known[0]}"
    if isinstance(err, ConfigError | HydraException | OmegaConfBaseException):
        return f"error: {errors.error_line(err)}"
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


@contextlib.contextmanager
def _run_log(path: Path) -> Iterator[None]:
    """Log lines, stdout and stderr of the run appended to ``path``."""
    with (
        open(path, "a", encoding="utf-8") as fh,
        contextlib.redirect_stdout(fh),
        contextlib.redirect_stderr(fh),
    ):
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(handler)
        try:
            yield
        finally:
            logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
