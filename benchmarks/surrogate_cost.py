"""Cost of one controller cycle on the GP surrogate: one ``add`` + one ``predict`` of 15 candidates.

``python benchmarks/surrogate_cost.py`` feeds one ``GPSurrogate`` 5,000
observations of a drifting synthetic problem (2 state dims doing a random walk + 3 hyperparameter
dims, smooth score + noise) and prints the mean ms per cycle over the last min(N, 256) cycles before
N = 100, 1,000 and 5,000 observations, so amortised hyperparameter refits are included.
Baseline, in the same process: a full scikit-learn refit per cycle (marginal-likelihood fit on all N
points + predict) at N = 100 and 1,000 (5,000 is too slow), with BLAS limited to one thread like the
surrogate's own linear algebra; then the ratios baseline / surrogate. Wall and CPU (process) time are
both shown: on a shared machine wall time is inflated by other processes, CPU time much less so.
"""

from __future__ import annotations

import argparse
import time
import warnings

import _checkout  # noqa: F401  (first: this checkout's doit and runners, installed or not)
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

from doit.surrogate import GPSurrogate

SIZES = (100, 1000, 5000)
BASELINE_SIZES = (100, 1000)
N_CANDIDATES = 15


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (n, 5), scores (n,), and (n, 15, 5) candidate sets sharing each cycle's state."""
    rng = np.random.default_rng(seed)
    state = np.cumsum(rng.normal(scale=0.05, size=(n, 2)), axis=0)
    grid = np.stack(np.meshgrid([-4.0, -3.0, -2.0], [0.0, 0.9], [0.0, 1.0], indexing="ij"), -1).reshape(-1, 3)
    hyper = grid[rng.integers(len(grid), size=n)]
    X = np.hstack([state, hyper])
    score = np.sin(3 * X[:, 0]) * 0.05 - 0.02 * (X[:, 2] + 3) ** 2 + 0.01 * X[:, 3]
    y = np.tanh(score) + rng.normal(scale=0.01, size=n)
    cand_hyper = np.vstack([grid, grid[: N_CANDIDATES - len(grid)]])
    C = np.concatenate(
        [np.repeat(state[:, None, :], N_CANDIDATES, 1), np.broadcast_to(cand_hyper, (n, N_CANDIDATES, 3))],
        axis=2,
    )
    return X, y, C


def time_surrogate(X: np.ndarray, y: np.ndarray, C: np.ndarray, **kwargs) -> np.ndarray:
    """(wall, cpu) seconds of every cycle (add then predict), shape (n, 2)."""
    gp = GPSurrogate(**kwargs)
    times = np.empty((len(y), 2))
    for i in range(len(y)):
        t0, c0 = time.perf_counter(), time.process_time()
        gp.add(X[i], y[i])
        gp.predict(C[i])
        times[i] = time.perf_counter() - t0, time.process_time() - c0
    return times


def time_full_refit(X: np.ndarray, y: np.ndarray, C: np.ndarray, n: int, repeats: int) -> np.ndarray:
    """(wall, cpu) seconds per cycle when every cycle refits scikit-learn's GP on all n observations."""
    matern = Matern(np.ones(X.shape[1]), (1e-3, 1e3), nu=2.5)
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * matern + WhiteKernel(0.1, (1e-6, 10.0))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            gpr = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0, random_state=0)
            gpr.fit(X[:n], y[:n]).predict(C[n - 1], return_std=True)
    return np.array([time.perf_counter() - t0, time.process_time() - c0]) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, help="GPSurrogate window (default: the surrogate's)")
    parser.add_argument("--refit-every", type=int, help="GPSurrogate refit_every")
    parser.add_argument("--refit-maxiter", type=int, help="GPSurrogate refit_maxiter")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    kwargs = {k: v for k, v in vars(args).items() if v is not None}
    settings = GPSurrogate(**kwargs)
    X, y, C = synthetic(max(SIZES), args.seed)
    time_surrogate(X[:80], y[:80], C[:80], **kwargs)  # warm-up: imports, first refits
    times = time_surrogate(X, y, C, **kwargs)
    print(
        f"GPSurrogate(window={settings.window}, refit_every={settings.refit_every}, "
        f"refit_maxiter={settings.refit_maxiter}, seed={settings.seed}), {N_CANDIDATES} candidates/predict"
    )
    ours = {}
    for n in SIZES:
        last = min(n, 256)
        ours[n] = times[n - last : n].mean(axis=0) * 1e3
        print(
            f"  N={n:>5}: wall {ours[n][0]:7.3f} ms/cycle, cpu {ours[n][1]:7.3f} ms/cycle "
            f"(mean of cycles {n - last + 1}..{n}, refits included)"
        )
    print("baseline: full scikit-learn refit per cycle (fit on all N + predict), 1 BLAS thread")
    for n in BASELINE_SIZES:
        base = time_full_refit(X, y, C, n, repeats=3 if n <= 100 else 1) * 1e3
        ratio = base / ours[n]
        print(
            f"  N={n:>5}: wall {base[0]:9.1f} ms/cycle, cpu {base[1]:9.1f} ms/cycle   "
            f"ratio baseline/surrogate: wall {ratio[0]:7.1f}x, cpu {ratio[1]:7.1f}x"
        )
    print(f"  N={max(SIZES):>5}: skipped (a full refit takes tens of seconds)")


if __name__ == "__main__":
    main()
