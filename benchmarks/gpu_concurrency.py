"""How many small training runs one GPU holds: aggregate steps/s of N processes training at once.

Each process trains torchvision's ResNet18 (10 classes) with SGD on MNIST-shaped data held on the device
(batch 64, 3 x 28 x 28: the paper's model on MNIST as the runner feeds it), warms up, waits for all the
others, then times ``--steps`` steps. The aggregate (all timed steps over the span from the first start
to the last end) against one process alone, in the same call, is the speed-up of running N at a time.
Small models leave a GPU mostly idle between kernel launches, so the ratio depends on whether kernels of
different processes can overlap (NVIDIA MPS) or are time-sliced; run it with and without MPS to see.

    python benchmarks/gpu_concurrency.py --procs 1,8,16 [--steps 300] [--device cuda]
    python benchmarks/gpu_concurrency.py --procs 1,2 --steps 5 --device cpu --tiny   # a smoke test

Prints one line per N and a JSON line (``{"procs": ..., "steps_per_s": ..., "ratio": ...}``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time

import torch
import torch.nn.functional as F
from torchvision.models import resnet18
from torchvision.models.resnet import BasicBlock, ResNet


def _worker(device: str, tiny: bool, steps: int, warmup: int, barrier, queue) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = (ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10) if tiny else resnet18(num_classes=10)).to(
        device
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(64, 3, 28, 28, device=device)
    y = torch.randint(0, 10, (64,), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    barrier.wait()
    start = time.time()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    queue.put((start, time.time(), steps))


def aggregate(procs: int, device: str, tiny: bool, steps: int, warmup: int) -> float:
    """Timed steps of ``procs`` processes per second of their common span."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(device, tiny, steps, warmup, barrier, queue)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    spans = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    return sum(n for _, _, n in spans) / (max(e for _, e, _ in spans) - min(s for s, _, _ in spans))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--procs", default="1,8,16", help="comma-separated process counts (1 first: baseline)"
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a one-block-per-stage ResNet (smoke tests)")
    parser.add_argument("--label", default="", help="a tag for the JSON line (e.g. mps)")
    args = parser.parse_args()
    counts = [int(n) for n in args.procs.split(",")]
    rates = {n: aggregate(n, args.device, args.tiny, args.steps, args.warmup) for n in counts}
    base = rates[counts[0]]
    for n, rate in rates.items():
        print(f"{n:3d} processes: {rate:8.1f} steps/s in all ({rate / base:5.2f}x {counts[0]} process)")
    print(
        json.dumps(
            {
                "benchmark": "gpu_concurrency",
                "label": args.label,
                "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
                "steps": args.steps,
                "steps_per_s": {str(n): round(r, 1) for n, r in rates.items()},
                "ratio": {str(n): round(r / base, 3) for n, r in rates.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
