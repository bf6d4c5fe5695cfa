"""How many workers a queue runs, and which GPU each one is pinned to.

On CPU: one worker per usable core (``os.sched_getaffinity``). On GPUs: per GPU, as many runs as its free
memory holds at ``gb_per_run`` each, at most its share of the cores, at least one. With several GPUs each
worker sees only its own (``CUDA_VISIBLE_DEVICES``); with one it is left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

GIB = 2**30
GB_PER_RUN = 4.0  # ResNet18 on MNIST at batch 64 with the data on the GPU, CUDA context included, with room


@dataclass(frozen=True)
class Slots:
    gpus: list[str | None]  # one entry per worker: its CUDA_VISIBLE_DEVICES value, or None (unchanged)
    why: str  # how the count was chosen, for the queue's first line


def cores() -> int:
    return len(os.sched_getaffinity(0))


def choose(jobs: int | None, use_gpu: bool, gb_per_run: float = GB_PER_RUN) -> Slots:
    """The workers for ``jobs`` (None: what the machine holds) on CPU or on this machine's GPUs."""
    if not use_gpu:
        n = jobs or cores()
        return Slots([None] * n, "given" if jobs else f"{n} usable cores")
    import torch

    visible = _visible(torch.cuda.device_count())
    if jobs:
        return Slots(_pin(visible, [visible[k % len(visible)] for k in range(jobs)]), "given")
    free = [torch.cuda.mem_get_info(i)[0] for i in range(len(visible))]
    counts = per_gpu(free, cores(), int(gb_per_run * GIB))
    why = ", ".join(
        f"GPU {g}: {n} at {gb_per_run:g} GiB of {f / GIB:.1f} GiB free"
        for g, n, f in zip(visible, counts, free, strict=True)
    )
    order = [gpu for k in range(max(counts)) for gpu, n in zip(visible, counts, strict=True) if k < n]
    return Slots(_pin(visible, order), f"{why}; {cores()} cores")


def per_gpu(free_bytes: list[int], n_cores: int, bytes_per_run: int) -> list[int]:
    """Runs per GPU: what its free memory holds, at most its share of the cores, at least one."""
    share = max(1, n_cores // len(free_bytes))
    return [max(1, min(free // bytes_per_run, share)) for free in free_bytes]


def _pin(visible: list[str], order: list[str]) -> list[str | None]:
    """Each worker's GPU, or None everywhere when there is only one GPU to see."""
    return [gpu if len(visible) > 1 else None for gpu in order]


def _visible(count: int) -> list[str]:
    """The GPUs this process sees, by the names ``CUDA_VISIBLE_DEVICES`` gives them (else 0..count-1)."""
    names = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return names[:count] if names else [str(i) for i in range(count)]
