"""DOIT controller overhead: ms per switch cycle at N observations, and its share of wall time.

    python benchmarks/controller_overhead.py [--quick] [--plus]

``--plus``: DOIT+ (`method=doit_plus`: inherit, rollback_rise 2, Thompson sampling, the context input)
instead of the paper's DOIT.

1. ms per cycle at N = 100, 1,000 and 5,000 observations over the five surrogates (one per optimizer type) of paper15
   (each holds a full window from N = 1,000 on), with a ResNet18-sized classifier head (512 x 10) as
   the compressed state: the surrogates' part (one update + the prediction of every candidate,
   hyperparameter refits amortised) and the whole controller (also the score, the snapshot and its
   compression, the NaN-guard copy and the optimizer rebuild on a switch).
2. Share of wall time in a DOIT run of the small CNN on scikit-learn's digits (the embedded default).
3. Share of wall time for ResNet18 steps (CIFAR-shaped 32x32 batches of 64, measured here) with the
   surrogates pre-filled to N = 5,000 observations.
Each share is DOIT's `controller_time_s` over the wall time of the same training run.
"""

from __future__ import annotations

import argparse
import time

import _checkout  # noqa: F401  (first: this checkout's doit and runners, installed or not)
import numpy as np
import torch
from torch import nn

import doit
from doit.space import hyper_vector


def _from_conf() -> tuple[dict, dict]:
    """The paper's 15 candidates (space paper15) and DOIT+'s knobs (what method=doit_plus sets unlike
    method=doit), as the runner composes them from conf/."""
    from runners.config import compose, to_python

    grid = to_python(compose(["space=paper15"])[0].space.grid)
    paper, plus = (to_python(compose([f"method={m}"])[0].method) for m in ("doit", "doit_plus"))
    return grid, {k: v for k, v in plus.items() if k != "name" and v != paper[k]}


PAPER15, PLUS = _from_conf()
KNOBS: dict = {}  # the DOIT keyword arguments every benchmark adds (PLUS with --plus)


def prefill(opt: doit.DOIT, n_obs: int, seed: int = 0) -> None:
    """Fit the compressor on random snapshots and give the surrogates `n_obs` observations, round-robin."""
    rng = np.random.default_rng(seed)
    bank = opt.selector.bank
    dims = [sum(t.numel() for t in group) for group in bank.state]
    bank.compressor.fit([[rng.normal(size=d) for d in dims] for _ in range(8)])
    for k in range(n_obs):
        candidate = opt.configs[k % len(opt.configs)]
        x_state = bank.compressor.transform([rng.normal(size=d) for d in dims])
        if opt.context:  # DOIT+: the log loss level follows the compressed state
            x_state = np.append(x_state, rng.normal())
        bank.surrogates[candidate.optimizer].add(
            np.concatenate([x_state, hyper_vector(candidate)]), float(np.tanh(rng.normal(scale=0.3)))
        )


def ms_per_cycle(n_obs: int, cycles: int) -> float:
    torch.manual_seed(0)
    head = nn.Linear(512, 10)
    opt = doit.DOIT(head.parameters(), space=PAPER15, tau=1, n_ini=0, seed=0, **KNOBS)
    prefill(opt, n_obs)
    x, y = torch.randn(64, 512), torch.randint(0, 10, (64,))
    loss = nn.functional.cross_entropy(head(x), y)
    loss.backward()
    for _ in range(3):  # warm up: first optimizer constructions, first predictions
        opt.step(loss=loss.detach())
    t0 = opt.controller_time_s
    for k in range(cycles):
        opt.step(loss=loss.detach() * (1 - 1e-3 * k))  # tau=1: every step closes a cycle
    return 1e3 * (opt.controller_time_s - t0) / cycles


