"""LogME, LEEP and omega_p against independently computed references."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.model_selection import train_test_split

from doit.transferability import leep, logme, omega_p_probe

CONVERGED = {"max_iter": 1000, "tol": 1e-10}  # run the fixed point to convergence


def direct_log_evidence(f, y, alpha, beta):
    """Closed-form log evidence / N of Bayesian linear regression y ~ N(F w, 1/beta), w ~ N(0, I/alpha)."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    r = y - f @ m
    log_det = np.linalg.slogdet(a)[1]
    value = d / 2 * math.log(alpha) + n / 2 * math.log(beta) - beta / 2 * r @ r - alpha / 2 * m @ m
    return (value - log_det / 2 - n / 2 * math.log(2 * math.pi)) / n


def scipy_max_evidence(f, y):
    """Maximise the direct log evidence over (log alpha, log beta) numerically."""

    def objective(p):
        return -direct_log_evidence(f, y, math.exp(p[0]), math.exp(p[1]))

    coarse = minimize(objective, [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14})
    fine = minimize(objective, coarse.x, method="BFGS", options={"gtol": 1e-12})
    return -fine.fun


def clustered(rng, n, d, classes, noise, scale=0.1):
    labels = np.arange(n) % classes
    centres = rng.normal(size=(classes, d))
    return scale * (centres[labels] + noise * rng.normal(size=(n, d))), labels


@pytest.mark.parametrize("n, d", [(60, 6), (40, 40)])
def test_logme_matches_numerical_evidence_maximum(n, d):
    rng = np.random.default_rng(n + d)
    f, labels = clustered(rng, n, d, classes=3, noise=0.7)
    reference = np.mean([scipy_max_evidence(f, (labels == k).astype(float)) for k in range(3)])
    assert logme(f, labels, **CONVERGED) == pytest.approx(reference, abs=1e-6)


def released_fixed_point_reference(f, y, iterations=400):
    """The released fixed-point LogME for D > N, written with explicit D x D matrices (no SVD tricks):
    log|A| sums only the N largest eigenvalues of F^T F, D/2 log alpha keeps D; updates carry 1e-5."""
    n, d = f.shape
    lam = np.sort(np.linalg.eigvalsh(f.T @ f))[::-1][:n]
    alpha = beta = 1.0
    for _ in range(iterations):
        a = alpha * np.eye(d) + beta * f.T @ f
        m = beta * np.linalg.solve(a, f.T @ y)
        gamma = np.sum(beta * lam / (alpha + beta * lam))
        alpha, beta = gamma / (m @ m + 1e-5), (n - gamma) / (np.sum((y - f @ m) ** 2) + 1e-5)
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    res2 = np.sum((y - f @ m) ** 2)
    value = d / 2 * math.log(alpha) + n / 2 * math.log(beta) - np.sum(np.log(alpha + beta * lam)) / 2
    return (value - beta / 2 * res2 - alpha / 2 * m @ m - n / 2 * math.log(2 * math.pi)) / n


def test_logme_wide_features_follow_released_fixed_point_variant():
    rng = np.random.default_rng(3)
    f, labels = clustered(rng, 12, 30, classes=3, noise=0.5)
    reference = np.mean([released_fixed_point_reference(f, (labels == k).astype(float)) for k in range(3)])
    assert logme(f, labels, **CONVERGED) == pytest.approx(reference, abs=1e-8)
    # the evidence with all D eigenvalues (ICML variant) is smaller by (D - N) / (2N) log alpha > 0 here
    full = np.mean([scipy_max_evidence(f, (labels == k).astype(float)) for k in range(3)])
    assert logme(f, labels, **CONVERGED) > full


def released_stopping_rule_reference(f, y, max_iter=11, tol=1e-3):
    """The released code's loop: at most 11 updates, stop when alpha / beta changes by < 1e-3 relatively;
    the evidence at the last (alpha, beta). Explicit D x D matrices (N > D here)."""
    n, d = f.shape
    lam = np.linalg.eigvalsh(f.T @ f)
    alpha = beta = 1.0
    for _ in range(max_iter):
        t = alpha / beta
        m = np.linalg.solve(t * np.eye(d) + f.T @ f, f.T @ y)
        gamma = np.sum(lam / (lam + t))
        alpha, beta = gamma / (m @ m + 1e-5), (n - gamma) / (np.sum((y - f @ m) ** 2) + 1e-5)
        if abs(alpha / beta - t) <= tol * t:
            break
    return direct_log_evidence(f, y, alpha, beta)


def test_logme_default_is_the_released_stopping_rule():
    rng = np.random.default_rng(11)
    f, labels = clustered(rng, 80, 5, classes=4, noise=1.5)
    reference = np.mean([released_stopping_rule_reference(f, (labels == k).astype(float)) for k in range(4)])
    assert logme(f, labels) == pytest.approx(reference, abs=1e-13)
    assert abs(logme(f, labels) - logme(f, labels, **CONVERGED)) > 1e-11  # it stopped early (flat maximum)


