"""The optimizer registry (doit.optimizers): defaults, errors, convergence, state_dict, schedulers."""

import io
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from doit import optimizers
from doit.agd import AGD
from doit.toys import FUNCTIONS

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
import authors_adabound as adabound_golden  # noqa: E402

ALL = (
    "sgd",
    "sgdm",
    "adagrad",
    "rmsprop",
    "adam",
    "asgd",
    "adamw",
    "nadam",
    "adamax",
    "swats",
    "padam",
    "adabound",
    "agd",
    "prodigy",  # beyond the paper: the tuning-free family
    "schedulefree_adamw",
    "schedulefree_sgd",
    "dadapt_adam",
)

# lrs suited to each optimizer on Rosenbrock from the figure start (-1.5, 2), f = 12.5.
ROSENBROCK_LR = {
    "sgd": 2e-3,
    "sgdm": 1e-3,
    "adagrad": 1.0,
    "rmsprop": 0.05,
    "adam": 0.1,
    "asgd": 2e-3,
    "adamw": 0.1,
    "nadam": 0.05,
    "adamax": 1.0,
    "swats": 0.1,
    "padam": 0.05,
    "adabound": 1e-3,
    "agd": 0.1,
    "prodigy": 1.0,
    "schedulefree_adamw": 0.1,
    "schedulefree_sgd": 0.01,
    "dadapt_adam": 3.0,  # its default 1.0 halves f in 500 steps: d grows slowly from d0 = 1e-6
}


def _param():
    return torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))


def test_names_are_the_papers_optimizers_and_prodigy():
    assert tuple(optimizers.names()) == ALL
    assert set(ROSENBROCK_LR) == set(ALL)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("sgd", {"lr": 1e-2, "momentum": 0, "weight_decay": 0, "nesterov": False}),
        ("sgdm", {"lr": 1e-2, "momentum": 0.9, "dampening": 0, "nesterov": False}),
        ("adagrad", {"lr": 1e-2, "lr_decay": 0, "eps": 1e-10}),
        ("rmsprop", {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0, "centered": False}),
        ("adam", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False}),
        ("asgd", {"lr": 1e-2, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6}),
        ("adamw", {"lr": 1e-3, "weight_decay": 1e-2}),
        ("nadam", {"lr": 2e-3, "momentum_decay": 4e-3}),
        ("adamax", {"lr": 2e-3, "eps": 1e-8}),
        ("swats", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-9, "nesterov": False, "phase": "adam"}),
        ("padam", {"lr": 0.1, "partial": 0.125, "eps": 1e-8, "weight_decouple": False}),
        (
            "adabound",
            {
                "lr": 1e-3,
                "final_lr": 0.1,
                "gamma": 1e-3,
                "eps": 1e-8,
                "weight_decay": 0.0,
                "weight_decouple": False,
                "ams_bound": False,
            },
        ),
        (
            "agd",
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "delta": 1e-5,
                "weight_decay": 0.0,
                "weight_decouple": True,
                "amsgrad": False,
                "clip": None,
            },
        ),
    ],
)
def test_documented_defaults_reach_the_optimizer(name, expected):
    opt = optimizers.create(name, [_param()])
    group = opt.param_groups[0]
    for key, value in expected.items():
        assert group[key] == value, f"{name}.{key}"
    for key in optimizers.info(name).accepted:
        if key in group:
            assert group[key] == optimizers.info(name).defaults[key], f"{name}.{key}"


@pytest.mark.parametrize(
    "name, cls",
    [("sgd", torch.optim.SGD), ("adamax", torch.optim.Adamax), ("agd", AGD), ("asgd", torch.optim.ASGD)],
)
def test_records(name, cls):
    record = optimizers.info(name)
    assert record.name == name and record.factory is cls and record.reference
    assert "lr" in record.accepted and "params" not in record.accepted and "foreach" not in record.accepted


def test_hyperparameters_override_defaults():
    opt = optimizers.create("sgdm", [_param()], lr=0.3, momentum=0.5, weight_decay=1e-4)
    assert (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]) == (0.3, 0.5)
    opt = optimizers.create("adabound", [_param()], weight_decay=5e-4)
    assert opt.param_groups[0]["weight_decouple"] is False and opt.param_groups[0]["weight_decay"] == 5e-4


