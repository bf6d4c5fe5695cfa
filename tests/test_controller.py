"""The DOIT controller on a small MLP: switching, logging, NaN recovery, bit-for-bit resume."""

import io
import math

import pytest
import torch
from conftest import needs
from torch import nn

import doit
from doit.space import expand, label

PAPER5 = {
    "sgd": {"lr": [0.05]},
    "sgdm": {"lr": [0.05], "momentum": [0.9]},
    "adagrad": {"lr": [0.05]},
    "rmsprop": {"lr": [0.001]},
    "adam": {"lr": [0.005]},
}


def make_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 20, generator=g)
    y = (x[:, :3].argmax(1) + (x[:, 3] > 1).long()) % 3
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3))
    return model, x, y


def batches(x, y, start, stop, bs=32):
    for step in range(start, stop):
        i = (step * bs) % len(x)
        yield step, x[i : i + bs], y[i : i + bs]


def train(model, opt, x, y, start, stop, hook=None):
    for step, xb, yb in batches(x, y, start, stop):
        if hook:
            hook(step, model)
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step(loss=loss.detach())


def make_opt(model, **kw):
    args = dict(
        space=PAPER5,
        tau=5,
        n_ini=6,
        halving_period=4,
        seed=3,
        state=[(n, p) for n, p in model.named_parameters() if n.startswith("2.")],
    )
    args.update(kw)
    return doit.DOIT(model.parameters(), **args)


def test_switches_and_logs_consistently():
    model, x, y = make_problem()
    opt = make_opt(model)
    train(model, opt, x, y, 0, 151)  # 30 full cycles
    log = opt.log
    assert len(log) == 31 and log[-1]["score"] is None  # the open cycle is not scored yet
    closed = log[:-1]
    assert [r["cycle"] for r in log] == list(range(31))
    assert [r["step"] for r in log] == [5 * k for k in range(31)]
    # Algorithm 1: one RandomSelect, then n_ini = 6 weighted picks, then the surrogate
    assert [r["phase"] for r in closed[:7]] == ["cold"] * 7
    assert all(r["phase"] == "surrogate" for r in log[7:])
    labels = [label(c) for c in expand(PAPER5)]
    for r in log[7:]:
        assert [c["config"] for c in r["candidates"]] == labels
        best = max(r["candidates"], key=lambda c: c["acq"])
        assert r["config"] == best["config"]  # the acquisition's argmax trains next
        assert all(c["sd"] >= 0 for c in r["candidates"])
    assert all(-1.0 <= r["score"] <= 1.0 for r in closed)
    changes = sum(a["config"] != b["config"] for a, b in zip(log, log[1:], strict=False))
    assert opt.switch_count == changes > 0
    assert math.isclose(sum(opt.share().values()), 1.0)
    assert opt.controller_time_s > 0
    assert opt.current is not None and label(opt.current) == log[-1]["config"]


def test_training_lowers_the_loss():
    model, x, y = make_problem()
    opt = make_opt(model)
    before = nn.functional.cross_entropy(model(x), y).item()
    train(model, opt, x, y, 0, 300)
    assert nn.functional.cross_entropy(model(x), y).item() < 0.7 * before


def test_recovers_from_injected_nan():
    model, x, y = make_problem()
    opt = make_opt(model)

    def poison(step, m):
        if step == 42:  # mid-cycle (cycles start at multiples of 5)
            m[0].weight.data[0, 0] = float("nan")

    train(model, opt, x, y, 0, 43, hook=poison)
    train(model, opt, x, y, 43, 46)  # the cycle closes at step 45 with non-finite losses
    bad = [r for r in opt.log if r["recovered"]]
    assert len(bad) == 1 and bad[0]["score"] == -1.0 and bad[0]["cycle"] == 8
    assert all(torch.isfinite(p).all() for p in model.parameters())
    train(model, opt, x, y, 46, 120)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert math.isfinite(nn.functional.cross_entropy(model(x), y).item())


def test_exploding_loss_counts_as_divergence():
    model, x, y = make_problem()
    opt = make_opt(model, strategy="cyclical", explode_factor=10.0)
    for step in range(11):
        fake = 1e6 if step == 7 else 1.0
        loss = nn.functional.cross_entropy(model(x[:8]), y[:8])
        opt.zero_grad()
        loss.backward()
        opt.step(loss=torch.tensor(fake))
    assert opt.log[1]["recovered"] and opt.log[1]["score"] == -1.0