def test_logme_hand_case_single_feature():
    # N = 4, D = 1, F = (1, 1, -1, -1)^T, labels (0, 0, 1, 1). Class 0: y = (1, 1, 0, 0), sigma = |F|^2 = 4,
    # x = F.y / |F| = 1, residual outside span(F) r = |y|^2 - x^2 = 1. With t = alpha / beta the fixed point is
    # gamma = 4 / (4 + t), m^T m = 4 / (4 + t)^2, |y - F m|^2 = t^2 / (4 + t)^2 + 1, alpha = gamma / m^T m = 4 + t,
    # beta = (4 - gamma) / |y - F m|^2  =>  t = (t^2 + (4 + t)^2) / (12 + 4 t)  =>  t^2 + 2 t - 8 = 0, t = 2:
    # alpha = 6, beta = 3, gamma = 2/3, m^T m = 1/9, |y - F m|^2 = 10/9. Evidence / N =
    # (1/2 ln 6 + 2 ln 3 - 1/2 ln(6 + 3 * 4) - 3/2 * 10/9 - 6/2 * 1/9 - 2 ln 2 pi) / 4 = (3/2 ln 3 - 2 - 2 ln 2 pi) / 4;
    # class 1 is the mirror image (x = -1), so LogME is the same number.
    expected = (1.5 * math.log(3) - 2 - 2 * math.log(2 * math.pi)) / 4
    assert logme(
        np.array([[1.0], [1.0], [-1.0], [-1.0]]), np.array([0, 0, 1, 1]), **CONVERGED
    ) == pytest.approx(expected, abs=1e-6)
    assert direct_log_evidence(np.array([[1.0], [1.0], [-1.0], [-1.0]]), np.array([1.0, 1, 0, 0]), 6, 3) == (
        pytest.approx(expected, abs=1e-12)
    )


def test_logme_prefers_separating_features_and_ignores_label_names():
    rng = np.random.default_rng(7)
    good, labels = clustered(rng, 150, 16, classes=5, noise=0.3, scale=1.0)
    bad = rng.normal(size=good.shape)
    assert logme(good, labels) > logme(bad, labels) + 0.1
    renamed = np.array([10, 3, 7, 0, 42])[labels]
    assert logme(good, renamed) == pytest.approx(logme(good, labels), abs=1e-12)


def test_logme_rejects_bad_input():
    with pytest.raises(ValueError, match="2 classes"):
        logme(np.ones((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="rows"):
        logme(np.ones((4, 2)), np.zeros(3))


def leep_by_loops(probs, labels):
    n, z = len(probs), len(probs[0])
    classes = sorted(set(labels))
    joint = {
        (y, j): sum(probs[i][j] for i in range(n) if labels[i] == y) / n for y in classes for j in range(z)
    }
    marginal = [sum(joint[(y, j)] for y in classes) for j in range(z)]
    total = 0.0
    for i in range(n):
        total += math.log(sum(joint[(labels[i], j)] / marginal[j] * probs[i][j] for j in range(z)))
    return total / n


def test_leep_matches_explicit_loops():
    probs = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.6, 0.1, 0.3], [0.2, 0.5, 0.3]]
    labels = [0, 1, 1, 0, 2]
    assert leep(probs, labels) == pytest.approx(leep_by_loops(probs, labels), abs=1e-12)


def test_leep_hand_cases():
    # a source model that outputs the target label exactly: P(y|z) = [y == z], LEEP = log 1 = 0
    assert leep(np.eye(3)[[0, 1, 2, 1]], [0, 1, 2, 1]) == pytest.approx(0.0, abs=1e-12)
    # uniform source outputs: P(y|z) = P(y), so LEEP = mean log P(y_i) = (3 log 3/4 + log 1/4) / 4
    expected = (3 * math.log(0.75) + math.log(0.25)) / 4
    assert leep(np.full((4, 2), 0.5), [1, 1, 1, 0]) == pytest.approx(expected, abs=1e-12)


def test_leep_rejects_non_probabilities():
    with pytest.raises(ValueError, match="probability"):
        leep([[0.5, 0.7]], [0])


def test_omega_p_probe_matches_manual_nearest_class_mean():
    rng = np.random.default_rng(11)
    features, labels = clustered(rng, 80, 4, classes=4, noise=1.5, scale=1.0)
    fit_x, test_x, fit_y, test_y = train_test_split(
        features, labels, test_size=0.5, stratify=labels, random_state=3
    )
    means = {c: fit_x[fit_y == c].mean(axis=0) for c in np.unique(fit_y)}
    correct = 0
    for x, y in zip(test_x, test_y, strict=True):
        nearest = min(means, key=lambda c: np.sum((x - means[c]) ** 2))
        correct += int(nearest == y)
    assert omega_p_probe(features, labels, seed=3) == pytest.approx(correct / len(test_y), abs=1e-12)
    assert 0.0 < correct / len(test_y) < 1.0


def test_omega_p_probe_separable_and_validation():
    features = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    assert omega_p_probe(features, [0, 0, 0, 1, 1, 1]) == 1.0
    with pytest.raises(ValueError, match="1 sample"):
        omega_p_probe(features, [0, 0, 0, 1, 1, 2])
