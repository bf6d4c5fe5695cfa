"""Eq. 2 (performance score) and eq. 3 (sampling weight): golden numbers and properties."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from doit.score import EPS, WORST_SCORE, performance_score, sampling_weight


def test_eq2_golden_decreasing_losses():
    # l0 = 2.5, l = (2, 1.5, 1), tau = 3, alpha = 0.5.
    # deltas: 0.5/2.5 = 1/5, 0.5/2 = 1/4, 0.5/1.5 = 1/3 -> mu = 47/180 = 0.261111...
    # sigma (ddof 0) = sqrt(((1/5-47/180)^2 + (1/4-47/180)^2 + (1/3-47/180)^2) / 3) = 0.0549972...
    # upper = (2.5 - 2) / (2.5 * 3) = 1/15; lower = (2.5 - 1) / (2.5 * 3) = 1/5
    # s = tanh((47/180 + 1/15 + 1/5) / 3 + 0.5 * 0.0549972) = tanh(0.2034243) = 0.2006642
    assert performance_score([2.0, 1.5, 1.0], 2.5, 0.5) == pytest.approx(0.2006641981342561, abs=1e-12)


def test_eq2_golden_increasing_losses():
    # l0 = 1, l = (2, 4), alpha = 0: deltas (1-2)/2 = -1/2, (2-4)/4 = -1/2 -> mu = -1/2, sigma = 0
    # upper = (1 - 4) / (4 * 2) = -3/8; lower = (1 - 2) / (2 * 2) = -1/4
    # s = tanh((-1/2 - 3/8 - 1/4) / 3) = tanh(-3/8)
    assert performance_score([2.0, 4.0], 1.0, 0.0) == pytest.approx(math.tanh(-0.375), abs=1e-12)
    assert performance_score([2.0, 4.0], 1.0, 0.0) == pytest.approx(-0.35835739835078595, abs=1e-12)


def test_eq2_golden_single_step():
    # tau = 1, l0 = 4, l = (2,): delta = 1/2, sigma = 0, upper = lower = (4 - 2) / (4 * 1) = 1/2
    # s = tanh((1/2 + 1/2 + 1/2) / 3) = tanh(1/2)
    assert performance_score([2.0], 4.0, 0.5) == pytest.approx(0.46211715726000974, abs=1e-12)


def test_eq2_zero_losses_stay_finite():
    # l0 = 1, l = (0, 0), alpha = 1: deltas 1/(1+EPS) ~ 1 and 0/(0+EPS) = 0 -> mu = 1/2, sigma = 1/2
    # upper = lower = (1 - 0) / (1 * 2) = 1/2; s = tanh((1/2 + 1/2 + 1/2) / 3 + 1/2) = tanh(1)
    assert performance_score([0.0, 0.0], 1.0, 1.0) == pytest.approx(0.7615941559557649, abs=1e-9)
    assert performance_score([0.0, 0.0], 0.0, 0.5) == 0.0
    assert EPS > 0


def test_eq2_constant_losses_score_zero():
    assert performance_score([0.7] * 5, 0.7, 0.5) == 0.0


@pytest.mark.parametrize(
    "losses, l0", [([1.0, float("nan")], 2.0), ([1.0, float("inf")], 2.0), ([1.0, 0.5], float("nan"))]
)
def test_eq2_non_finite_loss_gives_worst_score(losses, l0):
    assert performance_score(losses, l0, 0.5) == WORST_SCORE == -1.0


def test_eq2_accepts_arrays_and_tensors():
    expected = performance_score([2.0, 1.5, 1.0], 2.5, 0.5)
    assert performance_score(np.array([2.0, 1.5, 1.0]), 2.5, 0.5) == expected
    got = performance_score(torch.tensor([2.0, 1.5, 1.0]), torch.tensor(2.5), 0.5)
    assert isinstance(got, float) and got == pytest.approx(expected, abs=1e-7)


def test_eq2_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        performance_score([], 1.0, 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        performance_score([1.0, -0.1], 1.0, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        performance_score([1.0], 1.0, float("nan"))


def test_eq3_golden():
    assert sampling_weight(0.2, 0.1) == pytest.approx(0.6)  # (0.2 + 1) / 2
    assert sampling_weight(-0.9, 0.1) == pytest.approx(0.1)  # max(0.05, 0.1)
    assert sampling_weight(1.0, 0.1) == 1.0
    assert sampling_weight(-1.0, 0.0) == 0.0


def test_eq3_rejects_bad_input():
    with pytest.raises(ValueError, match="w_min"):
        sampling_weight(0.0, 1.5)
    with pytest.raises(ValueError, match="s="):
        sampling_weight(float("nan"), 0.1)


loss_values = st.one_of(
    st.floats(min_value=0.0, allow_nan=False, allow_infinity=True),
    st.sampled_from([0.0, 5e-324, 1e-300, 1e300, float("nan"), float("inf")]),
)


@given(
    losses=st.lists(loss_values, min_size=1, max_size=30),
    l0=loss_values,
    alpha=st.floats(min_value=0.0, max_value=10.0),
    w_min=st.floats(min_value=0.0, max_value=1.0),
)
def test_score_and_weight_bounded_for_any_losses(losses, l0, alpha, w_min):
    s = performance_score(losses, l0, alpha)
    assert -1.0 <= s <= 1.0
    assert w_min <= sampling_weight(s, w_min) <= 1.0


@given(
    losses=st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=20),
    l0=st.floats(min_value=1e-3, max_value=1e3),
    scale=st.floats(min_value=1e-3, max_value=1e3),
)
def test_score_is_scale_invariant(losses, l0, scale):
    # every term of eq. 2 is a ratio of losses; only EPS (1e-12 on losses >= 1e-6) breaks the symmetry
    scaled = performance_score([v * scale for v in losses], l0 * scale, 0.5)
    assert scaled == pytest.approx(performance_score(losses, l0, 0.5), abs=1e-5)


@given(st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=2, max_size=20, unique=True))
def test_score_sign_follows_loss_direction(values):
    down = sorted(values, reverse=True)
    assert performance_score(down[1:], down[0], 0.0) > 0
    assert performance_score(down[::-1][1:], down[-1], 0.0) < 0


def test_spread_reads_sigma_as_std_or_variance():
    # deltas 0.2, 0.5, -1/3: mean 0.1222, population std 0.3449, variance 0.1190
    assert performance_score([2.0, 1.0, 1.5], 2.5, 0.5) == pytest.approx(0.2930882842401789, abs=1e-12)
    assert performance_score([2.0, 1.0, 1.5], 2.5, 0.5, spread="var") == pytest.approx(
        0.18679318861020552, abs=1e-12
    )
    assert performance_score([2.0, 1.5, 1.0], 2.5, 0.5, spread="std") == performance_score(
        [2.0, 1.5, 1.0], 2.5, 0.5
    )
    with pytest.raises(ValueError, match="spread='sd' is not valid; choose one of std, var"):
        performance_score([1.0], 1.0, 0.5, spread="sd")
