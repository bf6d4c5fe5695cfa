"""Performance score of one switch cycle (eq. 2) and the initial sampling weight (eq. 3)."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np

from doit import checks

EPS = 1e-12
"""Added to the max(...) denominators of eq. 2 so that a zero loss gives a finite score (ambiguity 3)."""

WORST_SCORE = -1.0
"""Score of a cycle whose losses (or l0) contain NaN or infinity."""


class Spread(enum.StrEnum):
    """Eq. 2's ``sigma_Delta``: the text calls it the "variance" of the deltas; ``std`` (default) reads it
    as the population standard deviation, ``var`` as the population variance."""

    std = "std"
    var = "var"


def performance_score(
    losses: Sequence[float], l0: float, alpha: float, spread: Spread | str = Spread.std
) -> float:
    """Eq. 2: ``s = tanh((mu + upper + lower) / 3 + alpha * sigma)`` for one cycle.

    ``losses`` are ``l_1..l_tau`` (``tau = len(losses)``), ``l0`` the loss before the cycle's first
    update. ``delta_i = (l_{i-1} - l_i) / max(l_i, l_{i-1})``; ``mu`` is the mean of the deltas and
    ``sigma`` their population standard deviation (``spread="std"``) or variance (``"var"``); ``upper = (l0 - max l) / (max(l0, max l) * tau)`` and
    ``lower = (l0 - min l) / (max(l0, min l) * tau)``. ``EPS`` is added to every max(...) denominator.
    A NaN or infinite loss anywhere gives ``WORST_SCORE``. Returns a float in [-1, 1].
    """
    if not math.isfinite(alpha):
        raise ValueError(f"alpha={alpha!r} must be a finite number (the weight of sigma in eq. 2)")
    tail = np.asarray(losses, dtype=np.float64).reshape(-1)
    if tail.size == 0:
        raise ValueError("losses is empty: a switch cycle needs at least one loss (tau >= 1)")
    seq = np.concatenate(([float(l0)], tail))
    if not np.all(np.isfinite(seq)):
        return WORST_SCORE
    if np.any(seq < 0):
        raise ValueError(f"losses must be >= 0 (got min {seq.min()!r}): pass the cross-entropy values")
    tau = tail.size
    prev, cur = seq[:-1], seq[1:]
    delta = (prev - cur) / (np.maximum(prev, cur) + EPS)
    l0 = seq[0]
    hi, lo = tail.max(), tail.min()
    upper = (l0 - hi) / (max(l0, hi) + EPS) / tau
    lower = (l0 - lo) / (max(l0, lo) + EPS) / tau
    sigma = delta.var() if checks.choice("spread", spread, Spread) == Spread.var else delta.std()
    return float(np.tanh((delta.mean() + upper + lower) / 3.0 + alpha * sigma))


class Score(enum.StrEnum):
    """A cycle's score: ``eq2`` (the paper's eq. 2) or ``progress`` (beyond the paper, DOIT+): how far the
    loss level fell over the cycle (`progress_score`), averaged over batches, so that neither batch noise
    (eq. 2's spread term) nor a spike the cycle caused and half undid earns a high score."""

    eq2 = "eq2"
    progress = "progress"


def tail_mean(losses: Sequence[float]) -> float:
    """The loss level at a cycle's end: the mean of the last half (rounded up) of its losses."""
    tail = np.asarray(losses, dtype=np.float64).reshape(-1)
    return float(tail[tail.size // 2 :].mean())


def progress_score(losses: Sequence[float], start: float) -> float:
    """``tanh(log(start / tail_mean(losses)))``: the relative fall of the loss level over a cycle that
    started at level ``start`` (about 0.1 for a 10% fall, negative for a rise). A NaN or infinite loss
    gives ``WORST_SCORE``. Returns a float in (-1, 1)."""
    seq = np.concatenate(([float(start)], np.asarray(losses, dtype=np.float64).reshape(-1)))
    if seq.size < 2:
        raise ValueError("losses is empty: a switch cycle needs at least one loss (tau >= 1)")
    if not np.all(np.isfinite(seq)):
        return WORST_SCORE
    if np.any(seq < 0):
        raise ValueError(f"losses must be >= 0 (got min {seq.min()!r}): pass the cross-entropy values")
    return float(np.tanh(np.log((seq[0] + EPS) / (tail_mean(seq[1:]) + EPS))))


def sampling_weight(s: float, w_min: float) -> float:
    """Eq. 3: the sampling weight ``max((s + 1) / 2, w_min)`` of the optimizer that scored ``s``."""
    if not 0.0 <= w_min <= 1.0:
        raise ValueError(f"w_min={w_min!r} must lie in [0, 1]")
    if not -1.0 <= s <= 1.0:
        raise ValueError(f"s={s!r} must be a performance score in [-1, 1] (eq. 2)")
    return float(max((s + 1.0) / 2.0, w_min))
