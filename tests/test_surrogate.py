"""GPSurrogate: agreement with scikit-learn's GP, window and refit schedule, prior, resume bit-for-bit."""

import io

import numpy as np
import pytest
import torch
from sklearn.gaussian_process import GaussianProcessRegressor

from doit.surrogate import GPSurrogate


def data(n, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = 0.05 * np.sin(2 * X[:, 0]) + 0.02 * X[:, 1] + rng.normal(scale=0.005, size=n)
    return X, y


def fill(gp, X, y):
    for x, t in zip(X, y, strict=True):
        gp.add(x, t)
    return gp


def sklearn_latent(gp, Xq):
    """sklearn's GP with the surrogate's hyperparameters on the surrogate's window, noise-free latent."""
    latent = gp.kernel.k1  # ConstantKernel * Matern; the WhiteKernel variance goes into alpha
    noise = gp.kernel.k2.noise_level
    ref = GaussianProcessRegressor(latent, alpha=noise + gp.jitter, optimizer=None, normalize_y=True)
    ref.fit(gp.window_X, gp.window_y)
    return ref.predict(Xq, return_std=True)


@pytest.mark.parametrize("n", [1, 2, 5, 40, 150])
def test_matches_sklearn_with_same_hyperparameters(n):
    X, y = data(n + 10)
    gp = fill(GPSurrogate(window=64, refit_every=16), X[:n], y[:n])
    mean, sd = gp.predict(X[n:])
    ref_mean, ref_sd = sklearn_latent(gp, X[n:])
    np.testing.assert_allclose(mean, ref_mean, rtol=0, atol=1e-6)
    np.testing.assert_allclose(sd, ref_sd, rtol=0, atol=1e-6)
    assert mean.dtype == np.float64 and sd.dtype == np.float64


def test_sd_is_latent_sklearn_full_kernel_minus_noise():
    X, y = data(60)
    gp = fill(GPSurrogate(window=64, refit_every=16), X[:50], y[:50])
    full = GaussianProcessRegressor(gp.kernel, alpha=gp.jitter, optimizer=None, normalize_y=True)
    full.fit(gp.window_X, gp.window_y)
    m, s = full.predict(X[50:], return_std=True)
    y_std = np.std(gp.window_y)
    mean, sd = gp.predict(X[50:])
    np.testing.assert_allclose(mean, m, atol=1e-6)
    np.testing.assert_allclose(sd**2, s**2 - gp.kernel.k2.noise_level * y_std**2, atol=1e-9)


def test_refits_change_hyperparameters_by_marginal_likelihood():
    X, y = data(64)
    gp = fill(GPSurrogate(window=64, refit_every=64), X[:3], y[:3])
    before = gp.kernel.theta.copy()
    gp.add(X[3], y[3])  # 4th addition: first warm-up refit
    assert not np.array_equal(before, gp.kernel.theta)
    fill(gp, X[4:64], y[4:64])
    # after the refit at 64, the hyperparameters are a local optimum: better than the start
    ref = GaussianProcessRegressor(gp.kernel, alpha=gp.jitter, optimizer=None, normalize_y=True)
    ref.fit(gp.window_X, gp.window_y)
    assert ref.log_marginal_likelihood(gp.kernel.theta) > ref.log_marginal_likelihood(before)


def test_window_keeps_most_recent_observations_and_stays_exact():
    X, y = data(300)
    gp = fill(GPSurrogate(window=32, refit_every=1000), X, y)
    assert gp.n_obs == 300
    n = len(gp.window_y)
    assert 24 < n <= 32
    np.testing.assert_array_equal(gp.window_y, y[-n:])
    np.testing.assert_array_equal(gp.window_X, X[-n:])
    mean, sd = gp.predict(X[:5])
    ref_mean, ref_sd = sklearn_latent(gp, X[:5])
    np.testing.assert_allclose(mean, ref_mean, atol=1e-6)
    np.testing.assert_allclose(sd, ref_sd, atol=1e-6)


def test_prior_and_single_observation():
    gp = GPSurrogate(constant_value=4.0)
    mean, sd = gp.predict(np.zeros((3, 2)))
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(sd, 2.0)
    gp.add([0.0, 0.0], 0.3)
    mean, sd = gp.predict([[0.0, 0.0], [50.0, 50.0]])
    np.testing.assert_allclose(mean, 0.3)  # one point: normalised prior mean is the point itself
    assert sd[0] < sd[1] and sd[1] == pytest.approx(2.0)


def test_resume_bit_for_bit_through_torch_save():
    X, y = data(260, d=4)
    kwargs = dict(window=48, refit_every=20, seed=3)
    a = fill(GPSurrogate(**kwargs), X[:90], y[:90])
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = GPSurrogate(**kwargs)
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert b.n_obs == a.n_obs
    for m1, m2 in zip(a.predict(X[200:]), b.predict(X[200:]), strict=True):
        np.testing.assert_array_equal(m1, m2)
    fill(a, X[90:200], y[90:200])  # crosses window drops and several refits
    fill(b, X[90:200], y[90:200])
    np.testing.assert_array_equal(a.kernel.theta, b.kernel.theta)
    for m1, m2 in zip(a.predict(X[200:]), b.predict(X[200:]), strict=True):
        np.testing.assert_array_equal(m1, m2)


def test_empty_state_round_trip_and_settings_mismatch():
    buf = io.BytesIO()
    torch.save(GPSurrogate().state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    b = GPSurrogate()
    b.load_state_dict(state)
    assert b.n_obs == 0 and b.predict(np.zeros((1, 3)))[1][0] == 1.0
    with pytest.raises(ValueError, match="window=128 in the state"):
        GPSurrogate(window=64).load_state_dict(state)


def test_errors():
    gp = GPSurrogate()
    gp.add([1.0, 2.0], 0.1)
    with pytest.raises(ValueError, match="x has 3 features, expected 2"):
        gp.add([1.0, 2.0, 3.0], 0.1)
    with pytest.raises(ValueError, match="X has 1 features, expected 2"):
        gp.predict([[1.0]])
    with pytest.raises(ValueError, match="non-finite"):
        gp.add([1.0, 2.0], float("nan"))
    with pytest.raises(ValueError, match="window=2"):
        GPSurrogate(window=2)


def test_duplicate_inputs_stay_positive_definite():
    gp = GPSurrogate(window=16, refit_every=8)
    for i in range(40):
        gp.add([0.5, -1.0], 0.01 * (i % 3))
    mean, sd = gp.predict([[0.5, -1.0]])
    assert np.isfinite(mean).all() and np.isfinite(sd).all()
