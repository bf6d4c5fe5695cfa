"""DOIT+'s knobs (beyond the paper), each off in the paper-faithful DOIT: the progress score,
the rollback of a cycle whose loss rises, Thompson sampling, the context input, and the bandit strategy."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from test_controller import make_opt, make_problem, train
from torch import nn

from doit.cycle import RISE_FLOOR, Cycle
from doit.score import WORST_SCORE, Score, Spread, progress_score, tail_mean
from doit.selection import BanditSelect


# ------------------------------------------------------------------------------------- progress score
def test_progress_score_is_the_log_fall_of_the_loss_level():
    assert tail_mean([4.0, 3.0, 2.0, 1.0]) == 1.5  # the last half
    assert tail_mean([5.0, 2.0, 1.0]) == 1.5  # rounded up: the last two of three
    assert progress_score([1.0, 0.9, 0.8, 0.8], 1.0) == pytest.approx(math.tanh(math.log(1.0 / 0.8)))
    assert progress_score([1.0, 1.2, 1.2], 1.0) < 0  # a rise scores negative
    assert progress_score([2.0, float("nan")], 1.0) == WORST_SCORE


def test_a_spike_the_cycle_caused_and_half_undid_does_not_score_high():
    """Eq. 2 and a fitted slope reward falling from a spike; the level score compares with the start."""
    losses = [500.0, 300.0, 100.0, 50.0, 20.0, 10.0, 5.0, 3.0, 2.5, 2.2]
    assert progress_score(losses, 1.6) < -0.5


@pytest.mark.parametrize("seed", range(20))
def test_progress_score_lies_in_the_open_interval(seed):
    rng = np.random.default_rng(seed)
    losses = rng.uniform(0, 10, size=int(rng.integers(1, 30)))
    assert -1.0 < progress_score(losses, float(rng.uniform(0, 10))) < 1.0


# ------------------------------------------------------------------------------------------- rollback
def _cycle(**kw):
    p = torch.nn.Parameter(torch.zeros(3))
    return p, Cycle([p], tau=4, alpha=0.5, spread=Spread.std, explode_factor=1e3, nan_guard=True, **kw)


def _run(cycle, p, l0, losses):
    cycle.begin(torch.tensor(l0))
    for loss in losses:
        with torch.no_grad():
            p.add_(1.0)
        cycle.add(torch.tensor(loss))
    return cycle.close()


def test_rollback_rise_undoes_a_cycle_whose_mean_loss_doubles_from_the_level_at_its_start():
    p, cycle = _cycle(rollback_rise=2.0, score=Score.progress)
    score, diverged = _run(cycle, p, 1.0, [0.9, 0.8, 0.7, 0.6])  # kept: level 0.65
    assert not diverged and cycle.level == pytest.approx(0.65) and score > 0
    kept = p.detach().clone()
    score, diverged = _run(cycle, p, 0.6, [0.9, 1.5, 1.6, 1.6])  # mean 1.4 > 2 x 0.65: a collapse
    assert diverged and score == WORST_SCORE and torch.equal(p, kept) and cycle.level == pytest.approx(0.65)


def test_the_first_cycle_is_measured_against_its_own_start_and_a_low_level_against_the_floor():
    p, cycle = _cycle(rollback_rise=2.0)
    assert _run(cycle, p, 1.6, [50.0, 20.0, 5.0, 2.0])[1]  # spike from l0: rolled back
    p, cycle = _cycle(rollback_rise=2.0)
    _run(cycle, p, 0.01, [0.01, 0.01, 0.01, 0.01])
    assert not _run(cycle, p, 0.01, [0.15, 0.1, 0.05, 0.02])[1]  # noise near 0: below 2 x RISE_FLOOR
    assert RISE_FLOOR == 0.1


def test_without_rollback_rise_a_collapse_below_the_1000x_guard_is_kept():
    p, cycle = _cycle()
    _run(cycle, p, 1.0, [0.9, 0.8, 0.7, 0.6])
    assert not _run(cycle, p, 0.6, [0.9, 1.5, 1.6, 1.6])[1]


# ------------------------------------------------------------------------------------------ controller
def test_doit_plus_knobs_train_resume_bit_for_bit_and_are_off_by_default():
    plus = dict(score="progress", rollback_rise=2.0, acquirer="thompson", context=True, inherit=True)
    model_a, x, y = make_problem()
    opt_a = make_opt(model_a, **plus)
    train(model_a, opt_a, x, y, 0, 90)
    assert any(r["phase"] == "surrogate" for r in opt_a.log)
    model_b, _, _ = make_problem()
    opt_b = make_opt(model_b, **plus)
    train(model_b, opt_b, x, y, 0, 41)
    buf = io.BytesIO()
    torch.save({"model": model_b.state_dict(), "opt": opt_b.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    model_c, _, _ = make_problem(seed=1)
    model_c.load_state_dict(ckpt["model"])
    opt_c = make_opt(model_c, **plus)
    opt_c.load_state_dict(ckpt["opt"])
    train(model_c, opt_c, x, y, 41, 90)
    assert all(torch.equal(a, c) for a, c in zip(model_a.parameters(), model_c.parameters(), strict=True))
    assert opt_a.log == opt_c.log
    paper = make_opt(make_problem()[0])
    assert (paper.cycle.score, paper.cycle.rollback_rise, paper.context) == ("eq2", None, False)
    assert paper.selector.acquirer == "argmax" and not paper.inherit


def test_context_adds_one_surrogate_input():
    model, x, y = make_problem()
    with_context, without = make_opt(model, context=True), make_opt(make_problem()[0])
    train(model, with_context, x, y, 0, 60)
    train(make_problem()[0], without, x, y, 0, 60)
    assert with_context.selector.bank._x_state.size == without.selector.bank._x_state.size + 1


def test_thompson_picks_differ_from_the_argmax_and_depend_on_the_seed():
    picks = {}
    for key, kw in {
        "argmax": {},
        "t3": {"acquirer": "thompson"},
        "t4": {"acquirer": "thompson", "seed": 4},
    }.items():
        model, x, y = make_problem()
        opt = make_opt(model, **kw)
        train(model, opt, x, y, 0, 150)
        picks[key] = [r["config"] for r in opt.log if r["phase"] == "surrogate"]
    assert picks["t3"] != picks["argmax"] and picks["t3"] != picks["t4"]


@pytest.mark.parametrize(
    ("kw", "match"), [({"rollback_rise": 0.5}, "rollback_rise"), ({"gamma": 0}, "gamma")]
)
def test_bad_knob_values_are_one_line(kw, match):
    with pytest.raises(ValueError, match=match):
        make_opt(make_problem()[0], **kw)


# ---------------------------------------------------------------------------------------------- bandit
def test_bandit_tries_each_candidate_once_then_follows_discounted_ucb():
    bandit = BanditSelect(3, gamma=0.5)
    for k in range(3):
        assert bandit.select(k, None).index == k
        bandit.observe(k, [0.5, -0.5, 0.0][k])
    # discounted counts 0.25, 0.5, 1 and sums 0.125, -0.25, 0: mean + 2 sqrt(0.5 log(1.75) / N)
    counts, means = np.array([0.25, 0.5, 1.0]), np.array([0.5, -0.5, 0.0])
    ucb = means + 2 * np.sqrt(0.5 * np.log(1.75) / counts)
    assert bandit.select(3, 2) == (int(np.argmax(ucb)), "ucb", [])
    state = bandit.state_dict()
    again = BanditSelect(3, gamma=0.5)
    again.load_state_dict(state)
    assert again.select(3, 2) == bandit.select(3, 2)


def test_bandit_strategy_trains_and_backtracks():
    model, x, y = make_problem()
    opt = make_opt(model, strategy="bandit", rollback_rise=2.0, score="progress")
    train(model, opt, x, y, 0, 100)
    assert [r["phase"] for r in opt.log[:5]] == ["explore"] * 5 and opt.log[5]["phase"] == "ucb"
    loss = nn.functional.cross_entropy(model(x), y)
    assert math.isfinite(loss.item())
