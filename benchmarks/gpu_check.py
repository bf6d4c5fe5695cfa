"""GPU check: ResNet18 on CIFAR10-shaped fabricated data held on the GPU, 300 steps with DOIT and with SGD.

Prints step throughput, DOIT's controller share of wall time and peak GPU memory for each.
Usage: ``python benchmarks/gpu_check.py [--steps 300] [--batch-size 64]``. Needs CUDA (exits otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time

import _checkout  # noqa: F401  (first: this checkout's doit and runners, installed or not)
import torch
import torch.nn.functional as F
from torchvision.models import resnet18

from doit import DOIT
from doit.compression import select_state

SPACE = {
    "sgd": {"lr": [0.01]},
    "sgdm": {"lr": [0.01], "momentum": [0.9]},
    "adagrad": {"lr": [0.01]},
    "rmsprop": {"lr": [0.001]},
    "adam": {"lr": [0.001]},
}


def fabricated(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR10-shaped data on ``device``: n x 3 x 32 x 32 normalised images, 10 learnable classes."""
    g = torch.Generator(device="cpu").manual_seed(0)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randn(n, 3, 32, 32, generator=g) * 0.5
    x[torch.arange(n), y % 3, (y // 3) * 8 : (y // 3) * 8 + 8, :] += 1.5
    return x.to(device), y.to(device)


def train(method: str, steps: int, batch_size: int, x, y) -> dict:
    torch.manual_seed(0)
    model = resnet18(num_classes=10).to(x.device)
    if method == "doit":
        opt = DOIT(
            model.parameters(),
            space=SPACE,
            tau=25,
            n_ini=5,
            state=select_state(model.named_parameters(), ["fc.weight", "fc.bias"]),
            seed=0,
        )
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, len(y), (batch_size,), device=x.device)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step(loss=loss.detach()) if method == "doit" else opt.step()
        opt.zero_grad(set_to_none=True)
        if step == 0:
            torch.cuda.synchronize()
            start, first = time.perf_counter(), float(loss)
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    controller = float(opt.controller_time_s) if method == "doit" else 0.0
    return {
        "method": method,
        "steps_per_s": (steps - 1) / wall,
        "wall_s": wall,
        "controller_share": controller / wall,
        "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20,
        "loss_first": first,
        "loss_last": float(loss),
        "switches": int(opt.switch_count) if method == "doit" else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device found (torch.cuda.is_available() is False); run it on a GPU machine",
            file=sys.stderr,
        )
        return 1
    device = torch.device("cuda")
    x, y = fabricated(10_000, device)
    print(
        f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
        f"ResNet18, batch {args.batch_size}, {args.steps} steps"
    )
    train("sgd", 20, args.batch_size, x, y)  # warm-up (cuDNN autotune, lazy imports)
    rows = [train(m, args.steps, args.batch_size, x, y) for m in ("sgd", "doit")]
    for r in rows:
        print(
            f"{r['method']:5s} {r['steps_per_s']:8.1f} steps/s  wall {r['wall_s']:6.2f} s  controller share "
            f"{100 * r['controller_share']:5.1f}%  peak {r['peak_mem_mib']:7.1f} MiB  loss {r['loss_first']:.3f}"
            f" -> {r['loss_last']:.3f}  switches {r['switches']}"
        )
    print(f"DOIT / SGD throughput ratio: {rows[1]['steps_per_s'] / rows[0]['steps_per_s']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
