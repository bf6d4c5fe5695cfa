"""No run ends with NaN and no divergence is silent.

Single, scheduled and hybrid optimizers stop at the first non-finite loss (``runners.loop.Diverged``):
result.json says ``status: diverged`` with the exact step, the process exits non-zero with one line, and
every file is strict JSON. DOIT strategies roll a diverged cycle back and finish with finite parameters.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import FAST, run_main
from torch import nn

from analysis.record import loads
from runners.loop import Diverged, Trainer


def _strict_json(text: str):
    def reject(token):
        raise AssertionError(f"bare {token} in strict JSON")

    return json.loads(text, parse_constant=reject)


# ------------------------------------------------------------------------ the loop, in process
class _Batches:
    """A fixed list of batches, resumable at any batch (the interface of ``DataBundle.train``)."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def epoch(self, epoch, start=0):
        return iter(self.batches[start:])


class _Data:
    def __init__(self, n_batches=50, seed=0):
        g = torch.Generator().manual_seed(seed)
        batches = [
            (torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)) for _ in range(n_batches)
        ]
        self.train, self.test, self.val = _Batches(batches), batches[:3], None
        self.metrics, self.num_classes = ["acc"], 3


class _PoisonedSGD(torch.optim.SGD):
    """SGD whose ``poison_at``-th update writes NaN into the parameters (the next loss is NaN)."""

    def __init__(self, params, poison_at):
        super().__init__(params, lr=0.1)
        self.poison_at, self.n = poison_at, 0

    @torch.no_grad()
    def step(self, closure=None):
        super().step(closure)
        self.n += 1
        if self.n == self.poison_at:
            for g in self.param_groups:
                for p in g["params"]:
                    p.fill_(math.nan)


@pytest.mark.parametrize(("poison_at", "check_every"), [(37, 32), (1, 32), (45, 1), (63, 10)])
def test_diverged_step_is_exact_and_nothing_diverged_is_saved(poison_at, check_every):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    calls = []
    trainer = Trainer(
        model,
        _PoisonedSGD(model.parameters(), poison_at),
        None,
        _Data(),
        epochs=3,
        device="cpu",
        is_doit=False,
        checkpoint_every_steps=40,
        check_every=check_every,
        on_checkpoint=lambda: calls.append(("checkpoint", trainer.state.step)),
        on_epoch=lambda s: calls.append(("epoch", s.epoch)),
    )
    with pytest.raises(Diverged) as info:
        trainer.run()
    assert info.value.step == poison_at + 1  # the loss after the poisoned update is the first NaN
    assert "step" in str(info.value) and "\n" not in str(info.value)
    # no checkpoint or epoch record was written at or after the diverged step
    assert all(step < poison_at + 1 for what, step in calls if what == "checkpoint"), calls
    assert all(50 * epoch < poison_at + 1 for what, epoch in calls if what == "epoch"), calls
    assert all(math.isfinite(r.train_loss) for r in trainer.state.metrics)


class _GuardedOpt(torch.optim.SGD):
    """A DOIT-like optimizer: takes ``loss=``, poisons the parameters once, and rolls them back in guard()."""

    nan_guard = True
    current = None

    def __init__(self, params, poison_at):
        super().__init__(params, lr=0.1)
        self.poison_at, self.n, self.events = poison_at, 0, []
        self.saved = [p.detach().clone() for g in self.param_groups for p in g["params"]]

    @torch.no_grad()
    def step(self, closure=None, loss=None):
        super().step(closure)
        self.n += 1
        if self.n == self.poison_at:
            for g in self.param_groups:
                for p in g["params"]:
                    p.fill_(math.nan)

    @torch.no_grad()
    def guard(self):
        self.events.append(("guard", self.n))
        params = [p for g in self.param_groups for p in g["params"]]
        diverged = not all(bool(torch.isfinite(p).all()) for p in params)
        if diverged:
            for p, s in zip(params, self.saved, strict=True):
                p.copy_(s)
        return diverged

    def finish(self):
        self.guard()
        self.events[-1] = ("finish", self.n)


def test_doit_guard_before_every_evaluation_finish_once_and_finite_epoch_loss():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = _GuardedOpt(model.parameters(), poison_at=120)
    trainer = Trainer(model, opt, None, _Data(), epochs=3, device="cpu", is_doit=True)
    state = trainer.run()
    assert opt.events == [("guard", 50), ("guard", 100), ("finish", 150)]
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    last = state.metrics[-1]
    assert last.nonfinite_steps == 30  # steps 121..150 ran on NaN parameters
    assert math.isfinite(last.train_loss) and state.metrics[0].nonfinite_steps == 0
    assert math.isfinite(last.test_loss)


# ------------------------------------------------------------------------ the runner, end to end
@pytest.mark.parametrize(
    ("args", "step"), [(["method=adam", "lr=1e30"], None), (["method=sgd", "lr=inf"], 2)]
)
def test_diverging_single_optimizer_stops_with_status_diverged(tmp_path, args, step):
    out = tmp_path / "run"
    proc = run_main([*FAST, "epochs=2", *args, f"hydra.run.dir={out}"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "diverged" in lines[0], proc.stderr
    data = _strict_json((out / "result.json").read_text())
    assert data["status"] == "diverged"
    assert isinstance(data["diverged_step"], int) and data["diverged_step"] >= 1
    if step is not None:  # lr=inf: the first update makes every parameter non-finite
        assert data["diverged_step"] == step
    assert data["timing"]["steps"] >= data["diverged_step"]
    for line in (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []:
        _strict_json(line)
    # the record reads back through analysis.record; lr=inf is recorded as null and named as non-finite
    result = loads((out / "result.json").read_text())
    assert result.status == "diverged" and result.diverged_step == data["diverged_step"]
    if "lr=inf" in args:
        assert result.hyper.lr is None and "hyper.lr" in result.nonfinite
    # a rerun reports the same divergence again (it does not silently train on)
    again = run_main([*FAST, "epochs=2", *args, f"hydra.run.dir={out}"])
    assert again.returncode == 1 and "diverged" in again.stderr
    assert _strict_json((out / "result.json").read_text())["diverged_step"] == data["diverged_step"]


def test_doit_with_a_diverging_candidate_ends_finite(tmp_path):
    out = tmp_path / "run"
    proc = run_main(
        [
            "progress=off",
            "plot=false",
            "space=one_lr",  # one lr each, SGD's set absurdly high
            "space.grid.sgd.lr=[1e30]",
            "epochs=2",
            "seed=7",
            f"hydra.run.dir={out}",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    result = loads((out / "result.json").read_text())
    assert result.status == "complete" and result.diverged_step is None
    for name in ("final_test_acc", "best_test_acc", "final_train_acc", "final_train_loss"):
        assert math.isfinite(getattr(result.metrics, name)), name
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    for name, tensor in ckpt["model"].items():
        if tensor.is_floating_point():
            assert bool(torch.isfinite(tensor).all()), name
    rows = [_strict_json(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["test_acc"]) for r in rows)
    switches = (out / "switches.csv").read_text()
    assert "sgd(lr=1e+30)" in switches  # seed 7 does try the diverging candidate
    assert ",True" in switches  # ... and its cycle was rolled back
