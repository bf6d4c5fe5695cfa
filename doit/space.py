"""DOIT's candidate space: candidates (an optimizer and its hyperparameters), grid expansion, GP inputs, labels."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LOG_SCALED = ("lr", "weight_decay")
"""Hyperparameters that enter the GP input as log10 (a zero weight decay as ``log10(ZERO_WEIGHT_DECAY)``)."""

ZERO_WEIGHT_DECAY = 1e-6


def _plain(value: Any) -> Any:
    """A NumPy scalar as the equal Python scalar, a list as a tuple (stable labels, hashable candidates)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(_plain(v) for v in value)
    return value


@dataclass(frozen=True)
class Candidate:
    """One candidate: an optimizer name and its hyperparameters as ``(key, value)`` pairs sorted by key."""

    optimizer: str
    hyper: tuple[tuple[str, Any], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.optimizer, str) or not self.optimizer:
            raise ValueError(f"optimizer={self.optimizer!r} must be a non-empty optimizer name")
        pairs = tuple(sorted((str(k), _plain(v)) for k, v in dict(self.hyper).items()))
        for key, value in pairs:
            if isinstance(value, Mapping | set):
                raise ValueError(f"{self.optimizer}.{key}={value!r} must be a number, string or tuple")
        object.__setattr__(self, "hyper", pairs)
        wd = dict(pairs).get("weight_decay", 0.0)
        if not isinstance(wd, int | float) or not wd >= 0:
            raise ValueError(f"{self.optimizer}.weight_decay={wd!r} must be a number >= 0")
        lr = dict(pairs).get("lr")
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(
                f"{self.optimizer}.lr={lr!r} must be a positive number (every candidate needs an lr)"
            )

    @property
    def lr(self) -> float:
        """The learning rate."""
        return float(dict(self.hyper)["lr"])

    def as_dict(self) -> dict[str, Any]:
        """The hyperparameters as a dict (keyword arguments of the optimizer)."""
        return dict(self.hyper)


def _grid_candidates(name: str, hypers: Mapping[str, Any]) -> list[Candidate]:
    if not isinstance(hypers, Mapping):
        raise ValueError(f"space[{name!r}]={hypers!r} must map hyperparameter -> list of values")
    keys = list(hypers)
    choices = []
    for key in keys:
        values = hypers[key]
        values = list(values) if isinstance(values, Sequence) and not isinstance(values, str) else [values]
        if not values:
            raise ValueError(f"space[{name!r}][{key!r}] is an empty list: give at least one value")
        choices.append(values)
    return [Candidate(name, tuple(zip(keys, combo, strict=True))) for combo in itertools.product(*choices)]


def _candidate(item: Any) -> Candidate:
    if isinstance(item, Candidate):
        return item
    if isinstance(item, Mapping) and "optimizer" in item:
        hyper = {k: v for k, v in item.items() if k != "optimizer"}
        return Candidate(item["optimizer"], tuple(hyper.items()))
    raise ValueError(
        f"space entry {item!r} must be a Candidate or a dict like {{'optimizer': 'adam', 'lr': 0.001}}"
    )


def expand(grid: Mapping[str, Mapping[str, Any]] | Sequence[Any]) -> list[Candidate]:
    """All candidates of a space.

    ``grid`` maps optimizer name -> {hyperparameter: [values]} (Cartesian product per optimizer, in the
    order given; a scalar counts as a one-value list), or is a list of ``Candidate`` objects or of dicts
    ``{"optimizer": "adam", "lr": 0.001}``.
    """
    if isinstance(grid, Mapping):
        candidates = [c for name, hypers in grid.items() for c in _grid_candidates(str(name), hypers)]
    elif isinstance(grid, Sequence) and not isinstance(grid, str):
        candidates = [_candidate(item) for item in grid]
    else:
        raise ValueError(
            f"space={grid!r} must be a dict optimizer -> {{hyper: [values]}} or a list of candidates"
        )
    if not candidates:
        raise ValueError("space is empty: give at least one optimizer, e.g. {'adam': {'lr': [0.001]}}")
    seen = set()
    for candidate in candidates:
        if candidate in seen:
            raise ValueError(f"space lists {label(candidate)} twice: remove the duplicate")
        seen.add(candidate)
    return candidates


def hyper_vector(candidate: Candidate) -> np.ndarray:
    """The hyperparameter part of the GP input, in sorted key order.

    ``lr`` and ``weight_decay`` as log10 (weight decay 0 -> ``log10(1e-6)``), the rest (momentum, alpha,
    betas, booleans as 0/1) as raw numbers; a tuple value contributes one entry per element.
    """
    out: list[float] = []
    for key, value in candidate.hyper:
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, str) or not isinstance(item, int | float):
                raise ValueError(
                    f"{candidate.optimizer}.{key}={value!r} is not numeric: it cannot be a GP input"
                )
            number = float(item)
            if key == "weight_decay":
                number = math.log10(number if number > 0 else ZERO_WEIGHT_DECAY)
            elif key == "lr":
                number = math.log10(number)
            out.append(number)
    return np.asarray(out, dtype=np.float64)


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(_format(v) for v in value) + ")"
    return repr(value) if isinstance(value, float) else str(value)


def label(candidate: Candidate) -> str:
    """A stable name like ``adam(lr=0.001)`` or ``sgdm(lr=0.01,momentum=0.9)`` (CSV column names)."""
    return f"{candidate.optimizer}(" + ",".join(f"{k}={_format(v)}" for k, v in candidate.hyper) + ")"
