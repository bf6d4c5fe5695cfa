"""Gaussian-process surrogate of one optimizer type (paper section 3.3).

Input: compressed parameter state + the configuration's hyperparameter vector; output: the performance
score s (eq. 2) as a predictive mean and the latent function's standard deviation (used by eq. 4-7).

Kernel (scikit-learn): ``ConstantKernel * Matern(nu=2.5, ARD length scales) + WhiteKernel``; default
initial values / bounds: amplitude 1 / (1e-3, 1e3), length scales 1 / (1e-3, 1e3), noise 0.1 / (1e-6, 10),
all in standardised-target units, plus a 1e-10 diagonal jitter. Targets are
standardised like ``GaussianProcessRegressor(normalize_y=True)``: minus the window mean, divided by the
window standard deviation (1 when that is ~0, i.e. with one observation).

Cost: the GP sees a bounded window of the most recent observations (at most ``window``). While the window
has room, each ``add`` appends one row to its Cholesky factor (O(W^2)); when it is full, the oldest
``window // 4`` observations are dropped together and the factor is rebuilt once (O(W^3) per W/4 adds).
So the window always holds the ``n`` most recent observations, ``3W/4 < n <= W`` once full. Recency is
wanted: old parameter states describe parameters long gone and the training process is non-stationary.
Default W = 128 cycles (3,200 steps at tau = 25): a refit costs O(W^3) per likelihood evaluation, and at
W = 256 the amortised refits alone exceeded the 2 ms/cycle budget on a 2-core CPU.
Kernel hyperparameters are re-fitted by marginal likelihood (scikit-learn, L-BFGS-B warm-started at the
current values, no restarts) after 4, 8, 16, ... additions up to ``refit_every`` and then after every
``refit_every`` additions.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import scipy.linalg as sl
import scipy.optimize
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

_CONFIG_KEYS = (
    "window",
    "refit_every",
    "refit_maxiter",
    "constant_value",
    "constant_value_bounds",
    "length_scale",
    "length_scale_bounds",
    "noise_level",
    "noise_level_bounds",
    "jitter",
    "blas_threads",
    "seed",
)


@functools.cache
def _blas_libraries() -> tuple:
    """threadpoolctl handles of the BLAS libraries loaded now (numpy's and scipy's OpenBLAS)."""
    from threadpoolctl import ThreadpoolController

    return tuple(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


@contextlib.contextmanager
def _blas_threads(n: int | None):
    """Temporarily limit BLAS threads (cheaper than threadpoolctl's ``limit``, which re-scans libraries)."""
    libs = _blas_libraries() if n is not None else ()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, threads in zip(libs, before, strict=True):
            lib.set_num_threads(threads)


def _normalisation(y: np.ndarray) -> tuple[float, float]:
    """Window mean and std as in scikit-learn's ``normalize_y`` (std < 10 eps -> 1)."""
    if len(y) == 0:
        return 0.0, 1.0
    std = float(np.std(y))
    return float(np.mean(y)), (1.0 if std < 10 * np.finfo(np.float64).eps else std)


class GPSurrogate:
    """GP regression of the performance score with a sliding window and a cheaply updated Cholesky factor.

    Args:
        window: most observations the GP conditions on (W).
        refit_every: additions between hyperparameter refits (after a warm-up at 4, 8, 16, ... additions).
        refit_maxiter: L-BFGS-B iterations per refit (warm-started, so a few usually suffice); the
            objective evaluations are capped at twice that.
        constant_value, constant_value_bounds: initial amplitude (variance of the standardised latent
            function) and its bounds.
        length_scale, length_scale_bounds: initial ARD length scale (every input dimension) and bounds.
        noise_level, noise_level_bounds: initial WhiteKernel variance (standardised units) and bounds.
        jitter: added to the kernel diagonal, like ``GaussianProcessRegressor(alpha=...)``.
        blas_threads: BLAS threads during the surrogate's linear algebra (small matrices: 1 avoids
            oversubscription with the training process); None leaves the setting alone.
        seed: ``random_state`` of the refits.
    """

    def __init__(
        self,
        window: int = 128,
        refit_every: int = 128,
        refit_maxiter: int = 10,
        constant_value: float = 1.0,
        constant_value_bounds: tuple[float, float] = (1e-3, 1e3),
        length_scale: float = 1.0,
        length_scale_bounds: tuple[float, float] = (1e-3, 1e3),
        noise_level: float = 0.1,
        noise_level_bounds: tuple[float, float] = (1e-6, 10.0),
        jitter: float = 1e-10,
        blas_threads: int | None = 1,
        seed: int = 0,
    ):
        if window < 4:
            raise ValueError(f"GPSurrogate: window={window} is too small; use window >= 4")
        if refit_every < 1:
            raise ValueError(f"GPSurrogate: refit_every={refit_every} must be >= 1")
        self.window = int(window)
        self.refit_every = int(refit_every)
        self.refit_maxiter = int(refit_maxiter)
        self.constant_value = float(constant_value)
        self.constant_value_bounds = tuple(float(b) for b in constant_value_bounds)
        self.length_scale = float(length_scale)
        self.length_scale_bounds = tuple(float(b) for b in length_scale_bounds)
        self.noise_level = float(noise_level)
        self.noise_level_bounds = tuple(float(b) for b in noise_level_bounds)
        self.jitter = float(jitter)
        self.blas_threads = blas_threads
        self.seed = int(seed)
        self._reset()

    def _reset(self) -> None:
        self._dim: int | None = None
        self._theta: np.ndarray | None = None
        self._kernel = None
        self._X = np.zeros((0, 0))
        self._y = np.zeros(0)
        self._L = np.zeros((0, 0))
        self._n_added = 0
        self._alpha: tuple[np.ndarray, float, float] | None = None

    # ----------------------------------------------------------------- public API
    @property
    def n_obs(self) -> int:
        """Observations added in total (the GP conditions on the most recent ``len(window_y)``)."""
        return self._n_added

    @property
    def window_X(self) -> np.ndarray:
        return self._X.copy()

    @property
    def window_y(self) -> np.ndarray:
        return self._y.copy()

    @property
    def kernel(self):
        """The current scikit-learn kernel (None before the first observation fixes the input size)."""
        return self._kernel

    def add(self, x, y: float) -> None:
        """Add one observation: input vector ``x`` (compressed state + hyperparameters) and score ``y``."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = float(y)
        if not np.isfinite(y) or not np.all(np.isfinite(x)):
            raise ValueError(f"GPSurrogate.add: non-finite observation (y={y}); filter NaN/inf scores first")
        if self._dim is None:
            self._init_kernel(len(x))
        elif len(x) != self._dim:
            raise ValueError(f"GPSurrogate.add: x has {len(x)} features, expected {self._dim}")
        with _blas_threads(self.blas_threads):
            if len(self._y) >= self.window:
                drop = self.window // 4
                self._X, self._y = self._X[drop:], self._y[drop:]
                self._rebuild()
            self._append(x, y)
            self._n_added += 1
            n = self._n_added
            if n % self.refit_every == 0 or (n < self.refit_every and n >= 4 and n & (n - 1) == 0):
                self._refit()

    def predict(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and latent standard deviation (no noise) of the score at rows of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if self._dim is not None and X.shape[1] != self._dim:
            raise ValueError(f"GPSurrogate.predict: X has {X.shape[1]} features, expected {self._dim}")
        if len(self._y) == 0:
            prior_sd = np.sqrt(self._amplitude())
            return np.zeros(len(X)), np.full(len(X), prior_sd)
        with _blas_threads(self.blas_threads):
            if self._alpha is None:  # cached until the next add/refit
                y_mean, y_std = _normalisation(self._y)
                alpha = sl.cho_solve((self._L, True), (self._y - y_mean) / y_std, check_finite=False)
                self._alpha = (alpha, y_mean, y_std)
            alpha, y_mean, y_std = self._alpha
            k_star = self._kernel.k1(X, self._X)
            v = sl.solve_triangular(self._L, k_star.T, lower=True, check_finite=False)
            mean = k_star @ alpha
            var = self._amplitude() - np.einsum("ij,ij->j", v, v)  # k(x, x) of a stationary kernel
        return mean * y_std + y_mean, np.sqrt(np.clip(var, 0.0, None)) * y_std

    def state_dict(self) -> dict:
        """Everything needed to resume bit-for-bit; tensors and plain Python values only."""
        return {
            "config": {k: _plain(getattr(self, k)) for k in _CONFIG_KEYS},
            "dim": self._dim,
            "n_added": self._n_added,
            "theta": None if self._theta is None else torch.from_numpy(self._theta.copy()),
            "X": torch.from_numpy(self._X.copy()),
            "y": torch.from_numpy(self._y.copy()),
            "L": torch.from_numpy(self._L.copy()),
        }

    def load_state_dict(self, state: dict) -> None:
        mine = {k: _plain(getattr(self, k)) for k in _CONFIG_KEYS}
        for key, value in state["config"].items():
            if mine.get(key) != value:
                raise ValueError(
                    f"GPSurrogate.load_state_dict: {key}={value!r} in the state but {mine.get(key)!r} "
                    "here; construct the surrogate with the saved settings"
                )
        self._reset()
        if state["dim"] is not None:
            self._init_kernel(int(state["dim"]), state["theta"].numpy().copy())
        self._n_added = int(state["n_added"])
        self._X = state["X"].numpy().copy()
        self._y = state["y"].numpy().copy()
        self._L = state["L"].numpy().copy()

    # ----------------------------------------------------------------- internals
    def _amplitude(self) -> float:
        return float(np.exp(self._theta[0])) if self._theta is not None else self.constant_value

    def _init_kernel(self, dim: int, theta: np.ndarray | None = None) -> None:
        template = ConstantKernel(self.constant_value, self.constant_value_bounds) * Matern(
            np.full(dim, self.length_scale), self.length_scale_bounds, nu=2.5
        ) + WhiteKernel(self.noise_level, self.noise_level_bounds)
        self._dim = dim
        self._set_theta(template, template.theta if theta is None else theta)
        self._X = np.zeros((0, dim))

    def _set_theta(self, kernel, theta: np.ndarray) -> None:
        """The kernel is always built from ``theta`` so a reloaded surrogate has bit-identical values."""
        self._theta = np.array(theta, dtype=np.float64)
        self._kernel = kernel.clone_with_theta(self._theta)
        self._noise = float(np.exp(self._theta[-1])) + self.jitter

    def _append(self, x: np.ndarray, y: float) -> None:
        """Border the Cholesky factor with the new point: O(W^2)."""
        x2 = x[None, :]
        k = self._kernel.k1(x2, self._X)[0]
        kappa = float(self._kernel.k1.diag(x2)[0]) + self._noise
        row = sl.solve_triangular(self._L, k, lower=True, check_finite=False) if len(k) else k
        d2 = kappa - float(row @ row)
        if not d2 > 0.0:
            raise np.linalg.LinAlgError(
                "GPSurrogate: kernel matrix lost positive definiteness; raise jitter "
                "or the lower bound of noise_level_bounds"
            )
        self._X = np.vstack([self._X, x2])
        self._y = np.append(self._y, y)
        self._alpha = None
        n = len(self._y)
        L = np.zeros((n, n))
        L[:-1, :-1] = self._L
        L[-1, :-1] = row
        L[-1, -1] = np.sqrt(d2)
        self._L = L

    def _rebuild(self) -> None:
        K = self._kernel.k1(self._X)
        K[np.diag_indices_from(K)] += self._noise
        self._L = sl.cholesky(K, lower=True, check_finite=False)
        self._alpha = None

    def _refit(self) -> None:
        """Marginal-likelihood refit of the kernel hyperparameters on the window (scikit-learn)."""
        gpr = GaussianProcessRegressor(
            kernel=self._kernel,
            alpha=self.jitter,
            optimizer=self._lbfgsb,
            n_restarts_optimizer=0,
            normalize_y=True,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gpr.fit(self._X, self._y)
        self._set_theta(self._kernel, gpr.kernel_.theta)
        self._rebuild()

    def _lbfgsb(self, obj_func, initial_theta, bounds):
        res = scipy.optimize.minimize(
            obj_func,
            initial_theta,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"maxiter": self.refit_maxiter, "maxfun": 2 * self.refit_maxiter},
        )
        return res.x, res.fun


def _plain(value):
    return list(value) if isinstance(value, tuple) else value
