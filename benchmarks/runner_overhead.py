"""Runner overhead: training steps/s of ``runners.train.run`` against a bare PyTorch loop, in one call.

Two settings, each on the same batches of the same data and model:

- default: the digits CNN with SGDM (lr 0.01, momentum 0.9), batch 32, on CPU;
- ``--device cuda|cpu``: ResNet18 on MNIST at batch 64 (the GPU scale, conf/scale/gpu.yaml) with SGD (lr
  0.01), about ``--steps`` steps of one epoch of an MNIST subset (``--tiny``: the tests' small ResNet, for a
  quick CPU check). This setting also measures DOIT's step throughput (the paper's 15 candidates, tau 25,
  n_ini 50, the head as its state; as ``method=doit`` builds it) against plain SGD's in the bare loop, and
  the controller's own share of it: DOIT with the same settings over one candidate, ``sgd(lr=0.01)``, so
  that every step is the same SGD update as the baseline's (``doit_vs_sgd`` also holds the candidates'
  own cost: an Adam or RMSprop step does more work than an SGD step).
  MNIST: ``$MNIST_ROOT`` (torchvision's layout or the four .gz files), else a download into ``$DOIT_DATA``.

"steps only" excludes per-epoch evaluation (the runner's step timer; the bare loop times its steps), "with
eval" includes the test and validation evaluation of each epoch (the runner's ``train_time_s``). One torch
thread, the runner's cuDNN settings for both; repetitions alternate and medians are reported. Targets:
runner / bare >= 0.95, DOIT / SGD >= 0.98 (both DOIT ratios). The last line holds the same numbers as JSON.
``--fused``: every optimizer (the baseline's and DOIT's candidates) in torch's fused implementation where it
has one (``fused=true``; RMSprop has none), to compare with the default implementations in another call.

    python benchmarks/runner_overhead.py [--epochs 10] [--reps 3]
    python benchmarks/runner_overhead.py --device cuda [--steps 600] [--reps 3] [--fused]
    python benchmarks/runner_overhead.py --device cpu --tiny --steps 10 --reps 1
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import _checkout  # noqa: F401  (first: this checkout's doit and runners, installed or not)
import torch
import torch.nn.functional as F

from doit import DOIT
from doit import optimizers as registry
from doit.compression import select_state
from runners.checkpoint import load
from runners.checks import resolve_device
from runners.config import to_python
from runners.data import DEFAULT_VAL_SIZE, build_data
from runners.methods import doit_kwargs, optimizer_kwargs
from runners.models import build_model
from runners.modes import apply_mode
from runners.train import compose, run

TARGETS = {"runner_vs_bare": 0.95, "doit_vs_sgd": 0.98, "doit_controller_vs_sgd": 0.98}
COMMON = ["progress=off", "plot=false", "threads=1", "seed=0"]


def digits_config(epochs: int, fused: bool):
    return compose(
        ["method=sgdm", f"epochs={epochs}", "batch_size=32", f"fused={str(fused).lower()}", *COMMON]
    )


def mnist_config(device: str, steps: int, tiny: bool, fused: bool, method: list[str]):
    """ResNet18 on an MNIST subset whose training split (after the validation split) is ``steps`` batches of 64."""
    train_size = math.ceil(steps * 64 / (1 - DEFAULT_VAL_SIZE))
    return compose(
        [
            "dataset=mnist",
            "model=resnet18",
            "model.pretrained=false",  # the weights do not change the speed; no download
            f"model.tiny={str(tiny).lower()}",
            f"dataset.train_size={train_size}",
            "batch_size=64",
            "epochs=1",
            f"device={device}",
            f"fused={str(fused).lower()}",
            *method,
            *COMMON,
        ]
    )


def runner_once(cfg, choices) -> tuple[float, float, int]:
    """(steps-only seconds, seconds with eval, steps) of one runner run in a fresh output dir."""
    with tempfile.TemporaryDirectory() as tmp:
        result = run(cfg, Path(tmp), choices)
        loop = load(Path(tmp) / "checkpoint.pt")["trainer"]["loop"]
    return loop["step_time_s"], result.timing.train_time_s, result.timing.steps


def bare_once(cfg, doit: bool = False, space: dict | None = None) -> tuple[float, float, int]:
    """The same training as a hand-written loop: (steps-only seconds, seconds with eval, steps).

    The optimizer is the runner's: the registry's for ``cfg.method`` (plain torch SGD for ``method=sgd``), or
    with ``doit`` a ``doit.DOIT`` over ``space`` (default ``cfg.space``) with ``cfg.method``'s keywords and the
    head as its state.
    """
    device = resolve_device(str(cfg.device))
    torch.manual_seed(int(cfg.seed))
    data = build_data(cfg.dataset, cfg.model, int(cfg.batch_size), int(cfg.seed), device)
    model = build_model(cfg.model, data).to(device)
    mode = apply_mode(model, cfg.mode, cfg)
    params = [p for _, p in mode.trainable_params]
    if doit:
        state = select_state(mode.trainable_params, mode.state_patterns)
        kwargs = doit_kwargs(cfg, steps_per_epoch=len(data.train), omega_t=None)
        opt = DOIT(params, space=space or to_python(cfg.space.grid), state=state, **kwargs)
    else:
        opt = registry.create(cfg.method.optimizer, params, fused=bool(cfg.fused), **optimizer_kwargs(cfg))
    steps, t_steps, t_eval = 0, 0.0, 0.0
    for epoch in range(int(cfg.epochs)):
        _sync(device)
        t0 = time.perf_counter()
        for x, y in data.train.epoch(epoch):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step(loss=loss.detach()) if doit else opt.step()
            opt.zero_grad(set_to_none=True)
            steps += 1
        _sync(device)
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            for batches in (b for b in (data.test, data.val) if b is not None):
                correct = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
                assert correct >= 0
        model.train()
        t_steps += t1 - t0
        t_eval += time.perf_counter() - t1
    return t_steps, t_steps + t_eval, steps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rates(runs: list[tuple[float, float, int]], k: int) -> float:
    """Steps/s from the median of the runs' ``k``-th time (0: steps only, 1: with eval)."""
    return runs[0][2] / statistics.median(r[k] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], help="ResNet18 on MNIST on this device")
    parser.add_argument("--epochs", type=int, default=10, help="digits setting: epochs per run")
    parser.add_argument("--steps", type=int, default=600, help="--device setting: steps per run")
    parser.add_argument("--tiny", action="store_true", help="--device setting: the tests' small ResNet")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--fused", action="store_true", help="torch's fused optimizer kernels (fused=true)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True  # as the runner
    if args.device is None:
        (cfg, choices), (warm, _) = digits_config(args.epochs, args.fused), digits_config(1, args.fused)
        setting, doit_cfg = f"digits CNN, sgdm, batch 32, {args.epochs} epochs", None
    else:
        sgd = ["method=sgd", "lr=0.01"]
        cfg, choices = mnist_config(args.device, args.steps, args.tiny, args.fused, sgd)
        warm, _ = mnist_config(args.device, 5, args.tiny, args.fused, sgd)
        doit = ["method=doit", "method.tau=25", "method.n_ini=50"]
        doit_cfg, _ = mnist_config(args.device, args.steps, args.tiny, args.fused, doit)
        # DOIT over the baseline's own update alone: what it adds to SGD's step is the controller
        baseline_only = {str(cfg.method.optimizer): {"lr": [float(cfg.lr)]}}
        setting = f"{'tiny ' if args.tiny else ''}ResNet18 on MNIST, sgd lr 0.01, batch 64, on {args.device}"
    runner_once(warm, choices)  # warm-up: lazy imports, cuDNN, the first optimizer
    bare_once(warm)
    runs: dict[str, list] = {"runner": [], "bare": [], "doit": [], "doit_controller": []}
    for _ in range(args.reps):
        runs["runner"].append(runner_once(cfg, choices))
        runs["bare"].append(bare_once(cfg))
        if doit_cfg is not None:
            runs["doit"].append(bare_once(doit_cfg, doit=True))
            runs["doit_controller"].append(bare_once(doit_cfg, doit=True, space=baseline_only))
    runs = {name: rs for name, rs in runs.items() if rs}
    steps = runs["runner"][0][2]
    assert all(r[2] == steps for rs in runs.values() for r in rs)
    impl = (
        "torch's fused optimizers where they exist"
        if args.fused
        else "torch's default optimizer implementations"
    )
    print(f"{setting}, {impl} = {steps} steps per run, median of {args.reps}")
    report = {
        "benchmark": "runner_overhead",
        "setting": setting,
        "device": args.device or "cpu",
        "steps": steps,
        "fused": args.fused,
    }
    if args.device == "cuda":
        report["gpu"] = torch.cuda.get_device_name()
    for k, what in ((0, "steps_only"), (1, "with_eval")):
        runner, bare = rates(runs["runner"], k), rates(runs["bare"], k)
        report[f"runner_vs_bare_{what}"] = runner / bare
        print(
            f"{what:>10}: runner {runner:8.1f} steps/s  bare {bare:8.1f} steps/s  ratio {runner / bare:.3f}"
        )
    for name, what in (("doit", "paper15"), ("doit_controller", "sgd(lr=0.01) only")):
        if name in runs:
            doit, sgd = rates(runs[name], 0), rates(runs["bare"], 0)
            report[f"{name}_vs_sgd"] = doit / sgd
            print(
                f"DOIT ({what}) vs SGD, steps only: DOIT {doit:8.1f} steps/s  SGD {sgd:8.1f} steps/s  "
                f"ratio {doit / sgd:.3f}"
            )
    report["targets"] = TARGETS
    print(json.dumps(report))


if __name__ == "__main__":
    main()
