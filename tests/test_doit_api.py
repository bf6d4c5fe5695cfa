"""DOIT in other people's loops: observe + step(), per-group settings, late param groups,
torch-shaped state_dict, LR schedulers, GradScaler; argument checks; divergence guard."""

import io
import math

import pytest
import torch
from torch import nn

import doit

SPACE = {"sgdm": {"lr": [0.05], "momentum": [0.9]}, "adam": {"lr": [0.005]}, "sgd": {"lr": [0.05]}}


def problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 10, generator=g)
    y = (x[:, :3].argmax(1) + (x[:, 3] > 1).long()) % 3
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)), x, y


def make(params, **kw):
    return doit.DOIT(params, **({"space": SPACE, "tau": 3, "n_ini": 2, "halving_period": 2, "seed": 1} | kw))


def losses(model, x, y, steps, start=0):
    for k in range(start, steps):
        i = (16 * k) % len(x)
        yield k, nn.functional.cross_entropy(model(x[i : i + 16]), y[i : i + 16])


def train(model, opt, x, y, steps, start=0, how="loss", hook=None):
    for k, loss in losses(model, x, y, steps, start):
        opt.zero_grad()
        loss.backward()
        if how == "observe":
            opt.observe(loss.detach())
            opt.step()
        else:
            opt.step(loss=loss.detach())
        if hook:
            hook(k)


def test_observe_then_step_equals_step_with_loss():
    runs = []
    for how in ("loss", "observe"):
        model, x, y = problem()
        opt = make(model.parameters())
        train(model, opt, x, y, 40, how=how)
        runs.append(([p.detach().clone() for p in model.parameters()], opt.log))
    assert all(torch.equal(a, b) for a, b in zip(runs[0][0], runs[1][0], strict=True))
    assert runs[0][1] == runs[1][1]


def test_step_without_a_loss_says_what_to_do():
    model, _, _ = problem()
    opt = make(model.parameters())
    with pytest.raises(ValueError, match=r"opt\.observe\(loss\) then opt\.step\(\)"):
        opt.step()
    opt.observe(1.0)
    with pytest.raises(ValueError, match="exactly once"):
        opt.step(loss=1.0)


def test_group_settings_override_candidate_hyperparameters():
    """A zero-gradient step moves parameters only by weight decay: the no-decay group must not move."""
    model = nn.Linear(4, 2)
    groups = [{"params": [model.weight]}, {"params": [model.bias], "weight_decay": 0.0}]
    opt = doit.DOIT(groups, space={"sgd": {"lr": [0.1], "weight_decay": [0.5]}}, tau=2, n_ini=1)
    w, b = model.weight.detach().clone(), model.bias.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step(loss=1.0)
    assert torch.allclose(model.weight, w * (1 - 0.1 * 0.5))
    assert torch.equal(model.bias, b)


def test_add_param_group_mid_run_trains_and_resumes_bit_for_bit():
    def run(stop, resume_at=None):
        model, x, y = problem()
        head, body = list(model[2].parameters()), list(model[0].parameters())
        for p in body:
            p.requires_grad_(False)
        opt = make(head, strategy="cyclical")
        start = model[0].weight.detach().clone()

        def unfreeze(k):
            if k == 4:  # mid-cycle, after a switch
                for p in body:
                    p.requires_grad_(True)
                opt.add_param_group({"params": body, "lr": 0.5})

        if resume_at is None:
            train(model, opt, x, y, stop, hook=unfreeze)
            return model, opt, start
        train(model, opt, x, y, resume_at, hook=unfreeze)
        buf = io.BytesIO()
        torch.save({"m": model.state_dict(), "o": opt.state_dict()}, buf)
        buf.seek(0)
        ckpt = torch.load(buf, weights_only=True)
        model2, _, _ = problem(seed=5)
        model2.load_state_dict(ckpt["m"])
        opt2 = make(list(model2[2].parameters()), strategy="cyclical")
        opt2.add_param_group({"params": list(model2[0].parameters()), "lr": 0.5})
        opt2.load_state_dict(ckpt["o"])
        train(model2, opt2, x, y, stop, start=resume_at)
        return model2, opt2, start

    model_a, opt_a, start = run(20)
    assert not torch.equal(model_a[0].weight, start)  # the late group trained
    assert len({r["config"] for r in opt_a.log}) == 3
    model_b, opt_b, _ = run(20, resume_at=8)
    assert all(torch.equal(a, b) for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True))
    assert opt_a.log == opt_b.log


