"""DOIT under PyTorch Lightning's automatic optimization: ``configure_optimizers`` returns DOIT and
Lightning calls ``optimizer.step(closure=...)``; DOIT takes the batch loss from the closure. CPU, a
tiny classifier on fixed synthetic data, a few dozen steps. Skipped without lightning
(``pip install -e '.[lightning-test]'``)."""

from __future__ import annotations

import pytest
import torch
from conftest import needs

L = needs("lightning", "lightning-test")

from doit import DOIT  # noqa: E402


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self):
        return DOIT(
            self.parameters(),
            space={"sgd": {"lr": [0.1]}, "sgdm": {"lr": [0.05]}, "adam": {"lr": [0.01]}},
            tau=3,
            n_ini=3,
            seed=0,
        )


def loader(n=384, batch=16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=False)


def fit(module, max_steps, **kw):
    trainer = L.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )
    trainer.fit(module, loader())
    return trainer


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("accumulate", [1, 2])
def test_lightning_automatic_optimization_with_doit(accumulate):
    torch.manual_seed(0)
    module = Tiny()
    before = [p.detach().clone() for p in module.parameters()]
    trainer = fit(module, 30, accumulate_grad_batches=accumulate)
    opt = trainer.optimizers[0]
    assert isinstance(opt, DOIT)
    assert trainer.global_step == 30 and opt.global_step == 30 and len(module.losses) == 30 * accumulate
    assert opt.switch_count >= 1 and len(opt.log) >= 8, opt.log
    assert all(not torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))
    first, last = sum(module.losses[:6]) / 6, sum(module.losses[-6:]) / 6
    assert last < first, (first, last)


class TinyManual(Tiny):
    """Manual optimization: ``LightningOptimizer.step`` always passes a closure that returns None, and the
    wrapper is a shallow copy of DOIT; the loss goes in as ``opt.step(loss=...)`` or ``opt.observe(loss)``."""

    def __init__(self, how: str):
        super().__init__()
        self.automatic_optimization = False
        self.how = how

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.losses.append(float(loss.detach()))
        opt.zero_grad()
        self.manual_backward(loss)
        if self.how == "observe":
            opt.observe(loss.detach())
            opt.step()
        else:
            opt.step(loss=loss.detach())
        return loss.detach()


@pytest.mark.parametrize("how", ["observe", "loss"])
def test_lightning_manual_optimization(how):
    torch.manual_seed(0)
    module = TinyManual(how)
    trainer = fit(module, 30)
    opt = trainer.optimizers[0]
    assert isinstance(opt, DOIT) and opt.global_step == 30 and trainer.global_step == 30
    assert opt.switch_count >= 1 and len(opt.log) >= 8, opt.log