def test_per_group_lr_is_kept():
    a, b = _param(), _param()
    opt = optimizers.create("adam", [{"params": [a], "lr": 0.5}, {"params": [b]}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.01]


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adma'.*sgd, sgdm, adagrad.*agd"):
        optimizers.create("adma", [_param()])
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        optimizers.info("lion")


def test_unknown_hyperparameter_lists_accepted_ones():
    with pytest.raises(ValueError, match=r"'adam' does not accept momentum; accepted: lr, betas, eps"):
        optimizers.create("adam", [_param()], momentum=0.9)
    with pytest.raises(ValueError, match="'adabound' does not accept foo; accepted: lr, final_lr"):
        optimizers.create("adabound", [_param()], foo=1)  # pytorch_optimizer would swallow it in **kwargs


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_non_positive_lr_is_rejected(name, lr):
    with pytest.raises(ValueError, match=rf"'{name}': lr={lr} must be > 0"):
        optimizers.create(name, [_param()], lr=lr)


@pytest.mark.parametrize("name", ALL)
def test_lowers_rosenbrock(name):
    rosenbrock = FUNCTIONS["rosenbrock"]
    point = torch.nn.Parameter(torch.tensor(rosenbrock.start))
    start = rosenbrock.fn(point).item()
    opt = optimizers.create(name, [point], lr=ROSENBROCK_LR[name])
    for _ in range(500):
        opt.zero_grad()
        rosenbrock.fn(point).backward()
        opt.step()
    final = rosenbrock.fn(point).item()
    assert math.isfinite(final) and final < start / 3, f"{name}: {start:.3g} -> {final:.3g}"


def _train(opt, params, steps, offset=0):
    for i in range(offset, offset + steps):
        opt.zero_grad()
        loss = sum(((p - 0.1 * (i % 3)) ** 2).sum() * (k + 1) for k, p in enumerate(params))
        loss.backward()
        opt.step()


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip(name):
    params = [torch.nn.Parameter(torch.linspace(-1, 1, 6).reshape(2, 3)), torch.nn.Parameter(torch.ones(3))]
    opt = optimizers.create(name, params, lr=1e-2)
    _train(opt, params, 7)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    resumed = optimizers.create(name, twins, lr=1e-2)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    _train(opt, params, 7, offset=7)
    _train(resumed, twins, 7, offset=7)
    for a, b in zip(params, twins, strict=True):
        assert torch.equal(a, b), name


def _lrs(kind, total, steps, **kw):
    opt = optimizers.create("sgdm", [_param()], lr=0.1)
    sched = optimizers.create_scheduler(kind, opt, total, **kw)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_steplr_defaults_decay_tenfold_every_30_percent():
    lrs = _lrs("steplr", 100, 100)
    for step, lr in [
        (0, 0.1),
        (29, 0.1),
        (30, 0.01),
        (59, 0.01),
        (60, 1e-3),
        (89, 1e-3),
        (90, 1e-4),
        (99, 1e-4),
    ]:
        assert lrs[step] == pytest.approx(lr), step


def test_steplr_options():
    lrs = _lrs("steplr", 10, 10, step_size=4, gamma=0.5)
    assert lrs == pytest.approx([0.1] * 4 + [0.05] * 4 + [0.025] * 2)
    assert _lrs("steplr", 2, 2) == pytest.approx([0.1, 0.01])  # step_size at least 1


def test_cosine_follows_closed_form():
    total = 40
    lrs = _lrs("cosine", total, total + 1)
    expected = [0.05 * (1 + math.cos(math.pi * k / total)) for k in range(total + 1)]
    assert lrs == pytest.approx(expected, abs=1e-12)
    assert lrs[20] == pytest.approx(0.05) and lrs[40] == pytest.approx(0.0, abs=1e-12)
    with_floor = _lrs("cosine", total, total + 1, eta_min=0.01)
    assert with_floor[0] == pytest.approx(0.1) and with_floor[40] == pytest.approx(0.01)


def test_scheduler_wraps_doit_multiplier():
    import doit

    point = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = doit.DOIT([point], space={"sgd": {"lr": [0.1]}, "adam": {"lr": [0.01]}}, tau=2, n_ini=2, seed=0)
    sched = optimizers.create_scheduler("steplr", opt, 10)
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        loss = (point**2).sum()
        loss.backward()
        opt.step(loss=loss.detach())
        opt.zero_grad()
        sched.step()
    assert seen == pytest.approx([1.0] * 3 + [0.1] * 3 + [0.01] * 3 + [1e-3])


def test_scheduler_errors():
    opt = optimizers.create("sgd", [_param()])
    with pytest.raises(ValueError, match="unknown scheduler 'linear'; choose one of: steplr, cosine"):
        optimizers.create_scheduler("linear", opt, 10)
    with pytest.raises(ValueError, match="'cosine' does not accept gamma; accepted: eta_min"):
        optimizers.create_scheduler("cosine", opt, 10, gamma=0.1)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match=f"total_steps={bad} must be an integer >= 1"):
            optimizers.create_scheduler("steplr", opt, bad)


ADABOUND = json.loads((GOLDEN / "authors_adabound.json").read_text())


@pytest.mark.parametrize("case", sorted(adabound_golden.CASES))
def test_adabound_matches_authors_package(case):
    """Against the AdaBound authors' package (adabound 0.0.5), recorded by tests/golden/authors_adabound.py."""
    recorded = ADABOUND["cases"][case]
    assert recorded["hyper"] == adabound_golden.CASES[case]
    params = adabound_golden.problem()
    start = [p.detach().flatten().clone() for p in params]
    got = adabound_golden.train(optimizers.create("adabound", params, **recorded["hyper"]), params)
    for g, e, s in zip(got, recorded["params"], start, strict=True):
        assert max(abs(a - b) for a, b in zip(g, e, strict=True)) <= 1e-9
        assert (torch.tensor(e, dtype=torch.float64) - s).abs().max().item() > 1e-2  # not vacuous


@pytest.mark.parametrize("name", optimizers.names())
def test_fused_is_torchs_fused_kernel_where_it_exists_and_the_same_algorithm(name):
    """``create(fused=True)``: torch's fused implementation for SGD, SGDM, Adagrad, Adam, AdamW (the same
    updates up to rounding), the default implementation for every other optimizer."""
    torch.manual_seed(0)
    start = [torch.randn(7, 5), torch.randn(5)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(5)]
    runs = []
    for fused in (False, True):
        params = [p.clone().requires_grad_(True) for p in start]
        opt = optimizers.create(name, params, fused=fused)
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()
        runs.append((opt, params))
    (plain, a), (fused, b) = runs
    fusable = name in {"sgd", "sgdm", "adagrad", "adam", "adamw"}
    assert optimizers.info(name).fusable == fusable
    assert bool(fused.param_groups[0].get("fused")) == fusable
    assert not plain.param_groups[0].get("fused")
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
