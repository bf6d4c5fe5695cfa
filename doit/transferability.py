"""Transferability metrics of a pre-trained model on a target task (the inputs of eq. 6).

``logme`` and ``leep`` are the distribution-based metrics omega_d, ``omega_p_probe`` the
performance-based metric omega_p for a model whose head does not fit the target labels.
All arithmetic is float64.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestCentroid

from doit import checks

_FIXED_POINT_EPS = 1e-5  # added to m^T m and ||y - F m||^2 in the updates, as in the released LogME code
_RANK_TOL = 1e-10  # singular values at or below this are dropped on the N > D path


def _features_labels(features, labels) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if f.ndim != 2:
        raise ValueError(f"features must be a 2-D array (N samples x D dims), got shape {f.shape}")
    if f.shape[0] != y.shape[0]:
        raise ValueError(f"features has {f.shape[0]} rows but labels has {y.shape[0]} entries")
    if f.shape[0] < 2:
        raise ValueError("need at least 2 samples to estimate transferability")
    if not np.all(np.isfinite(f)):
        raise ValueError("features contain NaN or infinity")
    return f, y


def _spectrum(f: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared singular values ``sigma`` of ``f`` and ``x = U^T targets`` (U: left singular vectors).

    N <= D: all N singular values of a thin SVD (zeros included). N > D: eigen-decomposition of the
    D x D Gram matrix, keeping the singular values above ``_RANK_TOL``. Both as the released code.
    """
    n, d = f.shape
    if n <= d:
        u, s, _ = np.linalg.svd(f, full_matrices=False)
        return s**2, u.T @ targets
    sigma, v = np.linalg.eigh(f.T @ f)
    keep = np.sqrt(np.clip(sigma, 0.0, None)) > _RANK_TOL
    sigma, v = sigma[keep], v[:, keep]
    return sigma, (v.T @ (f.T @ targets)) / np.sqrt(sigma)[:, None]


def _log_evidence(alpha, beta, sigma, m2, res2, n, d) -> float:
    """Log evidence per sample, ``L(alpha, beta) / N``, with ``log|A|`` summed over ``sigma`` only."""
    return float(
        (
            d / 2.0 * np.log(alpha)
            + n / 2.0 * np.log(beta)
            - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2.0 * res2
            - alpha / 2.0 * m2
            - n / 2.0 * np.log(2.0 * np.pi)
        )
        / n
    )


def _class_evidence(
    sigma: np.ndarray, x: np.ndarray, y_sq: float, n: int, d: int, max_iter: int, tol: float
) -> tuple[float, float, float]:
    """Maximise the evidence of one target column by MacKay's fixed point; returns (evidence/N, alpha, beta).

    With ``t = alpha / beta``: ``gamma = sum sigma / (sigma + t)``, ``m^T m = sum sigma x^2 / (sigma + t)^2``,
    ``||y - F m||^2 = sum x^2 t^2 / (sigma + t)^2 + (||y||^2 - ||x||^2)``; then ``alpha = gamma / m^T m``,
    ``beta = (N - gamma) / ||y - F m||^2``; at most ``max_iter`` times, until ``t`` changes by at most
    ``tol`` relatively.
    """
    x2 = x**2
    rest = max(y_sq - float(x2.sum()), 0.0)
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        t = alpha / beta
        gamma = float(np.sum(sigma / (sigma + t)))
        m2 = float(np.sum(sigma * x2 / (sigma + t) ** 2))
        res2 = float(np.sum(x2 * (t / (sigma + t)) ** 2)) + rest
        new_alpha = gamma / (m2 + _FIXED_POINT_EPS)
        new_beta = (n - gamma) / (res2 + _FIXED_POINT_EPS)
        alpha, beta = new_alpha, new_beta
        if abs(alpha / beta - t) <= tol * t:
            break
    t = alpha / beta
    m2 = float(np.sum(sigma * x2 / (sigma + t) ** 2))
    res2 = float(np.sum(x2 * (t / (sigma + t)) ** 2)) + rest
    return _log_evidence(alpha, beta, sigma, m2, res2, n, d), alpha, beta


