"""Transferability weight (eq. 6) and the acquisition functions (eq. 4, 5, 7)."""

from __future__ import annotations

import enum
from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from doit import checks


class Schedule(enum.StrEnum):
    """``eq7``: eq. 7 as printed; ``halve``: the text's intent (ambiguity 1); ``no_transfer``: eq. 4
    (ablation "w/o omega_t"); ``no_halving``: eq. 5 (ablation "w/o halve")."""

    eq7 = "eq7"
    halve = "halve"
    no_transfer = "no_transfer"
    no_halving = "no_halving"


SCHEDULES = tuple(Schedule)


def transferability_weight(omega_p: float, omega_d: Sequence[float], beta: float) -> float:
    """Eq. 6: ``beta * omega_p + (1 - beta) * mean_k sigmoid(omega_d[k])``.

    ``omega_p`` in [0, 1] is the performance-based metric, ``omega_d`` the raw distribution-based
    metrics (LogME, LEEP). An empty ``omega_d`` is accepted only with ``beta == 1`` (the weight is then
    ``omega_p``), since the mean of no metrics is undefined.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta={beta!r} must lie in [0, 1] (eq. 6)")
    if not 0.0 <= omega_p <= 1.0:
        raise ValueError(f"omega_p={omega_p!r} must lie in [0, 1] (an accuracy as a fraction)")
    metrics = np.asarray(omega_d, dtype=np.float64).reshape(-1)
    if metrics.size == 0:
        if beta != 1.0:
            raise ValueError(f"omega_d is empty with beta={beta!r}: pass LogME/LEEP values or set beta=1.0")
        return float(omega_p)
    if not np.all(np.isfinite(metrics)):
        raise ValueError(f"omega_d={metrics.tolist()!r} must be finite (LogME/LEEP values)")
    return float(beta * omega_p + (1.0 - beta) * expit(metrics).mean())


def acquisition(s_mu, s_sigma, omega_t: float, i: int, n: int, schedule: str = "eq7", alpha: float = 0.5):
    """Acquisition value of candidates with GP mean ``s_mu`` and standard deviation ``s_sigma``.

    ``i`` is the current switch cycle, ``n`` the halving period in cycles, ``h = 2**(-floor(i/n))``.
    ``eq7`` (eq. 7 as printed): ``sigmoid(s_mu + (1 - h * omega_t) * s_sigma)``;
    ``halve``: ``sigmoid(s_mu + (1 - omega_t) * h * s_sigma)``; ``no_transfer`` (eq. 4):
    ``s_mu + alpha * s_sigma``; ``no_halving`` (eq. 5): ``s_mu + (1 - omega_t) * s_sigma``.
    Arrays (broadcast) or floats in; an array, or a float for scalar inputs, out.
    """
    return acquire(
        s_mu,
        s_sigma,
        checks.number("omega_t", omega_t, 0.0, 1.0),
        checks.integer("i", i, 0),
        checks.integer("n", n, 1),
        checks.choice("schedule", schedule, Schedule),
        checks.number("alpha", alpha),
    )


def acquire(s_mu, s_sigma, omega_t: float, i: int, n: int, schedule: Schedule, alpha: float):
    """`acquisition` without the argument checks (for the controller, which validated them once)."""
    mu = np.asarray(s_mu, dtype=np.float64)
    sd = np.asarray(s_sigma, dtype=np.float64)
    halving = 2.0 ** -(i // n)
    if schedule == Schedule.eq7:
        value = expit(mu + (1.0 - halving * omega_t) * sd)
    elif schedule == Schedule.halve:
        value = expit(mu + (1.0 - omega_t) * halving * sd)
    elif schedule == Schedule.no_transfer:
        value = mu + alpha * sd
    else:
        value = mu + (1.0 - omega_t) * sd
    value = np.asarray(value, dtype=np.float64)
    return float(value) if value.ndim == 0 else value
