"""A worker's lease on a run: an exclusive ``fcntl.flock`` on ``<run dir>/.queue-lease``.

The kernel drops the lock when its holder exits, however it exits (SIGKILL included), so a killed worker's
run is free for the next claim, which resumes it from its ``checkpoint.pt``. The lease lives in the run dir,
not in one queue's state, so two queues over the same results never run the same run at once. While held,
the file names its holder's process id.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

NAME = ".queue-lease"


class Lease:
    def __init__(self, fd: int):
        self._fd = fd

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the last descriptor drops the lock


def take(run_dir: Path | str) -> Lease | None:
    """The lease on ``run_dir`` (created if needed), or None when another process holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return Lease(fd)
