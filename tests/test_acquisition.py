"""Eq. 4-7: transferability weight and acquisition schedules, golden numbers and properties."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from doit.acquisition import SCHEDULES, acquisition, transferability_weight


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_schedules_exported():
    assert SCHEDULES == ("eq7", "halve", "no_transfer", "no_halving")


def test_eq6_golden():
    # beta = 0.5, omega_p = 0.8, omega_d = (0, ln 3): sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4
    # omega_t = 0.5 * 0.8 + 0.5 * (1/2 + 3/4) / 2 = 0.4 + 0.3125 = 0.7125
    assert transferability_weight(0.8, [0.0, math.log(3.0)], 0.5) == pytest.approx(0.7125, abs=1e-12)
    # beta = 0: only the metrics; beta = 1: only omega_p
    assert transferability_weight(0.8, [math.log(3.0)], 0.0) == pytest.approx(0.75, abs=1e-12)
    assert transferability_weight(0.8, [-5.0, 7.0], 1.0) == pytest.approx(0.8, abs=1e-12)


def test_eq6_empty_metrics_only_with_beta_one():
    assert transferability_weight(0.3, [], 1.0) == 0.3
    with pytest.raises(ValueError, match="beta=1.0"):
        transferability_weight(0.3, [], 0.5)


@pytest.mark.parametrize(
    "omega_p, omega_d, beta, match",
    [(1.2, [0.0], 0.5, "omega_p"), (0.5, [0.0], -0.1, "beta"), (0.5, [float("nan")], 0.5, "omega_d")],
)
def test_eq6_rejects_bad_input(omega_p, omega_d, beta, match):
    with pytest.raises(ValueError, match=match):
        transferability_weight(omega_p, omega_d, beta)


def test_acquisition_golden():
    # s_mu = 0.2, s_sigma = 0.4, omega_t = 0.5, i = 25, n = 10 -> floor(25/10) = 2, h = 2**-2 = 0.25
    # eq7:   sigmoid(0.2 + (1 - 0.25 * 0.5) * 0.4) = sigmoid(0.2 + 0.35) = sigmoid(0.55)
    # halve: sigmoid(0.2 + (1 - 0.5) * 0.25 * 0.4) = sigmoid(0.25)
    # no_transfer (eq. 4, alpha = 0.25): 0.2 + 0.25 * 0.4 = 0.3
    # no_halving (eq. 5): 0.2 + (1 - 0.5) * 0.4 = 0.4
    args = (0.2, 0.4, 0.5, 25, 10)
    assert acquisition(*args, schedule="eq7") == pytest.approx(0.6341355910108007, abs=1e-12)
    assert acquisition(*args, schedule="halve") == pytest.approx(0.5621765008857981, abs=1e-12)
    assert acquisition(*args, schedule="no_transfer", alpha=0.25) == pytest.approx(0.3, abs=1e-12)
    assert acquisition(*args, schedule="no_halving") == pytest.approx(0.4, abs=1e-12)
    assert acquisition(*args) == acquisition(*args, schedule="eq7")
    assert acquisition(0.0, 1.0, 0.0, 0, 1, schedule="no_transfer") == pytest.approx(0.5)  # default alpha


def test_eq7_and_halve_agree_in_first_period():
    # h = 1 while i < n: both give sigmoid(s_mu + (1 - omega_t) s_sigma) = sigmoid(eq. 5)
    for i in range(4):
        eq7 = acquisition(0.1, 0.3, 0.6, i, 4, schedule="eq7")
        assert eq7 == pytest.approx(acquisition(0.1, 0.3, 0.6, i, 4, schedule="halve"), abs=1e-15)
        assert eq7 == pytest.approx(sigmoid(acquisition(0.1, 0.3, 0.6, i, 4, schedule="no_halving")))


def test_exploration_weight_direction():
    # as printed (eq7) the weight of s_sigma grows from 1 - omega_t to 1; "halve" shrinks it to 0
    eq7 = [acquisition(0.0, 1.0, 0.8, i, 5, schedule="eq7") for i in range(0, 60, 5)]
    halve = [acquisition(0.0, 1.0, 0.8, i, 5, schedule="halve") for i in range(0, 60, 5)]
    assert all(a < b for a, b in zip(eq7, eq7[1:], strict=False))
    assert all(a > b for a, b in zip(halve, halve[1:], strict=False))
    assert eq7[-1] == pytest.approx(sigmoid(1.0), abs=1e-3)
    assert halve[-1] == pytest.approx(0.5, abs=1e-3)


def test_acquisition_vectorised():
    mu = np.array([0.1, -0.2, 0.3])
    sd = np.array([0.05, 0.5, 0.0])
    for schedule in SCHEDULES:
        out = acquisition(mu, sd, 0.3, 7, 3, schedule=schedule)
        assert isinstance(out, np.ndarray) and out.shape == (3,)
        singles = [
            acquisition(float(m), float(s), 0.3, 7, 3, schedule=schedule) for m, s in zip(mu, sd, strict=True)
        ]
        assert all(isinstance(v, float) for v in singles)
        np.testing.assert_allclose(out, singles, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"schedule": "ucb"}, "eq7, halve, no_transfer, no_halving"),
        ({"n": 0}, "n=0 must be >= 1"),
        ({"i": -1}, "i=-1 must be >= 0"),
        ({"omega_t": 1.5}, "omega_t"),
    ],
)
def test_acquisition_rejects_bad_input(kwargs, match):
    args = {"s_mu": 0.0, "s_sigma": 1.0, "omega_t": 0.5, "i": 0, "n": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        acquisition(**args)


@given(
    mu=st.lists(st.floats(min_value=-5, max_value=5), min_size=2, max_size=10),
    sd=st.floats(min_value=0, max_value=5),
    omega_t=st.floats(min_value=0, max_value=1),
    i=st.integers(min_value=0, max_value=200),
    n=st.integers(min_value=1, max_value=20),
    schedule=st.sampled_from(SCHEDULES),
)
def test_acquisition_monotone_in_mean(mu, sd, omega_t, i, n, schedule):
    mu = np.sort(np.asarray(mu))
    out = acquisition(mu, np.full_like(mu, sd), omega_t, i, n, schedule=schedule)
    assert np.all(np.diff(out) >= 0)