def test_resume_from_state_dict_is_bit_for_bit():
    model_a, x, y = make_problem()
    opt_a = make_opt(model_a)
    train(model_a, opt_a, x, y, 0, 90)

    model_b, _, _ = make_problem()
    opt_b = make_opt(model_b)
    train(model_b, opt_b, x, y, 0, 37)  # stop mid-cycle, after the cold start
    buf = io.BytesIO()
    torch.save({"model": model_b.state_dict(), "opt": opt_b.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    model_c, _, _ = make_problem(seed=1)  # different init: everything must come from the checkpoint
    model_c.load_state_dict(ckpt["model"])
    opt_c = make_opt(model_c)
    opt_c.load_state_dict(ckpt["opt"])
    train(model_c, opt_c, x, y, 37, 90)

    for pa, pc in zip(model_a.parameters(), model_c.parameters(), strict=True):
        assert torch.equal(pa, pc)
    assert opt_a.log == opt_c.log
    assert opt_a.switch_count == opt_c.switch_count


def test_cyclical_and_random_strategies():
    model, x, y = make_problem()
    opt = make_opt(model, strategy="cyclical")
    train(model, opt, x, y, 0, 60)
    labels = [label(c) for c in expand(PAPER5)]
    assert [r["config"] for r in opt.log] == [labels[k % 5] for k in range(len(opt.log))]
    model, x, y = make_problem()
    opt = make_opt(model, strategy="random")
    train(model, opt, x, y, 0, 100)
    assert {r["phase"] for r in opt.log} == {"random"}
    assert len({r["config"] for r in opt.log}) > 2


def test_lr_scheduler_scales_every_candidate():
    model, x, y = make_problem()
    opt = make_opt(model, strategy="cyclical")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for _, xb, yb in batches(x, y, 0, 25):
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step(loss=loss.detach())
        sched.step()
    # after 24 updates the multiplier was 0.25 at the last step; cycle 4 (steps 20-24) is adam(lr=0.005)
    assert opt.current.optimizer == "adam"
    assert opt._inner.param_groups[0]["lr"] == pytest.approx(0.005 * 0.25)


def test_inherit_carries_first_moment_across_a_switch():
    model, x, y = make_problem()
    space = {"sgdm": {"lr": [0.05], "momentum": [0.9]}, "adam": {"lr": [0.005]}}
    opt = make_opt(model, space=space, strategy="cyclical", inherit=True)
    train(model, opt, x, y, 0, 5)  # cycle 0: sgdm, 5 updates
    buf = [opt._inner.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    train(model, opt, x, y, 5, 6)  # cycle 1 starts: switch to adam, one adam update
    assert opt.current.optimizer == "adam"
    state = opt._inner.state[next(iter(model.parameters()))]
    assert state["exp_avg"].shape == buf[0].shape
    assert not torch.equal(state["exp_avg"], torch.zeros_like(buf[0]))


def test_without_inherit_a_switch_starts_fresh():
    model, x, y = make_problem()
    space = {"sgdm": {"lr": [0.05], "momentum": [0.9]}, "adam": {"lr": [0.005]}}
    opt = make_opt(model, space=space, strategy="cyclical")
    train(model, opt, x, y, 0, 6)
    state = opt._inner.state[next(iter(model.parameters()))]
    assert int(state["step"]) == 1


def test_closure_and_errors():
    model, x, y = make_problem()
    opt = make_opt(model)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[:32]), y[:32])
        loss.backward()
        return loss

    for _ in range(7):
        opt.step(closure)
    assert opt.global_step == 7
    with pytest.raises(ValueError, match="needs the batch loss"):
        opt.step()
    for bad in [
        dict(tau=0),
        dict(n_ini=-1),
        dict(strategy="greedy"),
        dict(schedule="nope"),
        dict(initial="best"),
        dict(omega_t=1.5),
        dict(halving_period=0),
    ]:
        with pytest.raises(ValueError):
            make_opt(model, **bad)


def test_uniform_initial_ignores_weights():
    model, x, y = make_problem()
    opt = make_opt(model, initial="uniform", n_ini=100)
    train(model, opt, x, y, 0, 200)
    assert {r["phase"] for r in opt.log} == {"cold"}
    assert len({r["config"] for r in opt.log}) == 5


def test_cold_start_lasts_until_the_compressor_can_be_fitted():
    model, x, y = make_problem()
    opt = make_opt(model, n_ini=0)  # PCA needs two snapshots: cycle 0 is still a cold-start cycle
    train(model, opt, x, y, 0, 26)
    assert [r["phase"] for r in opt.log[:3]] == ["cold", "surrogate", "surrogate"]


@pytest.mark.slow  # numba compiles UMAP: 10-25 s
def test_cold_start_lasts_until_umap_can_be_fitted():
    needs("umap", "umap", "umap-learn")
    model, x, y = make_problem()
    opt = make_opt(model, n_ini=2, compression="umap", n_components=2)  # UMAP needs 4 snapshots
    train(model, opt, x, y, 0, 31)  # the 4th snapshot is the one taken at the start of cycle 3
    assert [r["phase"] for r in opt.log[:6]] == ["cold"] * 3 + ["surrogate"] * 3