def test_state_dict_has_torch_layout():
    model, x, y = problem()
    opt = make(model.parameters(), space={"adam": {"lr": [0.01]}})
    train(model, opt, x, y, 5)
    sd = opt.state_dict()
    assert {"state", "param_groups"} <= set(sd)
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1, 2, 3]]
    assert set(sd["state"]) == {0, 1, 2, 3} and "exp_avg" in sd["state"][0]
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    make(model.parameters(), space={"adam": {"lr": [0.01]}}).load_state_dict(
        torch.load(buf, weights_only=True)
    )


def test_checkpoint_of_the_old_layout_is_refused_in_one_line():
    model, _, _ = problem()
    old = {"base": {}, "inner": None, "current": None, "weights": [1.0], "log": []}
    with pytest.raises(ValueError, match="no .doit. entry .* restart the run"):
        make(model.parameters()).load_state_dict(old)


def test_schedulers_wrap_doit():
    model, x, y = problem()
    opt = make(model.parameters(), strategy="cyclical")
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=30)  # cycle_momentum=True
    seen = []
    for _, loss in losses(model, x, y, 30):
        opt.zero_grad()
        loss.backward()
        opt.step(loss=loss.detach())
        group, inner = opt.param_groups[0], opt._inner.param_groups[0]
        coef = inner["momentum"] if opt.current.optimizer != "adam" else inner["betas"][0]
        seen.append((opt.current.optimizer, coef, group["momentum"]))
        sched.step()
    for name, coef, momentum in seen:
        assert coef == (0.0 if name == "sgd" else momentum)  # plain SGD keeps no momentum
    assert len({m for _, _, m in seen}) > 5

    model, x, y = problem()
    opt = make(model.parameters(), strategy="cyclical")
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    train(model, opt, x, y, 4)
    plateau.step(1.0)
    plateau.step(2.0)  # no improvement: halve
    train(model, opt, x, y, 5, start=4)
    assert opt.param_groups[0]["lr"] == 0.5
    assert opt._inner.param_groups[0]["lr"] == pytest.approx(0.5 * opt.current.lr)


def test_grad_scaler_step_with_loss():
    try:
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    except (RuntimeError, AssertionError) as err:  # pragma: no cover - depends on the torch build
        pytest.skip(f"torch.amp.GradScaler('cpu') cannot be built here: {err}")
    model, x, y = problem()
    opt = make(model.parameters())
    for _, loss in losses(model, x, y, 12):
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt, loss=loss.detach())
        scaler.update()
    assert opt.global_step == 12 and len(opt.log) == 4


@pytest.mark.parametrize("strategy", list(doit.Strategy))
def test_enum_members_and_strings_are_the_same(strategy):
    runs = []
    for value in (strategy, str(strategy.value)):
        model, x, y = problem()
        opt = make(
            model.parameters(),
            strategy=value,
            schedule=doit.Schedule.halve,
            initial=doit.Initial.uniform,
            compression=doit.Compression.random,
        )
        train(model, opt, x, y, 20)
        runs.append(opt.log)
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"tau": 0}, "tau=0 must be >= 1"),
        ({"tau": 2.5}, "tau=2.5 must be an integer"),
        ({"n_ini": -1}, "n_ini=-1"),
        ({"halving_period": 0}, "halving_period=0"),
        ({"omega_t": 1.5}, "omega_t=1.5"),
        ({"alpha": -0.1}, "alpha=-0.1"),
        ({"w_min": 0.0}, r"w_min=0.0 must lie in \(0.0, 1.0\]"),
        ({"explode_factor": 1.0}, "explode_factor=1.0"),
        ({"explode_factor": math.inf}, "explode_factor=inf"),
        ({"n_components": 0}, "n_components=0"),
        ({"seed": 2**32}, "seed=4294967296"),
        ({"seed": -1}, "seed=-1"),
        ({"strategy": "greedy"}, "strategy='greedy' is not valid; choose one of doit, random, cyclical"),
        ({"schedule": "x"}, "schedule='x'"),
        ({"initial": "best"}, "initial='best'"),
        ({"compression": "svd"}, "compression='svd'"),
    ],
)
def test_arguments_are_checked_in_one_line(bad, match):
    model, _, _ = problem()
    with pytest.raises(ValueError, match=match) as err:
        make(model.parameters(), **bad)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------ divergence
