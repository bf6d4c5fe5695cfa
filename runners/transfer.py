"""Transferability before training (section 3, eq. 6): ``omega_t`` for DOIT's acquisition (eq. 5, 7).

On a sample of the training set (``SAMPLES`` examples, the first batches of the seeded first pass) the
pre-trained model gives penultimate-layer features (the input of the classifier head) and, when
the model keeps its pre-trained classifier as ``model.source_head``, source-class probabilities.
Then ``omega_p = omega_p_probe(features, labels)`` (the performance-based metric, a probe accuracy
in [0, 1]), ``omega_d = [LogME(features, labels), LEEP(source_probs, labels)]`` (LEEP only with a
source head) and ``omega_t = transferability_weight(omega_p, omega_d, beta)`` (eq. 6).

Rule for training from scratch (``model.pretrained=false``, or ImageNet weights missing under
``model.weights_missing=scratch``; ambiguity 6): ``omega_t = 0.0`` (no
transferability: the full exploration weight of eq. 5) and nothing is computed. A float in
``method.omega_t`` is used as given. The cost (``time_s``) is reported separately from the training
time (the "+N" seconds of Tables 2 and 6).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from doit.acquisition import transferability_weight
from doit.transferability import leep, logme, omega_p_probe
from runners.modes import head_module_names

SAMPLES = 1000


def _get(cfg, dotted: str, default=None):
    node = cfg
    for key in dotted.split("."):
        node = node.get(key) if hasattr(node, "get") else getattr(node, key, None)
        if node is None:
            return default
    return node


def _features(model: nn.Module, batches, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Penultimate features, labels and source-head probabilities of the first ``n`` examples."""
    head = model.get_submodule(head_module_names(model)[0])
    source = getattr(model, "source_head", None)
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach()))
    feats, labels, probs, seen = [], [], [], 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches.epoch(0) if hasattr(batches, "epoch") else batches:
                captured.clear()
                if isinstance(batch, dict):
                    y = batch["labels"]
                    model(**{k: v for k, v in batch.items() if k != "labels"})
                else:
                    x, y = batch
                    model(x)
                f = captured[0].flatten(1).float()
                feats.append(f)
                labels.append(y)
                if source is not None:
                    probs.append(torch.softmax(source(captured[0]).float(), dim=1))
                seen += len(y)
                if seen >= n:
                    break
    finally:
        hook.remove()
        model.train(was_training)
    cat = [torch.cat(t)[:n].cpu() for t in (feats, labels)]
    return cat[0], cat[1], torch.cat(probs)[:n].cpu() if probs else None


def estimate_transferability(model: nn.Module, data, cfg) -> dict:
    """``dict(omega_t, omega_p, logme, leep, time_s)`` for ``model`` on ``data.train`` (eq. 6)."""
    start = time.perf_counter()
    fixed = _get(cfg, "method.omega_t")
    if fixed is not None:
        return dict(omega_t=float(fixed), omega_p=None, logme=None, leep=None, time_s=0.0)
    if not getattr(model, "weights_loaded", _get(cfg, "model.pretrained", False)):
        return dict(omega_t=0.0, omega_p=None, logme=None, leep=None, time_s=time.perf_counter() - start)
    n = int(_get(cfg, "method.transfer_samples", SAMPLES))
    feats, labels, probs = _features(model, data.train, n)
    f, y = feats.numpy().astype(np.float64), labels.numpy().astype(np.int64)
    omega_p = float(omega_p_probe(f, y, seed=int(_get(cfg, "seed", 0))))
    score_logme = float(logme(f, y))
    score_leep = None if probs is None else float(leep(probs.numpy().astype(np.float64), y))
    omega_d = [score_logme] + ([] if score_leep is None else [score_leep])
    omega_t = float(transferability_weight(omega_p, omega_d, float(_get(cfg, "method.beta", 0.5))))
    return dict(
        omega_t=omega_t,
        omega_p=omega_p,
        logme=score_logme,
        leep=score_leep,
        time_s=time.perf_counter() - start,
    )
