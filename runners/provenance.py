"""Where a run ran, for ``result.json``'s ``env`` (``analysis.record.Environment``): device, torch, commit."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import torch

from analysis.record import Environment

_REPO = Path(__file__).resolve().parent.parent


@functools.cache
def commit() -> str | None:
    """``$DOIT_COMMIT`` if set (a copied tree without ``.git``), else the checkout's ``git rev-parse HEAD``."""
    if os.environ.get("DOIT_COMMIT"):
        return os.environ["DOIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "-C", str(_REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(device: torch.device) -> Environment:
    name = f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type
    return Environment(device=name, torch=torch.__version__, commit=commit())
