"""Where runs ran: ``provenance.json`` beside result folders brought from other machines, and the ``env``
the runner records (device, torch, commit; some records have none).

A ``provenance.json`` describes every run below its folder (the nearest one above a run wins)::

    {"device": "cuda: NVIDIA H200", "hardware": "...", "concurrent_runs": 15, "date": "2026-12-04",
     "commit": "3bc8a8d", "software": "...", "settings": "...", "deviations": ["...", "..."]}

``device`` reads as ``result.json``'s ``env.device``; every key but ``device`` and ``hardware`` may be
left out. ``scale`` (optional) files the runs under that scale instead of the one they recorded: for runs
made with the settings of that scale under another scale's name; the caption says so. Tables print it in their caption (``describe``); a file that does not read is listed with the
skipped result files, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from analysis import record

NAME = "provenance.json"


@dataclass(frozen=True)
class Provenance:
    device: str  # as env.device: "cpu" or "cuda: <GPU name>"
    hardware: str
    concurrent_runs: int | None = None  # runs that shared the device at once
    date: str | None = None
    commit: str | None = None
    software: str | None = None
    settings: str | None = None  # the runner overrides every run shared
    deviations: tuple[str, ...] = field(default_factory=tuple)  # from the paper's setting, in words
    # the scale these runs stand for where their records name another: runs made with the settings of that
    # scale under another name (e.g. scale=paper experiments run with the overrides of scale=gpu)
    scale: str | None = None


def parse(text: str) -> Provenance:
    """The record of one ``provenance.json``; ``ValueError`` names the key and the problem."""
    data = record.strict_json(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    known = {f.name for f in fields(Provenance)}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"unknown keys {', '.join(unknown)}")
    for name in ("device", "hardware"):
        if not isinstance(data.get(name), str):
            raise ValueError(f"{name}: expected a string")
    for name in ("date", "commit", "software", "settings", "scale"):
        if not isinstance(data.get(name, ""), str):
            raise ValueError(f"{name}: expected a string")
    runs = data.get("concurrent_runs")
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
        raise ValueError("concurrent_runs: expected a positive integer")
    notes = data.get("deviations", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ValueError("deviations: expected a list of strings")
    return Provenance(**{**data, "deviations": tuple(notes)})


def find(root: Path, run_dir: Path) -> Path | None:
    """The nearest ``provenance.json`` in ``run_dir`` or a folder above it, up to ``root``; named from
    ``root`` as given (``results/<name>/provenance.json``)."""
    top, here = root.resolve(), run_dir.resolve()
    while True:
        if (here / NAME).is_file():
            return root / (here / NAME).relative_to(top) if here.is_relative_to(top) else here / NAME
        if here == top or here.parent == here:
            return None
        here = here.parent


def attach(runs: pd.DataFrame, root: str | Path) -> tuple[dict[str, Provenance], list[tuple[str, str]]]:
    """Fill ``runs["provenance"]`` (the file describing each run under ``root``, or None) in place; return
    the files that read and the ``(path, why)`` of those that did not (their runs get None). A file with
    ``scale`` files its runs under that scale."""
    read, skipped, names = {}, [], []
    for path in runs["path"]:
        found = find(Path(root), Path(path))
        key = None if found is None else str(found)
        if key is not None and key not in read and key not in dict(skipped):
            try:
                read[key] = parse(found.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:
                skipped.append((key, f"invalid provenance file: {err}"))
        names.append(key if key in read else None)
    runs["provenance"] = pd.Series(names, index=runs.index, dtype=object)
    for key, p in read.items():
        if p.scale is not None:
            runs.loc[runs["provenance"] == key, "scale"] = p.scale
    return read, skipped


def device(run: pd.Series, files: dict[str, Provenance]) -> str | None:
    """The device a run ran on: its recorded ``env.device``, else its provenance file's."""
    if isinstance(run.get("device"), str):
        return run["device"]
    found = files.get(run.get("provenance"))
    return None if found is None else found.device


def _runs(n: int) -> str:
    return f"{n} run" + ("" if n == 1 else "s")


def describe(runs: pd.DataFrame, files: dict[str, Provenance]) -> list[str]:
    """Caption lines: the devices and commits the runs recorded, then each provenance file behind them."""
    lines = []
    for name, column in (("device", "device"), ("commit", "commit")):
        recorded = runs[column].dropna() if column in runs else pd.Series(dtype=object)
        if not recorded.empty:
            counts = ", ".join(f"{v} ({_runs(n)})" for v, n in recorded.value_counts().items())
            lines.append(f"{name} recorded by {len(recorded)} of {len(runs)} runs: {counts}")
    keys = sorted(runs["provenance"].dropna().unique()) if "provenance" in runs else []
    for key in (k for k in keys if k in files):
        p = files[key]
        parts = [p.hardware, f"device {p.device}"]
        if p.concurrent_runs:
            parts.append(f"{p.concurrent_runs} runs at a time on it")
        if p.scale:
            parts.append(f"read as scale {p.scale}")
        parts += [f"commit {p.commit}" if p.commit else "", p.date or "", p.software or ""]
        n = int((runs["provenance"] == key).sum())
        line = f"{_runs(n)} described by {key}: " + "; ".join(x for x in parts if x)
        if p.deviations:
            line += ". Its notes: " + "; ".join(p.deviations)
        lines.append(line)
    return lines
