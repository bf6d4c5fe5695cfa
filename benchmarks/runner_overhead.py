"""Runner overhead: training steps/s of ``runners.train.run`` against a bare PyTorch loop, same call.

Both train the digits CNN with SGDM (lr 0.01, momentum 0.9), batch size 32, one torch thread, on the
same batches. Counted both ways: "steps only" excludes per-epoch evaluation (the runner's step timer;
the bare loop times its steps alone), "with eval" includes one test-set evaluation per epoch (the
runner's ``train_time_s``). Repetitions alternate; medians are reported. Target: ratio >= 0.95.

    python benchmarks/runner_overhead.py [--epochs 10] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from runners.checkpoint import load
from runners.data import build_data
from runners.models import build_model
from runners.train import compose, run


def config(epochs: int):
    return compose(
        ["method=sgdm", f"epochs={epochs}", "batch_size=32", "progress=off", "plot=false", "threads=1"]
    )


def runner_once(cfg, choices) -> tuple[float, float, int]:
    """(steps-only seconds, seconds with eval, steps) of one runner run in a fresh output dir."""
    with tempfile.TemporaryDirectory() as tmp:
        result = run(cfg, Path(tmp), choices)
        loop = load(Path(tmp) / "checkpoint.pt")["trainer"]["loop"]
    return loop["step_time_s"], result.timing.train_time_s, result.timing.steps


def bare_once(cfg) -> tuple[float, float, int]:
    """The same training as a hand-written loop: (steps-only seconds, seconds with eval, steps)."""
    torch.manual_seed(int(cfg.seed))
    data = build_data(cfg.dataset, cfg.model, int(cfg.batch_size), int(cfg.seed), "cpu")
    model = build_model(cfg.model, data)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    steps, t_steps, t_eval = 0, 0.0, 0.0
    for epoch in range(int(cfg.epochs)):
        t0 = time.perf_counter()
        for x, y in data.train.epoch(epoch):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            steps += 1
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x).argmax(1) == y).sum().item() for x, y in data.test)
        model.train()
        assert correct >= 0
        t_steps += t1 - t0
        t_eval += time.perf_counter() - t1
    return t_steps, t_steps + t_eval, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg, choices = config(args.epochs)
    warm_cfg, _ = config(1)
    runner_once(warm_cfg, choices)  # warm-up: lazy imports, first optimizer
    bare_once(warm_cfg)
    runs = {"runner": [], "bare": []}
    for _ in range(args.reps):
        runs["runner"].append(runner_once(cfg, choices))
        runs["bare"].append(bare_once(cfg))
    steps = runs["runner"][0][2]
    assert all(r[2] == steps for rs in runs.values() for r in rs)
    print(f"digits CNN, sgdm, batch 32, {args.epochs} epochs = {steps} steps, median of {args.reps}")
    for k, what in ((0, "steps only"), (1, "with eval")):
        rate = {name: steps / statistics.median(r[k] for r in rs) for name, rs in runs.items()}
        print(
            f"{what:>10}: runner {rate['runner']:8.1f} steps/s  bare {rate['bare']:8.1f} steps/s  "
            f"ratio {rate['runner'] / rate['bare']:.3f}"
        )


if __name__ == "__main__":
    main()
