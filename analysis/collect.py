"""Find and load run results (``result.json``, ``analysis.record``) under a results root.

Every file is read through ``record.loads`` (the record's own validation); a file that is not a
regular file, unreadable, not UTF-8, not valid JSON or not a valid record, a broken link, a link loop
and a duplicate run are listed in ``skipped`` with the reason, never fatal. Each valid record becomes
one flat row, columns named after the record's fields (``dataclasses.fields``), so a new record
field needs no change here. ``config`` (the free-form composed config) is never read.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import provenance, record

MAX_BYTES = 64 * 2**20
# The sections flattened into a row (``None`` sections give empty columns); ``config`` is left out.
SECTIONS = {
    "run": record.RunInfo,
    "hyper": record.Hyper,
    "metrics": record.Metrics,
    "timing": record.Timing,
    "doit": record.DoitSummary,
    "env": record.Environment,
}
TOP = ("status", "diverged_step", "nonfinite")


def _columns(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


COLUMNS = [c for cls in SECTIONS.values() for c in _columns(cls)] + list(TOP)
assert len(COLUMNS) == len(set(COLUMNS)), "record sections share a field name: flattening would mix them"
# Identity of one run inside a table (what was run: every run and hyper field); a second valid record
# with the same identity is a duplicate.
IDENTITY = _columns(record.RunInfo) + _columns(record.Hyper)


@dataclass
class Collection:
    """Loaded runs (one row per run), the files that were skipped (with the reason) and the provenance
    files that describe runs (``runs["provenance"]`` names each run's)."""

    runs: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)
    provenance: dict[str, provenance.Provenance] = field(default_factory=dict)


def read_text(path: str | Path, limit: int = MAX_BYTES) -> tuple[str | None, str]:
    """``(text, "")`` of a regular UTF-8 file, or ``(None, why)``: never blocks on a FIFO or device."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return None, f"unreadable: {err.strerror}"
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file (FIFO, device or socket)"
        if st.st_size > limit:
            return None, f"too large: {st.st_size} bytes (limit {limit})"
        try:
            data = fh.read(limit + 1)
        except OSError as err:
            return None, f"unreadable: {err.strerror}"
    if b"\0" in data:
        return None, "binary file (NUL bytes)"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as err:
        return None, f"not UTF-8 text (byte {err.start})"


def find(root: str | Path, name: str = "result.json") -> tuple[list[str], list[tuple[str, str]]]:
    """Files called ``name`` under ``root``, following directory links once (after every real directory);
    broken links and link loops (and directories reached twice) are returned as ``(path, why)``."""
    found, skipped, seen, stack, links = [], [], set(), [str(root)], []
    while stack or links:
        directory = stack.pop() if stack else links.pop()
        try:
            st = os.stat(directory)
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            skipped.append((directory, f"unreadable directory: {err.strerror}"))
            continue
        if (st.st_dev, st.st_ino) in seen:
            skipped.append(
                (directory, "link to a directory already searched (link loop or second link): not followed")
            )
            continue
        seen.add((st.st_dev, st.st_ino))
        subdirs, linked = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                if entry.is_symlink():
                    os.stat(entry.path)  # raises for a broken link or a link loop
            except OSError as err:
                why = "link loop" if err.errno == errno.ELOOP else "broken link"
                skipped.append((entry.path, f"{why}: {os.readlink(entry.path)!r} ({err.strerror})"))
                continue
            if is_dir:
                (linked if entry.is_symlink() else subdirs).append(entry.path)
            elif entry.name == name:
                found.append(entry.path)
        stack.extend(reversed(subdirs))
        links.extend(reversed(linked))
    return sorted(found), skipped


def _cell(value):
    """Dicts and lists as sorted JSON text, so a row's values are hashable and comparable."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def flatten(result: record.Result, path: str | Path) -> dict:
    """One row: every field of every section (``None`` where the section is absent), path and mtime."""
    row = {}
    for section, cls in SECTIONS.items():
        part = getattr(result, section)
        row.update({c: (None if part is None else _cell(getattr(part, c))) for c in _columns(cls)})
    row.update({c: _cell(getattr(result, c)) for c in TOP})
    row["path"] = str(Path(path).parent)
    try:
        row["mtime"] = os.stat(path).st_mtime
    except OSError:
        row["mtime"] = 0.0
    return row


def load(path: str) -> tuple[record.Result | None, str]:
    """``(record, "")`` or ``(None, why)`` for one file; never raises for what the file holds."""
    text, why = read_text(path)
    if text is None:
        return None, why
    try:
        result = record.loads(text)
    except record.RecordError as err:
        return None, f"invalid record: {err}"
    return result, ""


def load_results(*roots: str | Path) -> Collection:
    """Every ``result.json`` under each root (recursively), flattened, with the ``provenance.json`` that
    describes it; bad files go to ``skipped``; a run found under two roots counts once (the newer)."""
    rows, skipped, files = [], [], {}
    for root in roots:
        paths, missed = find(root)
        skipped += missed
        found = []
        for path in paths:
            result, why = load(path)
            if result is None:
                skipped.append((path, why))
            else:
                found.append(flatten(result, path))
        part = pd.DataFrame(found, columns=COLUMNS + ["path", "mtime", "provenance"])
        read, bad = provenance.attach(part, Path(root))
        files |= read
        skipped += bad
        rows += part.to_dict("records")
    runs = pd.DataFrame(rows, columns=COLUMNS + ["path", "mtime", "provenance"])
    if runs.empty:
        return Collection(runs, skipped, files)
    runs = runs.sort_values("mtime", kind="stable")
    key = runs[IDENTITY].apply(
        lambda r: json.dumps([None if pd.isna(v) else v for v in r], default=str), axis=1
    )
    dup = key.duplicated(keep="last")
    keep_path = dict(zip(key[~dup], runs.loc[~dup, "path"], strict=True))
    skipped += [
        (f"{p}/result.json", f"duplicate run: newer copy in {keep_path[k]}")
        for p, k in zip(runs.loc[dup, "path"], key[dup], strict=True)
    ]
    return Collection(runs[~dup].reset_index(drop=True), skipped, files)
