"""Signals: checkpoint at the next step boundary, then requeue (preemption) or stop (SIGINT, SIGTERM).

SLURM announces preemption and the end of the time limit with a signal (submitit's
``--signal=USR2@<signal_delay_s>``; ``SUBMITIT_PREEMPT_SIGNAL`` picks another one). submitit
installs a USR2 handler (``SignalHandler.checkpoint_and_try_requeue``) that pickles a resubmission
(Hydra's launcher resubmits the same arguments), runs ``scontrol requeue`` and exits at once, from
the middle of a training step. :func:`install` replaces that handler by one that only sets a flag;
the loop polls :func:`requested` at every step boundary, writes ``checkpoint.pt`` into its own
(stable) output dir and calls :func:`after_checkpoint`, which hands over to submitit's saved handler
(requeue + exit), or requeues with ``scontrol`` under plain ``sbatch``, or exits with a message.
The requeued job reruns the same arguments, finds ``checkpoint.pt`` and resumes.

SIGINT and SIGTERM take the same path where nobody else claimed them (Python's default handlers; submitit
bypasses SIGTERM, which SLURM sends before USR2 on preemption): the flag, the checkpoint, then
``runners.faults.Interrupted`` (exit code 128 + the signal). A second one acts at once, as without us.
``handled()`` installs all this for one run and puts the old handlers back afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from submitit.core.job_environment import SignalHandler

from runners.faults import Interrupted

log = logging.getLogger(__name__)

_requested = False
_signum: int | None = None
_previous: Callable[[int, Any], Any] | int | None = None
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stop_previous: dict[int, Any] = {}  # their handlers before install(): restored by the first one


def preempt_signal() -> signal.Signals:
    """The preemption signal: ``SIGUSR2`` unless ``SUBMITIT_PREEMPT_SIGNAL`` names another."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    try:
        return signal.Signals["SIG" + name]
    except KeyError:
        raise ValueError(
            f"SUBMITIT_PREEMPT_SIGNAL={name!r} is not a signal name; use e.g. USR2 (the default)"
        ) from None


def _on_signal(signum: int, frame: Any) -> None:
    global _requested, _signum
    _requested, _signum = True, signum
    name = signal.Signals(signum).name
    if signum in _stop_previous:
        signal.signal(signum, _stop_previous.pop(signum))  # a second one acts at once
        log.warning(
            "Caught %s: checkpointing at the next step boundary, then stopping (again: stop now)", name
        )
    else:
        log.warning("Caught %s: checkpointing at the next step boundary, then requeueing", name)


def install() -> None:
    """Route the preemption signal, and SIGINT/SIGTERM where unclaimed, to a flag (main thread only)."""
    global _previous
    if threading.current_thread() is not threading.main_thread():
        log.warning("preemption.install() outside the main thread: signals stay with their old handlers")
        return
    sig = preempt_signal()
    current = signal.getsignal(sig)
    if current is not _on_signal:
        _previous = current
        signal.signal(sig, _on_signal)
    for stop in STOP_SIGNALS:
        current = signal.getsignal(stop)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            _stop_previous[stop] = current
            signal.signal(stop, _on_signal)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """``install()`` for one run: afterwards each signal has its old handler again and the flag is down
    (the next run in the same process, e.g. of a basic-launcher sweep, starts afresh)."""
    global _requested, _signum
    install()
    try:
        yield
    finally:
        if threading.current_thread() is threading.main_thread():
            sig = preempt_signal()
            if signal.getsignal(sig) is _on_signal and _previous is not None:
                signal.signal(sig, _previous)
            for stop, previous in _stop_previous.items():
                if signal.getsignal(stop) is _on_signal:
                    signal.signal(stop, previous)
            _stop_previous.clear()
        _requested, _signum = False, None


def requested() -> bool:
    """True once a handled signal arrived; the loop then checkpoints and calls after_checkpoint()."""
    return _requested


def requested_signal() -> int | None:
    """The signal that set the flag (None: none arrived)."""
    return _signum if _requested else None


def _slurm_job_id() -> str | None:
    array_job, array_task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and array_task:
        return f"{array_job}_{array_task}"
    return os.environ.get("SLURM_JOB_ID")


def _shield_requeue() -> None:
    """Ignore SIGTERM from here on, in this process and in the `scontrol requeue` it starts (an ignored
    signal stays ignored across exec). The checkpoint is on disk and the process exits next; a SIGTERM must
    not kill scontrol half-way: preemption's own arriving late, or the requeue ending this job while
    scontrol still runs."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def after_checkpoint() -> None:
    """Hand over after the checkpoint was written: requeue the job or stop (never returns).

    SIGINT and SIGTERM raise ``Interrupted``. The preemption signal: inside a submitit job, submitit's own
    handler runs (it counts time-outs against ``max_num_timeout``, requeues with ``scontrol requeue``, or
    restarts a ``submitit_local`` task); under plain ``sbatch`` the job requeues itself; elsewhere it raises
    ``Interrupted``.
    """
    signum = _signum if _signum is not None else preempt_signal()
    if signum != preempt_signal():
        raise Interrupted(signum)
    if isinstance(getattr(_previous, "__self__", None), SignalHandler):
        log.info("Checkpoint written; handing over to submitit for the requeue")
        _shield_requeue()
        _previous(signum, None)  # type: ignore[operator]  # requeues, then sys.exit(); raises if it can't
        raise SystemExit(f"submitit did not requeue after {signal.Signals(signum).name}; see the log above")
    job = _slurm_job_id()
    if job:
        # plain sbatch: `scontrol requeue` ends this job and queues its original script again
        _shield_requeue()
        result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            reason = result.stderr.strip() or f"exit status {result.returncode}"
            raise SystemExit(
                f"scontrol requeue {job} failed ({reason}); "
                "the checkpoint is saved: resubmit the same command to resume"
            )
        log.info("Checkpoint written; SLURM job %s requeued", job)
        sys.exit(0)
    raise Interrupted(signum)
