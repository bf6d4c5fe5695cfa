"""AGD: auto-switchable optimizer with stepwise gradient difference as preconditioner.

Yue et al., "AGD: an Auto-switchable Optimizer using Stepwise Gradient Difference as Preconditioning
Matrix", NeurIPS 2023, Algorithm 1. Per coordinate, with bias corrections ``c1_t = 1 - beta1^t`` and
``c2_t = 1 - beta2^t``::

    m_t = beta1 m_{t-1} + (1 - beta1) g_t
    s_t = m_t / c1_t - m_{t-1} / c1_{t-1}        (s_1 = m_1 / c1_1)
    b_t = beta2 b_{t-1} + (1 - beta2) s_t^2
    x_{t+1} = x_t - lr * sqrt(c2_t) / c1_t * m_t / max(sqrt(b_t), delta * sqrt(c2_t))

The ``max`` is the auto-switch: where ``sqrt(b_t)`` falls below ``delta * sqrt(c2_t)`` the step is
SGD with momentum, elsewhere it is adaptive. Options beyond the paper follow the authors' code
(``atorch.optimizers.AGD``): coupled or decoupled weight decay, AMSGrad's running max of ``b_t``,
and an element-wise clip of ``m_t / max(...)``. Its ``win`` option is left out: it is not in the
paper, and the authors' code starts its extra sequence at zero, which shrinks every parameter
threefold on the first step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["AGD"]


class AGD(torch.optim.Optimizer):
    """AGD (Yue et al. 2023, Algorithm 1); defaults are the authors' code defaults.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (``alpha_t`` of Algorithm 1).
        betas: decay rates of the first moment ``m`` and of the gradient-difference moment ``b``.
        delta: auto-switch threshold (``delta`` of Algorithm 1).
        weight_decay: weight decay coefficient.
        weight_decouple: decoupled (AdamW-style) decay if True, else L2 added to the gradient.
        fixed_decay: decoupled decay not scaled by ``lr``.
        amsgrad: use the running maximum of ``b_t`` in the denominator.
        clip: if set, clamp the preconditioned step ``m_t / max(...)`` to ``[-clip, clip]``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        delta: float = 1e-5,
        weight_decay: float = 0.0,
        weight_decouple: bool = True,
        fixed_decay: bool = False,
        amsgrad: bool = False,
        clip: float | None = None,
    ) -> None:
        if not lr > 0.0:
            raise ValueError(f"AGD: lr={lr} must be > 0")
        if not delta >= 0.0:
            raise ValueError(f"AGD: delta={delta} must be >= 0")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"AGD: betas[{i}]={beta} must be in [0, 1)")
        if not weight_decay >= 0.0:
            raise ValueError(f"AGD: weight_decay={weight_decay} must be >= 0")
        if clip is not None and not clip > 0.0:
            raise ValueError(f"AGD: clip={clip} must be > 0 or None")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            delta=delta,
            weight_decay=weight_decay,
            weight_decouple=weight_decouple,
            fixed_decay=fixed_decay,
            amsgrad=amsgrad,
            clip=clip,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One AGD update of every parameter that has a gradient (Algorithm 1, lines 3-7)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        grad = p.grad
        if grad.is_sparse:
            raise RuntimeError("AGD does not support sparse gradients; use dense gradients")
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if wd != 0.0:
            if group["weight_decouple"]:
                p.mul_(1.0 - wd * (1.0 if group["fixed_decay"] else lr))
            else:
                grad = grad.add(p, alpha=wd)

        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        t = state["step"]
        m, b = state["exp_avg"], state["exp_avg_sq"]
        c1, c2 = 1.0 - beta1**t, 1.0 - beta2**t

        # s_t: stepwise difference of bias-corrected first moments.
        if t == 1:
            m.mul_(beta1).add_(grad, alpha=1.0 - beta1)
            s = m / c1
        else:
            s = m / -(1.0 - beta1 ** (t - 1))
            m.mul_(beta1).add_(grad, alpha=1.0 - beta1)
            s.add_(m, alpha=1.0 / c1)
        b.mul_(beta2).addcmul_(s, s, value=1.0 - beta2)
        if group["amsgrad"]:
            b = torch.maximum(state["max_exp_avg_sq"], b, out=state["max_exp_avg_sq"])

        denom = b.sqrt().clamp_(min=group["delta"] * math.sqrt(c2))
        step = m / denom
        if group["clip"] is not None:
            step.clamp_(min=-group["clip"], max=group["clip"])
        p.add_(step, alpha=-lr * math.sqrt(c2) / c1)
