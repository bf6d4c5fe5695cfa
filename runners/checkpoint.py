"""The resume checkpoint (``checkpoint.pt``): saved atomically, loaded with ``weights_only=True``, and when
the loop writes it (``Schedule``).

It holds tensors and plain Python containers only: model, optimizer (DOIT's ``state_dict``),
scheduler, grad scaler, the loop's state (position, metrics, timers), the transferability estimate,
the composed config and the RNG states below.
"""

from __future__ import annotations

import pickle
import random
import time
from pathlib import Path

import numpy as np
import torch

from runners import preemption

VERSION = 1
KEYS = ("version", "config", "model", "optimizer", "scheduler", "trainer", "rng", "transfer", "wall_time_s")


class Schedule:
    """When the loop checkpoints: every ``every_steps`` steps (0: never by step count) and when a signal asks
    (``runners.preemption``), at a step boundary; at an epoch end once ``every_s`` seconds passed since the
    last checkpoint, and always after the last epoch."""

    def __init__(self, every_steps: int, every_s: float):
        self.every_steps, self.every_s = every_steps, every_s
        self._last = time.perf_counter()

    def due_at_step(self, step: int) -> bool:
        return bool(self.every_steps and step % self.every_steps == 0) or preemption.requested()

    def due_at_epoch_end(self, finished: bool) -> bool:
        return finished or time.perf_counter() - self._last >= self.every_s

    def written(self) -> None:
        """A checkpoint was just written; hand over to a signal's handler if one asked for it."""
        self._last = time.perf_counter()
        if preemption.requested():
            preemption.after_checkpoint()


class Unreadable(Exception):
    """``checkpoint.pt`` exists but is not a checkpoint of this runner; ``str(err)`` is the short reason."""


def save(path: Path, state: dict) -> None:
    """``torch.save`` to a temporary file (mode per umask, fsynced), then ``os.replace`` onto ``path``."""
    from runners.results import atomic

    with atomic(Path(path), binary=True) as fh:
        torch.save(state, fh)


def load(path: Path) -> dict | None:
    """The checkpoint at ``path`` (on CPU), or None if there is none; ``Unreadable`` if it is not one.

    Truncated, empty, random or foreign files (another program's ``.pt``, a pickle that needs more than
    ``weights_only``) all raise ``Unreadable`` with a one-line reason.
    """
    path = Path(path)
    if not path.exists():
        return None
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("empty file")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":  # torch.save writes a zip archive
        raise Unreadable(f"not a PyTorch zip file: {size} bytes of something else")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for broken files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if "central directory" in first or "zip archive" in first:
            raise Unreadable(f"truncated or damaged zip archive of {size} bytes") from None
        if isinstance(err, pickle.UnpicklingError) or "weights_only" in str(err):
            raise Unreadable(
                "holds objects other than tensors and plain containers (not written by this runner)"
            ) from None
        raise Unreadable(f"{type(err).__name__}: {first[:160]}") from None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise Unreadable(f"not a runners checkpoint (expected a dict with version {VERSION})")
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise Unreadable(f"not a runners checkpoint (missing {', '.join(missing)})")
    if not isinstance(state["config"], dict):
        raise Unreadable("not a runners checkpoint (config is not a mapping)")
    return state


def rng_state() -> dict:
    """Global RNG states (torch, CUDA, numpy, random) as tensors and plain containers."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "random": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["random"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