def surrogate_ms_per_cycle(n_obs: int, cycles: int) -> float:
    """The surrogates' part of a cycle: one update plus the prediction of every candidate."""
    torch.manual_seed(0)
    opt = doit.DOIT(nn.Linear(512, 10).parameters(), space=PAPER15, tau=1, n_ini=0, seed=0, **KNOBS)
    prefill(opt, n_obs)
    rng = np.random.default_rng(1)
    bank = opt.selector.bank
    width = bank.compressor.transform([rng.normal(size=5130)]).size + int(opt.context)
    inputs = [np.concatenate([rng.normal(size=width), hyper_vector(c)]) for c in opt.configs]
    t0 = time.perf_counter()
    for k in range(cycles):
        candidate = opt.configs[k % len(opt.configs)]
        bank.surrogates[candidate.optimizer].add(
            inputs[k % len(inputs)], float(np.tanh(rng.normal(scale=0.3)))
        )
        for x, c in zip(inputs, opt.configs, strict=True):
            bank.surrogates[c.optimizer].predict(x[None, :])
    return 1e3 * (time.perf_counter() - t0) / cycles


def over_head(model: nn.Module, n_ini: int) -> doit.DOIT:
    """DOIT over paper15 with cycles of 25 steps and the classifier ``fc`` as the surrogate's state input."""
    return doit.DOIT(
        model.parameters(),
        space=PAPER15,
        tau=25,
        n_ini=n_ini,
        seed=0,
        state=[(n, p) for n, p in model.named_parameters() if n.startswith("fc.")],
        **KNOBS,
    )


def digits_share(epochs: int) -> tuple[float, float, float]:
    from omegaconf import OmegaConf

    from runners.data import digits
    from runners.models.small import SmallCNN

    data = digits.build(OmegaConf.create({}), None, batch_size=32, seed=0, device=torch.device("cpu"))
    torch.manual_seed(0)
    model = SmallCNN(data.input_shape, data.num_classes)
    opt = over_head(model, n_ini=20)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for xb, yb in data.train.epoch(epoch):
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step(loss=loss.detach())
    wall = time.perf_counter() - t0
    return opt.controller_time_s, wall, opt.controller_time_s / wall


def resnet18_share(cycles: int, n_obs: int) -> tuple[float, float, float, float]:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10)
    opt = over_head(model, n_ini=0)
    prefill(opt, n_obs)
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))

    def one_step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step(loss=loss.detach())

    for _ in range(3):
        one_step()
    c0, t0 = opt.controller_time_s, time.perf_counter()
    steps = 25 * cycles
    for _ in range(steps):
        one_step()
    wall = time.perf_counter() - t0
    ctrl = opt.controller_time_s - c0
    return wall / steps, 1e3 * ctrl / cycles, ctrl, ctrl / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cycles (a smoke run)")
    parser.add_argument("--plus", action="store_true", help="DOIT+ (method=doit_plus) instead of DOIT")
    args = parser.parse_args()
    KNOBS.update(PLUS if args.plus else {})
    cycles = 50 if args.quick else 300
    name = "DOIT+" if args.plus else "DOIT"
    print(f"{name} controller overhead (CPU, {torch.get_num_threads()} torch threads)")
    for n in (100, 1000, 5000):
        print(
            f"  N = {n:>5} observations: surrogates (update + predict all) "
            f"{surrogate_ms_per_cycle(n, 2 * cycles):6.3f} ms, whole controller "
            f"{ms_per_cycle(n, cycles):6.3f} ms per cycle"
        )
    ctrl, wall, share = digits_share(epochs=2 if args.quick else 10)
    print(f"  digits small CNN run: controller {ctrl:.3f} s of {wall:.2f} s wall = {100 * share:.2f}%")
    step_s, ms_cycle, ctrl, share = resnet18_share(cycles=1 if args.quick else 4, n_obs=5000)
    print(
        f"  ResNet18 32x32 batch 64 (N = 5000): {1e3 * step_s:.1f} ms per step, controller "
        f"{ms_cycle:.2f} ms per 25-step cycle = {100 * share:.3f}% of wall time"
    )


if __name__ == "__main__":
    main()
