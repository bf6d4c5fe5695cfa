"""The recorded settings of a run against its experiment's paper setting: which runs may share a table
(``groups``) or a cell (``variants``), and the caption's list of every difference (``deviations``).

Every run records epochs, batch size, pre-training and training-set size (``SHARED``): a table holds one
value of each, so a table whose runs differ is rendered once per settings group. Switching runs also
record tau and n_ini (``SWITCHING``): a cell whose runs differ there shows one row per value.
"""

from __future__ import annotations

import math

import pandas as pd

SHARED = ("epochs", "batch_size", "pretrained", "train_size")
SWITCHING = ("tau", "n_ini")
SETTINGS = SHARED + SWITCHING
NAMES = {
    "epochs": "epochs",
    "batch_size": "batch size",
    "pretrained": "pre-training",
    "train_size": "training set",
    "tau": "tau",
    "n_ini": "n_ini",
}
# how ``python -m runners.train`` sets each (the missing-run commands of a settings group)
OVERRIDES = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "pretrained": "model.pretrained",
    "train_size": "dataset.train_size",
    "tau": "method.tau",
    "n_ini": "method.n_ini",
}


def value(v):
    """A recorded value as plain Python: None for a missing one, an int for a whole float (pandas turns an
    int column with gaps into floats)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v.item() if hasattr(v, "item") else v


def of(run: pd.Series, names=SETTINGS) -> dict:
    return {name: value(run[name]) for name in names}


def _order(values: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0) for v in values)


def _split(runs: pd.DataFrame, names: tuple[str, ...]) -> list[tuple[dict, pd.DataFrame]]:
    keys = runs.apply(lambda r: tuple(value(r[n]) for n in names), axis=1) if not runs.empty else []
    parts = {}
    for index, key in zip(runs.index, keys, strict=True):
        parts.setdefault(key, []).append(index)
    return [(dict(zip(names, key, strict=True)), runs.loc[idx]) for key, idx in parts.items()]


def groups(runs: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """The runs split by their ``SHARED`` settings (one table each), smallest values first."""
    return sorted(_split(runs, SHARED), key=lambda part: _order(tuple(part[0].values())))


def variants(cell: pd.DataFrame, paper: dict) -> list[tuple[dict, pd.DataFrame]]:
    """A cell's runs split by tau and n_ini; the first (the row the comparisons use) has the most runs,
    then the paper's values, then the smallest."""
    parts = _split(cell, SWITCHING)
    return sorted(
        parts,
        key=lambda p: (
            -len(p[1]),
            p[0] != {n: paper.get(n) for n in SWITCHING},
            _order(tuple(p[0].values())),
        ),
    )


def _words(name: str, v) -> str | None:
    if name == "pretrained":
        return {True: "pre-trained", False: "from scratch"}.get(v, "pre-training not recorded")
    if name == "train_size":
        return "the full training set" if v is None else f"a training subset of {v:,} examples"
    return None


def text(name: str, v) -> str:
    """One setting in words: ``epochs 3``, ``from scratch``, ``a training subset of 24,000 examples``."""
    return _words(name, v) or f"{NAMES[name]} {v}"


def label(setting: dict) -> str:
    """``tau 10, n_ini 5``: a variant row's or settings group's values, in words."""
    return ", ".join(text(n, v) for n, v in setting.items())


def slug(setting: dict) -> str:
    """A file-name part for a settings group: ``epochs-3_scratch``."""
    words = {"pretrained": {True: "pretrained", False: "scratch"}}
    parts = [words[n].get(v, "pretrained-unknown") if n in words else f"{n}-{v}" for n, v in setting.items()]
    return "_".join(p.replace("_", "-") for p in parts)


def deviations(seen: list[tuple[str, dict, dict]]) -> list[str]:
    """Every recorded setting that differs from the paper's, from ``(row label, run settings, paper
    settings)`` triples: ``epochs 3 (paper: 100)``, with the rows it holds for when not all of them.
    A setting the paper's experiment does not have (tau of a single optimizer) is no difference."""
    rows = list(dict.fromkeys(row for row, _, _ in seen))
    found: dict[tuple[str, object, object], list[str]] = {}
    for row, ran, paper in seen:
        for name in SETTINGS:
            if name in SWITCHING and (ran[name] is None or paper[name] is None):
                continue
            if ran[name] != paper[name]:
                found.setdefault((name, ran[name], paper[name]), [])
                if row not in found[(name, ran[name], paper[name])]:
                    found[(name, ran[name], paper[name])].append(row)
    out = []
    for (name, ran, paper), where in sorted(found.items(), key=lambda kv: SETTINGS.index(kv[0][0])):
        rows_note = "" if len(where) == len(rows) else f"; rows: {', '.join(where)}"
        out.append(f"{text(name, ran)} (paper: {_words(name, paper) or paper}{rows_note})")
    return out


def overrides(setting: dict, paper: dict) -> str:
    """Runner overrides that reproduce ``setting`` where it differs from ``paper`` (``epochs=3``)."""
    parts = []
    for name, v in setting.items():
        if name in SWITCHING and v is None:
            continue  # a single optimizer's run: no tau, whatever the experiment sets
        if v != paper.get(name):
            shown = "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            parts.append(f"{OVERRIDES[name]}={shown}")
    return " ".join(parts)
