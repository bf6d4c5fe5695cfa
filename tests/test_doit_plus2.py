"""DOIT+2's knob (beyond the paper), off in the paper-faithful DOIT: the anchored cold start
(``initial="anchored"``): the first cycle on the most conservative candidate, and the rollback of a cycle
that gives back half the progress made since training began."""

from __future__ import annotations

import io

import pytest
import torch
from test_controller import make_opt, make_problem, train

from doit.cycle import Cycle, lost_half, rose
from doit.score import WORST_SCORE, Spread
from doit.selection import BanditSelect, anchor
from doit.space import Candidate, expand

PAPER15 = {
    "sgd": {"lr": [0.1, 0.01, 0.001]},
    "sgdm": {"lr": [0.1, 0.01, 0.001], "momentum": [0.9]},
    "adagrad": {"lr": [0.1, 0.01, 0.001]},
    "rmsprop": {"lr": [0.1, 0.01, 0.001]},
    "adam": {"lr": [0.1, 0.01, 0.001]},
}


# ----------------------------------------------------------------------------------------------- anchor
def test_the_anchor_is_the_smallest_lr_of_a_first_and_second_moment_optimizer():
    candidates = expand(PAPER15)
    assert candidates[anchor(candidates)] == Candidate("adam", (("lr", 0.001),))


def test_the_anchor_falls_back_to_second_moments_then_to_the_smallest_lr_in_space_order():
    no_adam = expand({k: v for k, v in PAPER15.items() if k != "adam"})
    assert no_adam[anchor(no_adam)] == Candidate("adagrad", (("lr", 0.001),))  # before rmsprop: space order
    plain = expand({"sgd": {"lr": [0.1, 0.01]}, "sgdm": {"lr": [0.01], "momentum": [0.9]}})
    assert plain[anchor(plain)].optimizer == "sgd"  # SGDM's lr ties; first in space order
    centered = expand({"rmsprop": {"lr": [0.01], "centered": [True]}, "adagrad": {"lr": [0.001]}})
    assert centered[anchor(centered)].optimizer == "rmsprop"  # centred RMSprop keeps a first moment


# ------------------------------------------------------------------------------------------- selection
def test_the_anchored_cold_start_runs_the_anchor_first_then_weighted_draws():
    model, x, y = make_problem()
    opt = make_opt(model, space=PAPER15, initial="anchored", n_ini=4)
    train(model, opt, x, y, 0, 60)
    assert opt.log[0]["config"] == "adam(lr=0.001)" and opt.log[0]["phase"] == "anchor"
    assert [r["phase"] for r in opt.log[1:5]] == ["cold"] * 4


def test_the_anchored_bandit_tries_the_anchor_first_then_the_rest_in_space_order():
    bandit = BanditSelect(4, gamma=0.9, first=2)
    picks = []
    for cycle in range(4):
        picks.append(bandit.select(cycle, None).index)
        bandit.observe(picks[-1], 0.1)
    assert picks == [2, 0, 1, 3]


# --------------------------------------------------------------------------------------- progress guard
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


def test_lost_half_is_the_midpoint_between_the_level_and_the_untrained_loss():
    assert lost_half(1.0, 2.3) == pytest.approx(1.65)
    assert lost_half(2.3, 2.3) == 2.3  # no progress yet: the start itself
    assert lost_half(2.5, 2.3) == 2.5  # above the untrained loss: the start itself


def test_a_wreck_at_chance_loss_is_rolled_back_from_the_first_cycle_on():
    p, cycle = _cycle(guard_progress=True)
    score, diverged = _run(cycle, p, 2.30, [2.8, 2.4, 2.31, 2.31])  # ends above its start, no rise of 2x
    assert diverged and score == WORST_SCORE and torch.equal(p, torch.zeros(3))
    assert cycle.untrained == pytest.approx(2.30) and cycle.level is None
    assert not _run(cycle, p, 2.30, [2.2, 2.0, 1.8, 1.6])[1]  # progress: kept, level 1.7
    assert not _run(cycle, p, 1.6, [1.7, 1.8, 1.9, 1.9])[1]  # gives back less than half: kept
    kept = p.detach().clone()
    score, diverged = _run(cycle, p, 1.9, [2.2, 2.3, 2.3, 2.3])  # back at chance from 1.9: 2.3 > 2.1
    assert diverged and score == WORST_SCORE and torch.equal(p, kept)


def test_without_the_guard_the_same_wreck_is_kept():
    p, cycle = _cycle()
    assert not _run(cycle, p, 2.30, [2.8, 2.4, 2.31, 2.31])[1] and cycle.untrained is None


