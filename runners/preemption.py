"""Preemption handling: checkpoint at the next step boundary, then requeue.

SLURM announces preemption and the end of the time limit with a signal (submitit's
``--signal=USR2@<signal_delay_s>``; ``SUBMITIT_PREEMPT_SIGNAL`` picks another one). submitit
installs a USR2 handler (``SignalHandler.checkpoint_and_try_requeue``) that pickles a resubmission
(Hydra's launcher resubmits the same arguments), runs ``scontrol requeue`` and exits at once, from
the middle of a training step. :func:`install` replaces that handler by one that only sets a flag;
the loop polls :func:`requested` at every step boundary, writes ``checkpoint.pt`` into its own
(stable) output dir and calls :func:`after_checkpoint`, which hands over to submitit's saved handler
(requeue + exit), or requeues with ``scontrol`` under plain ``sbatch``, or exits with a message.
The requeued job reruns the same arguments, finds ``checkpoint.pt`` and resumes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from submitit.core.job_environment import SignalHandler

log = logging.getLogger(__name__)

_requested = False
_signum: int | None = None
_previous: Callable[[int, Any], Any] | int | None = None


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
    log.warning(
        "Caught %s: checkpointing at the next step boundary, then requeueing", signal.Signals(signum).name
    )


def install() -> None:
    """Route the preemption signal to a flag (call once at task start, in the main thread)."""
    global _previous
    if threading.current_thread() is not threading.main_thread():
        log.warning("preemption.install() outside the main thread: signals stay with their old handlers")
        return
    sig = preempt_signal()
    current = signal.getsignal(sig)
    if current is not _on_signal:
        _previous = current
        signal.signal(sig, _on_signal)


def requested() -> bool:
    """True once the preemption signal arrived; the loop then checkpoints and calls after_checkpoint()."""
    return _requested


def _slurm_job_id() -> str | None:
    array_job, array_task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and array_task:
        return f"{array_job}_{array_task}"
    return os.environ.get("SLURM_JOB_ID")


def after_checkpoint() -> None:
    """Hand over after the checkpoint was written: requeue the job and end this process (never returns).

    Inside a submitit job, submitit's own handler runs (it counts time-outs against
    ``max_num_timeout``, requeues with ``scontrol requeue``, or restarts a ``submitit_local`` task).
    Under plain ``sbatch`` the job requeues itself. Elsewhere the process exits with a message.
    """
    signum = _signum if _signum is not None else preempt_signal()
    if isinstance(getattr(_previous, "__self__", None), SignalHandler):
        log.info("Checkpoint written; handing over to submitit for the requeue")
        _previous(signum, None)  # type: ignore[operator]  # requeues, then sys.exit(); raises if it can't
        raise SystemExit(f"submitit did not requeue after {signal.Signals(signum).name}; see the log above")
    job = _slurm_job_id()
    if job:
        # plain sbatch: `scontrol requeue` ends this job and queues its original script again
        result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise SystemExit(
                f"scontrol requeue {job} failed ({result.stderr.strip()}); "
                "the checkpoint is saved: resubmit the same command to resume"
            )
        log.info("Checkpoint written; SLURM job %s requeued", job)
        sys.exit(0)
    raise SystemExit(
        f"Stopped by {signal.Signals(signum).name} after writing the checkpoint; "
        "run the same command with the same output dir to resume"
    )