def logme(features, labels, max_iter: int = 11, tol: float = 1e-3) -> float:
    """LogME (You et al., ICML 2021) of ``features`` (N x D) for integer class ``labels``.

    Variant (ambiguity 7): the fixed-point algorithm that is the default of the authors' released code
    (You et al., 2022, "Ranking and Tuning Pre-trained Models"). For each class a one-hot target is fitted
    by Bayesian linear regression, the evidence is maximised over (alpha, beta) by the fixed point, divided
    by N, and averaged over classes. Stopping rule: the released code's by default (at most ``max_iter=11``
    iterations, until ``alpha / beta`` changes by at most ``tol=1e-3`` relatively); e.g. ``max_iter=1000,
    tol=1e-10`` runs to convergence.
    When D > N only the min(N, D) singular values enter ``log|alpha I + beta F^T F|`` while the
    ``D/2 log alpha`` term keeps D, as in the released fixed-point code; the authors' earlier ICML
    variant (eigen-decomposition of the D x D matrix) counts the D - N zero eigenvalues as well and so
    differs for D > N by ``-(D - N) / (2N) * log alpha`` per class.
    """
    f, y = _features_labels(features, labels)
    max_iter, tol = checks.integer("max_iter", max_iter, 1), checks.number("tol", tol, 0.0)
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"labels hold a single class ({classes[0]!r}): LogME needs at least 2 classes")
    n, d = f.shape
    onehot = (y[:, None] == classes[None, :]).astype(np.float64)
    sigma, x = _spectrum(f, onehot)
    evidences = [
        _class_evidence(sigma, x[:, k], float(onehot[:, k].sum()), n, d, max_iter, tol)[0]
        for k in range(classes.size)
    ]
    return float(np.mean(evidences))


def leep(probs, labels) -> float:
    """LEEP (Nguyen et al., ICML 2020): ``mean_i log sum_z P(y_i | z) probs[i, z]``.

    ``probs`` (N x Z) are the source model's softmax outputs on the target data, ``labels`` the target
    labels. ``P(y, z) = 1/N sum_{i: y_i = y} probs[i, z]`` and ``P(y | z) = P(y, z) / sum_y P(y, z)``.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ValueError(f"probs must be N x Z with N = len(labels) = {y.shape[0]}, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probs rows must be probability vectors (softmax outputs: >= 0, summing to 1)")
    _, inverse = np.unique(y, return_inverse=True)
    onehot = np.eye(inverse.max() + 1)[inverse]
    joint = onehot.T @ p / p.shape[0]  # P(y, z), shape (classes, Z)
    marginal = joint.sum(axis=0)  # P(z)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    eep = np.sum(p * conditional[inverse], axis=1)
    return float(np.mean(np.log(eep)))


def omega_p_probe(features, labels, seed: int = 0) -> float:
    """Performance-based metric omega_p in [0, 1] when the pre-trained head does not fit the task.

    Accuracy of a nearest-class-mean classifier on the penultimate ``features``, fitted on a stratified
    half of the samples and tested on the other half (no network training: "tested without deep
    refining", Sec. 3.4). Every class needs at least 2 samples.
    """
    f, y = _features_labels(features, labels)
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"labels hold a single class ({classes[0]!r}): omega_p needs at least 2 classes")
    if counts.min() < 2:
        raise ValueError(
            f"class {classes[counts.argmin()]!r} has 1 sample: the stratified split needs >= 2 per class"
        )
    f_fit, f_test, y_fit, y_test = train_test_split(f, y, test_size=0.5, stratify=y, random_state=seed)
    with warnings.catch_warnings():  # ReLU features that are 0 for a whole class: expected, harmless
        warnings.simplefilter("ignore", (UserWarning, RuntimeWarning))
        centroids = NearestCentroid().fit(f_fit, y_fit)
    return float(np.mean(centroids.predict(f_test) == y_test))
