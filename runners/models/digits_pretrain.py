"""The embedded pre-trained model: a small CNN/MLP trained on digits 0-4, cached on disk.

The paper's Table 1 fine-tunes ImageNet-pretrained models; the embedded analogue pre-trains the
same small architecture on scikit-learn digits of the source classes (default 0-4, training split
only) and fine-tunes it on the other digits with a new head, so LogME, LEEP (through this source
head) and omega_p (eq. 6) see real features. Pre-training is deterministic (its own fixed seed,
Adam, ``epochs`` passes) and takes about a second; the weights are cached under ``$DOIT_CACHE``
(default ``~/.cache/doit-repro``), keyed by everything that shapes them.
"""

from __future__ import annotations

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

from runners.data import cache_dir
from runners.data.digits import split
from runners.results import atomic

PRETRAIN_SEED = 0


def _train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(PRETRAIN_SEED)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=gen).split(32):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    # no gradients left behind: the run's loop zeroes them after each step, so they would join its first
    # update, and a run that pre-trained would differ from one that loaded the cached weights
    model.zero_grad(set_to_none=True)


def pretrained(
    make, key: dict, classes, epochs: int, test_size: float, split_seed: int, size=(8, 8)
) -> nn.Module:
    """``make(num_classes)`` trained on the digits ``classes``, bilinearly resized to ``size`` (H, W) when
    not 8x8 (weights cached; ``key`` names the architecture)."""
    spec = {
        **key,
        "size": [int(v) for v in size],
        "classes": [int(c) for c in classes],
        "epochs": int(epochs),
        "test_size": float(test_size),
        "split_seed": int(split_seed),
        "seed": PRETRAIN_SEED,
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"digits-{key.get('arch')}-{digest}.pt"
    torch.manual_seed(PRETRAIN_SEED)
    model = make(len(spec["classes"]))
    if path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model
        except (RuntimeError, OSError, EOFError, ValueError):
            pass  # a corrupt cache entry: train again and overwrite it
    rng_state = torch.get_rng_state()
    x, y, _, _ = split(test_size, split_seed, spec["classes"])
    if tuple(spec["size"]) != (8, 8):
        x = F.interpolate(x, size=tuple(spec["size"]), mode="bilinear", align_corners=False)
    _train(model, x, y, epochs)
    torch.set_rng_state(rng_state)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path, binary=True) as fh:
        torch.save(model.state_dict(), fh)
    return model
