"""What stops a run besides its config: the exceptions ``runners.train.run`` raises, each with its one line.

``run(cfg, out_dir, choices)`` returns the run's record (``status`` complete or diverged) or raises:

- ``runners.schema.ConfigError``: a user error (a config value, the run dir, a dataset that changed under
  a checkpoint); exit code 2;
- ``WriteFailed`` (an ``OSError``): an artefact could not be written (no space, I/O error, permission,
  read-only file system); exit code 1;
- ``OutOfMemory``: GPU memory ran out in a training step, an evaluation or the setup; exit code 1;
- ``Interrupted`` (a ``BaseException``, like ``KeyboardInterrupt``): SIGINT, SIGTERM (or the preemption
  signal outside SLURM) after the checkpoint at the next step boundary; exit code 128 + the signal number.

``str(err)`` is the line to show (``error: <line>``); ``one_line`` gives it with the exit code. The last
good checkpoint and result files are intact in every case. ``RunExit`` carries the line to the CLI's edge;
``SweepIncomplete`` ends a sweep with a failed or missing run.
"""

from __future__ import annotations

import errno
import re
import signal

from hydra.errors import CompactHydraException

INTERRUPTED = "interrupted by "  # how an Interrupted line starts (sweeps count such runs as missing)
_ADVICE = {
    errno.ENOSPC: "free space",
    errno.EDQUOT: "free space (disk quota)",
    errno.EROFS: "make the file system writable",
    errno.EACCES: "restore write permission",
    errno.EPERM: "restore write permission",
    errno.EIO: "check the disk",
}


class RunFailed(Exception):
    """A run stopped by a fault outside its config; ``str(err)`` is the one line."""

    exit_code = 1


class WriteFailed(RunFailed, OSError):
    """Writing ``filename`` failed with ``errno``/``strerror``; the file's previous version is intact."""

    def __init__(self, path, err: OSError):
        OSError.__init__(self, err.errno, err.strerror or str(err), str(path))

    def __reduce__(self):  # picklable (a work queue may hand it between processes)
        return type(self), (self.filename, OSError(self.errno, self.strerror))

    def __str__(self) -> str:
        reason = f"{self.strerror} (errno {self.errno})" if self.errno else self.strerror
        advice = _ADVICE.get(self.errno, "fix the cause")
        return f"cannot write {self.filename}: {reason}; {advice} and rerun the same command to resume"


class OutOfMemory(RunFailed):
    """GPU memory ran out ``where`` (a training step, an evaluation, the setup); ``detail`` is torch's size."""

    def __init__(self, where: str, detail: str = "", advice: str = ""):
        self.where, self.detail, self.advice = where, detail, advice
        super().__init__(f"GPU out of memory in {where}{f'; {detail}' if detail else ''}{advice}")

    def __reduce__(self):
        return type(self), (self.where, self.detail, self.advice)


def out_of_memory(err: BaseException, where: str) -> OutOfMemory:
    """``OutOfMemory`` naming ``where`` and the size torch's ``OutOfMemoryError`` says it tried to allocate."""
    size = re.search(r"Tried to allocate ([\d.]+ \w+)", str(err))
    return OutOfMemory(where, f"tried to allocate {size.group(1)}" if size else "")


class Interrupted(BaseException):
    """A signal stopped the run after its checkpoint (a ``BaseException``: no ``except Exception`` swallows it)."""

    def __init__(self, signum: int, detail: str = ""):
        self.signum, self.detail, self.exit_code = int(signum), detail, 128 + int(signum)
        super().__init__(f"{INTERRUPTED}{signal.Signals(signum).name}{detail}")

    def __reduce__(self):
        return type(self), (self.signum, self.detail)


class SweepIncomplete(CompactHydraException):
    """Some runs of a sweep failed or are missing (``hydra_plugins.doit_launchers.report``); the message is
    the sweep's one line. Defined here, not with the launchers: Hydra's plugin scan executes their modules
    a second time, which would make a class defined there a different one for ``runners.train.main``."""


class RunExit(SystemExit):
    """The end of a CLI run that did not complete: ``line`` for stderr (``error: <line>``) and the exit code."""

    def __init__(self, line: str, code: int):
        super().__init__(code)
        self.line = line

    def __reduce__(self):
        return type(self), (self.line, self.code)


def one_line(err: BaseException) -> tuple[str, int] | None:
    """``(line, exit code)`` of a fault ``run`` raises, or None for anything else (a bug: keep its traceback)."""
    from runners.schema import ConfigError

    if isinstance(err, ConfigError):
        return str(err), 2
    if isinstance(err, RunFailed | Interrupted):
        return str(err), err.exit_code
    return None


def os_error_line(err: OSError) -> str:
    """One line for an ``OSError`` raised outside the runner's writers (Hydra's own files)."""
    if err.filename is not None and err.errno in _ADVICE:
        return str(WriteFailed(err.filename, err))
    where = f"{err.filename}: " if err.filename is not None else ""
    return f"{where}{err.strerror or err} (errno {err.errno})" if err.errno else f"{where}{err}"