# ------------------------------------------------------------------------------------------ controller
def test_anchored_doit_plus_resumes_bit_for_bit_and_is_off_in_the_paper_doit():
    plus2 = dict(
        space=PAPER15, initial="anchored", rollback_rise=2.0, acquirer="thompson", context=True, inherit=True
    )
    model_a, x, y = make_problem()
    opt_a = make_opt(model_a, **plus2)
    train(model_a, opt_a, x, y, 0, 90)
    assert opt_a.cycle.guard_progress and opt_a.cycle.untrained is not None
    model_b, _, _ = make_problem()
    opt_b = make_opt(model_b, **plus2)
    train(model_b, opt_b, x, y, 0, 41)
    buf = io.BytesIO()
    torch.save({"model": model_b.state_dict(), "opt": opt_b.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    model_c, _, _ = make_problem(seed=1)
    model_c.load_state_dict(ckpt["model"])
    opt_c = make_opt(model_c, **plus2)
    opt_c.load_state_dict(ckpt["opt"])
    train(model_c, opt_c, x, y, 41, 90)
    assert all(torch.equal(a, c) for a, c in zip(model_a.parameters(), model_c.parameters(), strict=True))
    assert opt_a.log == opt_c.log
    paper = make_opt(make_problem()[0], space=PAPER15)
    assert not paper.cycle.guard_progress and paper.selector.initial == "weighted"


def test_a_state_dict_from_before_the_guard_loads():
    model, x, y = make_problem()
    opt = make_opt(model)
    train(model, opt, x, y, 0, 12)
    state = opt.state_dict()
    del state["doit"]["cycle"]["untrained"]
    again = make_opt(make_problem()[0])
    again.load_state_dict(state)
    assert again.cycle.untrained is None


def test_the_anchored_bandit_starts_on_the_anchor():
    model, x, y = make_problem()
    opt = make_opt(model, space=PAPER15, strategy="bandit", initial="anchored", score="progress")
    train(model, opt, x, y, 0, 30)
    assert [r["config"] for r in opt.log[:2]] == ["adam(lr=0.001)", "sgd(lr=0.1)"]


# ------------------------------------------------------------------------------------ cut short early
def test_a_cycle_whose_loss_rises_in_its_first_third_is_cut_short():
    p, cycle = _cycle(rollback_rise=2.0, cut_early=True)  # tau 4: looks after max(1, 4 // 3) = 1 loss
    assert not _run(cycle, p, 1.0, [0.8, 0.7, 0.6, 0.5])[1]  # level 0.55
    cycle.begin(torch.tensor(0.5))
    with torch.no_grad():
        p.add_(1.0)
    cycle.add(torch.tensor(1.5))  # 1.5 > 2 x 0.55
    assert cycle.cut_short() and not cycle.open and torch.equal(p, torch.full((3,), 4.0))
    assert cycle.level == pytest.approx(0.55)


def test_cut_short_needs_rollback_rise_and_looks_once():
    p, cycle = _cycle(cut_early=True)
    assert not cycle.cut_early
    p, cycle = _cycle(rollback_rise=2.0, cut_early=True)
    cycle.begin(torch.tensor(1.0))
    cycle.add(torch.tensor(1.1))
    assert not cycle.cut_short()  # no rise at the look
    cycle.add(torch.tensor(5.0))
    assert not cycle.cut_short() and cycle.open  # past the look: the end of the cycle decides


def test_the_cautious_controller_skips_the_rest_of_a_destructive_cycle():
    model, x, y = make_problem()
    space = {"adam": {"lr": [0.001, 10.0]}}
    opt = make_opt(model, space=space, tau=6, n_ini=3, initial="cautious", rollback_rise=2.0, seed=1)
    train(model, opt, x, y, 0, 80)
    cut = [r for r in opt.log if r["config"] == "adam(lr=10.0)"]
    assert cut and all(r["score"] == WORST_SCORE and r["recovered"] for r in cut)
    steps = [b["step"] - a["step"] for a, b in zip(opt.log, opt.log[1:], strict=False)]
    assert {s for a, s in zip(opt.log, steps, strict=False) if a["config"] == "adam(lr=10.0)"} == {2}
    assert opt.log[0]["config"] == "adam(lr=0.001)" and opt.cycle.guard_progress


# ---------------------------------------------------------------------------------------------- warm-up
def test_rose_tests_the_end_level_against_the_start_with_the_tails_own_spread():
    flat_wreck = [5.0, 3.0, 2.31, 2.30, 2.29, 2.30, 2.31, 2.30]  # tail sd 0.008
    assert rose(flat_wreck, 1.9)
    noisy = [1.2, 0.4, 1.8, 0.3, 2.6, 0.5, 1.9, 0.2]  # tail mean 1.3, sd 0.9: not significant
    assert not rose(noisy, 1.0)
    assert not rose([1.0, 0.9, 0.8, 0.7], 1.0)  # a fall


def test_the_warmup_keeps_the_anchor_while_it_lowers_the_level_fast_then_draws():
    model, x, y = make_problem()
    opt = make_opt(model, space=PAPER15, initial="warmup", n_ini=6)
    train(model, opt, x, y, 0, 80)
    anchor_run = [r["phase"] for r in opt.log].index("cold")
    assert anchor_run >= 1 and all(r["config"] == "adam(lr=0.001)" for r in opt.log[:anchor_run])
    assert not opt.selector.warming and opt.cycle.guard_rise and opt.cycle.guard_progress
    select = opt.selector
    select.warming = True
    select.settle(1.3)
    assert select.warming
    select.settle(1.1)
    assert not select.warming
    state = select.state_dict()
    del state["warming"]
    select.load_state_dict(state)
    assert not select.warming
