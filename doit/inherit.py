"""Carrying optimizer state across a DOIT switch (`DOIT(inherit=True)`; the paper does not carry it).

Each sending buffer is read as an estimate of ``E[g]`` or ``E[g**2]`` (its `Units` and coefficient undo
its scale and bias), and each receiving buffer is written as the receiving optimizer would hold it after
the same ``n`` updates of its own. A moment the sender lacks is estimated from the current gradient
``g`` (taken as 0 if there is none): ``E[g]`` by ``g``, ``E[g**2]`` by ``E[g]**2 + (g - E[g])**2`` (a
one-sample variance).
"""

from __future__ import annotations

import torch

from doit.optimizers import Buffer, OptimInfo, Units


def _decode(buffer: Buffer, value: torch.Tensor, group: dict, n: int) -> torch.Tensor:
    """The estimate of ``E[g]`` or ``E[g**2]`` that ``value`` holds after ``n`` updates."""
    if buffer.units == Units.total:
        return (value - group.get("initial_accumulator_value", 0.0)) / n
    if buffer.units == Units.max:
        return value.square()
    c = buffer.coefficient(group)
    if buffer.units == Units.ema:
        return value / (1.0 - c**n)
    return value * ((1.0 - c) / (1.0 - c**n))  # Units.momentum


def _encode(buffer: Buffer, estimate: torch.Tensor, group: dict, n: int) -> torch.Tensor:
    """``estimate`` in the units the receiving buffer holds after ``n`` updates (inverse of `_decode`)."""
    if buffer.units == Units.total:
        return estimate * n + group.get("initial_accumulator_value", 0.0)
    if buffer.units == Units.max:
        return estimate.sqrt()
    c = buffer.coefficient(group)
    if buffer.units == Units.ema:
        return estimate * (1.0 - c**n)
    return estimate * ((1.0 - c**n) / (1.0 - c))  # Units.momentum


def carry(
    old: torch.optim.Optimizer, new: torch.optim.Optimizer, sender: OptimInfo, receiver: OptimInfo, n: int
) -> None:
    """Fill ``new``'s state from ``old``'s, both over the same param groups; ``n``: updates of history."""
    if sender.name == receiver.name:  # same algorithm: the state carries over as it is
        new.load_state_dict(
            {"state": old.state_dict()["state"], "param_groups": new.state_dict()["param_groups"]}
        )
        return
    if not sender.buffers or not receiver.buffers:
        return
    n = max(int(n), 1)
    for old_group, new_group in zip(old.param_groups, new.param_groups, strict=True):
        sending = [b for b in sender.buffers if b.moment and b.active(old_group)]
        receiving = [b for b in receiver.buffers if b.active(new_group)]
        for p in new_group["params"]:
            src = old.state.get(p, {})
            moments = {
                b.moment: _decode(b, src[b.key], old_group, n)
                for b in sending
                if torch.is_tensor(src.get(b.key))
            }
            if not moments:
                continue
            grad = torch.zeros_like(p) if p.grad is None else p.grad.detach()
            moments.setdefault(1, grad.clone())
            moments.setdefault(2, moments[1].square() + (grad - moments[1]).square())
            dst = {
                b.key: torch.zeros_like(p)
                if b.units == Units.fresh
                else _encode(b, moments[b.moment], new_group, n)
                for b in receiving
            }
            if receiver.scalars is not None:
                dst.update(receiver.scalars(new_group, n))
            new.state[p] = dst
