"""Result files of one run (docs/architecture.md): atomic writers and strict JSON.

Every file is written to a temporary name in the same directory (``.<name>.<random>.tmp``, created like
``open()`` does, so its mode follows the umask and default ACLs), flushed to disk, and moved into place
with ``os.replace``: a killed run never leaves a half-written file, only at most a ``.tmp`` file that
``runners.rundir.prepare`` deletes at the next start. A write that fails (no space, I/O error, permission,
read-only file system) removes its temporary file, leaves the previous version in place and raises
``runners.faults.WriteFailed`` naming the file, also where ``torch.save`` reports a full disk as a
``RuntimeError``. JSON is strict: no bare ``NaN``/``Infinity``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from analysis.record import EpochMetrics, Result, dumps, epochs_text
from runners.faults import WriteFailed

SWITCHES_HEADER = ["cycle", "step", "config", "phase", "score", "recovered"]


def tmp_name(path: Path) -> Path:
    """A fresh temporary name next to ``path``: ``.<name>.<random>.tmp`` (what ``rundir.prepare`` cleans)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


class _Recording:
    """The temporary file, remembering the ``OSError`` a write raised (``torch.save`` turns it into a
    ``RuntimeError``; the kernel's reason survives here)."""

    def __init__(self, fh: IO):
        self._fh, self.error = fh, None

    def write(self, data):
        try:
            return self._fh.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name: str):
        return getattr(self._fh, name)


def _open_tmp(path: Path) -> tuple[int, Path]:
    """A new temporary file next to ``path``: ``(descriptor, name)``; ``WriteFailed`` if none can be made."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = tmp_name(path)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as err:
            raise WriteFailed(path, err) from None


@contextlib.contextmanager
def atomic(path: Path, binary: bool = False) -> Iterator[IO]:
    """Write ``path`` atomically: yield a file on a new temporary name, fsync it, ``os.replace`` it into place.

    The temporary file is created with ``O_CREAT | O_EXCL`` and mode 0o666, so the kernel applies the umask
    (and any default ACL) exactly as for ``open(path, "w")``; ``tempfile.mkstemp`` would make it 0600.
    ``WriteFailed`` when creating, writing, syncing or renaming fails; any other error of the caller's
    body (a bug, a read error of its source) passes unchanged. Either way the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = _open_tmp(path)
    recording, body_done = None, False
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            recording = _Recording(fh)
            yield recording
            body_done = True
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):  # a file system gone read-only cannot unlink it either
            tmp.unlink(missing_ok=True)
        cause = recording.error if recording is not None else None
        if cause is None and body_done and isinstance(err, OSError):
            cause = err
        if cause is not None:
            raise WriteFailed(path, cause) from None
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic(path) as fh:
        fh.write(text)


def write_json(path: Path, obj) -> None:
    """Strict JSON (``ValueError`` on a non-finite float: use ``write_result`` / ``strict_row`` first)."""
    write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def write_result(path: Path, result: Result) -> None:
    """Write ``result.json`` from an ``analysis.record.Result`` (strict JSON, non-finite floats listed)."""
    write_text(path, dumps(result))


def write_jsonl(path: Path, epochs: Iterable[EpochMetrics]) -> None:
    """``metrics.jsonl``: one strict-JSON ``analysis.record.EpochMetrics`` a line (``record.epochs_text``)."""
    write_text(path, epochs_text(epochs))


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def switches_rows(log: list[dict], labels: list[str]) -> tuple[list[str], list[list]]:
    """``switches.csv`` header and rows from DOIT's per-cycle log (one row per cycle)."""
    header = SWITCHES_HEADER + [f"{what}[{lab}]" for lab in labels for what in ("mean", "sd", "acq")]
    rows = []
    for rec in log:
        cand = {c["config"]: c for c in rec.get("candidates") or []}
        row = [rec["cycle"], rec["step"], rec["config"], rec["phase"], rec["score"], rec["recovered"]]
        for lab in labels:
            c = cand.get(lab)
            row += [c["mean"], c["sd"], c["acq"]] if c else ["", "", ""]
        rows.append(row)
    return header, rows


def write_switches(path: Path, log: list[dict], labels: list[str]) -> None:
    header, rows = switches_rows(log, labels)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    write_text(path, buf.getvalue())
