"""Statistics over seeds: summaries, Welch's t-test, bootstrap interval, expected best of m random picks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1; nan for n < 2) and count of finite values."""

    mean: float
    std: float
    n: int


def summarize(values) -> Summary:
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Summary(math.nan, math.nan, 0)
    return Summary(float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan, int(x.size))


@dataclass(frozen=True)
class Comparison:
    """``a - b``: difference of means, Welch's t-test p-value, percentile bootstrap interval."""

    diff: float
    p_value: float
    ci_low: float
    ci_high: float
    n_a: int
    n_b: int


def compare(a, b, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Comparison:
    """Welch's unequal-variance t-test (scipy) and a bootstrap interval of ``mean(a) - mean(b)``.

    With fewer than 2 values on a side the test and interval are nan (3 seeds give wide intervals).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return Comparison(math.nan, math.nan, math.nan, math.nan, int(a.size), int(b.size))
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return Comparison(diff, math.nan, math.nan, math.nan, int(a.size), int(b.size))
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    if np.ptp(np.concatenate([a, b])) == 0:
        return Comparison(diff, p, diff, diff, int(a.size), int(b.size))
    boot = stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis),
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = boot.confidence_interval
    return Comparison(diff, p, float(ci.low), float(ci.high), int(a.size), int(b.size))


def expected_best_of(values, m: int) -> float:
    """E[max] of ``m`` values drawn without replacement from ``values`` (order statistics, exact).

    The k-th smallest of K values is the maximum of the draw with probability C(k-1, m-1) / C(K, m).
    """
    x = np.sort(np.asarray(values, dtype=float))
    k_total = x.size
    if k_total == 0 or m < 1:
        return math.nan
    m = min(m, k_total)
    weights = np.array([math.comb(k - 1, m - 1) for k in range(1, k_total + 1)], dtype=float)
    return float((weights * x).sum() / math.comb(k_total, m))
