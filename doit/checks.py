"""Argument checks shared by the library: each raises a one-line ``ValueError`` naming the argument."""

from __future__ import annotations

import enum
import math
from typing import TypeVar

E = TypeVar("E", bound=enum.StrEnum)


def choice(name: str, value, kind: type[E]) -> E:
    """``value`` (a member of ``kind`` or its string value) as the member of ``kind``."""
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(kind)}") from None


def integer(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (bools and non-integral numbers are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValueError(f"{name}={value!r} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}={value!r} must be {bound}")
    return int(value)


def number(
    name: str, value, low: float = -math.inf, high: float = math.inf, *, open_low: bool = False
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    if value < low or value > high or (open_low and value == low):
        raise ValueError(f"{name}={value!r} must lie in {'(' if open_low else '['}{low}, {high}]")
    return float(value)