@pytest.mark.parametrize("lr", [1e30, 1e38])
def test_absurd_lr_ends_with_finite_parameters(lr):
    model, x, y = problem()
    opt = make(model.parameters(), space={"sgd": {"lr": [lr]}, "adam": {"lr": [lr]}}, strategy="cyclical")
    for k, loss in losses(model, x, y, 25):
        opt.zero_grad()
        loss.backward()
        opt.step(loss=loss.detach())
        if k % 7 == 6:
            opt.guard()  # as the runner does before an evaluation
    opt.finish()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert sum(r["recovered"] for r in opt.log) >= 3
    assert all(r["score"] == -1.0 for r in opt.log if r["recovered"])


def test_guard_rolls_back_a_diverged_open_cycle():
    model, x, y = problem()
    opt = make(model.parameters(), strategy="cyclical")
    train(model, opt, x, y, 4)  # cycle 1 open, one update in
    assert not opt.guard()
    start = opt.cycle.saved[0].clone()
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    assert opt.guard() and not opt.guard()
    assert torch.equal(model[0].weight, start)
    assert opt.log[-1]["recovered"] and opt.log[-1]["score"] == -1.0
    train(model, opt, x, y, 8, start=4)  # the next cycle starts at the next step, with the next candidate
    assert opt.log[2]["step"] == 4 and opt.log[2]["config"] == doit.space.label(opt.configs[2])


def test_finish_scores_the_partial_cycle_once_and_resumes():
    model, x, y = problem()
    opt = make(model.parameters())
    train(model, opt, x, y, 11)  # cycle 3 holds l0 and one more loss
    assert opt.log[-1]["score"] is None
    opt.finish()
    score = opt.log[-1]["score"]
    assert -1.0 <= score <= 1.0 and not opt.log[-1]["recovered"]
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    opt.finish()
    again = make(model.parameters())
    again.load_state_dict(torch.load(buf, weights_only=True))
    again.finish()
    assert opt.log == again.log and opt.log[-1]["score"] == score
    train(model, again, x, y, 14, start=11)  # training on after finish starts a new cycle
    assert len(again.log) == 5 and again.log[-1]["step"] == 11


def test_finish_rolls_back_a_diverged_last_update():
    model, x, y = problem()
    opt = make(model.parameters())
    train(model, opt, x, y, 7)
    with torch.no_grad():
        model[2].bias.fill_(float("inf"))  # as if the last update (no loss seen yet) blew up
    opt.finish()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert opt.log[-1]["recovered"] and opt.log[-1]["score"] == -1.0


def test_spread_var_changes_only_the_scores_reading():
    logs = {}
    for spread in ("std", "var"):
        model, x, y = problem()
        opt = make(model.parameters(), strategy="cyclical", spread=spread)
        train(model, opt, x, y, 10)
        logs[spread] = [r["score"] for r in opt.log[:3]]
    assert all(v < s for s, v in zip(logs["std"], logs["var"], strict=True))  # |delta| < 1: var < std


def test_overflow_without_the_guard_is_one_line():
    model, x, y = problem()
    opt = make(model.parameters(), space={"adam": {"lr": [1e38]}}, nan_guard=False)
    with pytest.raises(ValueError, match=r"adam\(lr=1e\+38\) overflowed") as err:
        train(model, opt, x, y, 3)
    assert "\n" not in str(err.value)


def test_fused_doit_runs_its_candidates_fused_and_trains_as_the_default():
    """``DOIT(fused=True)``: every candidate that has a fused implementation gets it; the same picks."""
    logs = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 2)
        space = {"adam": {"lr": [0.01]}, "rmsprop": {"lr": [0.01]}, "sgd": {"lr": [0.1]}}
        opt = doit.DOIT(model.parameters(), space=space, tau=3, n_ini=2, fused=fused)
        x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
        seen = set()
        for _ in range(30):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step(loss=loss.detach())
            opt.zero_grad()
            seen.add((opt.current.optimizer, bool(opt._inner.param_groups[0].get("fused"))))
        assert all(f == (fused and name != "rmsprop") for name, f in seen)
        logs.append([r["config"] for r in opt.log])
    assert logs[0] == logs[1]


def test_fused_with_inherit_is_one_line():
    with pytest.raises(ValueError, match="inherit=True cannot be combined with fused=True"):
        doit.DOIT(nn.Linear(2, 2).parameters(), space={"adam": {"lr": [0.01]}}, fused=True, inherit=True)
