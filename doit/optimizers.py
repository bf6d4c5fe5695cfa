"""Registry of the paper's single and hybrid optimizers, and its two LR schedulers.

Single optimizers (paper Sec. 5.1, Appendix C/D) are PyTorch's with PyTorch defaults except ``lr``.
Hybrid optimizers (SWATS, Padam, AdaBound) come from pytorch_optimizer, set to the original
authors' defaults; AGD (the ICLR 2026 version's fourth hybrid) is `doit.agd.AGD`. Beyond the paper: the
tuning-free optimizers Prodigy, schedule-free AdamW and SGD, and D-Adaptation Adam (pytorch_optimizer).
`info(name)` gives each record; `create(name, params, **hyper)` builds one.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pytorch_optimizer
import torch

from doit.agd import AGD

__all__ = ["OptimInfo", "Buffer", "Units", "names", "info", "create", "SCHEDULERS", "create_scheduler"]

# Constructor arguments that select an implementation, not the algorithm: never part of a search space.
_IMPLEMENTATION_ARGS = {"params", "foreach", "fused", "differentiable", "capturable", "maximize"}


class Units(enum.StrEnum):
    """How a moment buffer accumulates ``x`` (``g`` or ``g**2``) with coefficient ``c`` over ``n`` updates.

    ``ema``: ``b = c b + (1 - c) x``, so ``b ~ (1 - c**n) E[x]`` (Adam's ``exp_avg``, RMSprop's ``square_avg``);
    ``momentum``: ``b = c b + x`` (torch SGD), so ``b ~ (1 - c**n) / (1 - c) E[x]``; ``total``: ``b = b + x``
    (Adagrad), so ``b ~ n E[x]``; ``max``: ``b = max(c b, |g|)`` (Adamax), read as ``sqrt(E[g**2])``;
    ``fresh``: a buffer with no counterpart elsewhere (RMSprop's momentum of normalised steps): starts at 0.
    """

    ema = "ema"
    momentum = "momentum"
    total = "total"
    max = "max"
    fresh = "fresh"


@dataclass(frozen=True)
class Buffer:
    """One per-parameter state tensor of an optimizer, for carrying state across a DOIT switch.

    ``moment``: 1 (of ``g``), 2 (of ``g**2``) or 0 (``Units.fresh``); ``coef``: the param-group key (and
    tuple index) of its coefficient ``c``; ``when``: a param-group key that must be truthy for it to exist.
    """

    key: str
    moment: int
    units: Units
    coef: tuple[str, int | None] | None = None
    when: str | None = None

    def active(self, group: Mapping[str, Any]) -> bool:
        """Whether the optimizer keeps this buffer under the param-group settings ``group``."""
        return self.when is None or bool(group.get(self.when))

    def coefficient(self, group: Mapping[str, Any]) -> float:
        key, index = self.coef
        value = group[key]
        return float(value if index is None else value[index])


def _steps(group: Mapping[str, Any], n: int) -> dict[str, torch.Tensor]:
    return {"step": torch.tensor(float(n))}


def _nadam_steps(group: Mapping[str, Any], n: int) -> dict[str, torch.Tensor]:
    """NAdam's step count and its product of momentum coefficients ``mu_t`` over ``n`` steps."""
    beta1, decay = group["betas"][0], group["momentum_decay"]
    mu_product = math.prod(beta1 * (1.0 - 0.5 * 0.96 ** (t * decay)) for t in range(1, n + 1))
    return {"step": torch.tensor(float(n)), "mu_product": torch.tensor(mu_product)}


_SGD = (Buffer("momentum_buffer", 1, Units.momentum, ("momentum", None), when="momentum"),)
_ADAM = (
    Buffer("exp_avg", 1, Units.ema, ("betas", 0)),
    Buffer("exp_avg_sq", 2, Units.ema, ("betas", 1)),
    Buffer("max_exp_avg_sq", 2, Units.ema, ("betas", 1), when="amsgrad"),
)
_RMSPROP = (
    Buffer("square_avg", 2, Units.ema, ("alpha", None)),
    Buffer("momentum_buffer", 0, Units.fresh, when="momentum"),
    Buffer("grad_avg", 1, Units.ema, ("alpha", None), when="centered"),
)


@dataclass(frozen=True)
class OptimInfo:
    """One registry record: ``factory(params, **defaults, **hyper)`` builds the optimizer.

    Traits for `DOIT(inherit=True)`: ``buffers`` (its moment buffers and their units) and ``scalars``
    (``scalars(group, n)``: its scalar state after ``n`` updates, e.g. the step count). An optimizer
    without ``buffers`` never receives or hands over state across a switch to another type.
    """

    name: str
    factory: Callable[..., torch.optim.Optimizer]
    overrides: Mapping[str, Any]  # what differs from the factory's own defaults
    reference: str
    buffers: tuple[Buffer, ...] = ()
    scalars: Callable[[Mapping[str, Any], int], dict[str, torch.Tensor]] | None = None
    defaults: Mapping[str, Any] = field(init=False)  # the effective defaults (factory's + overrides)
    accepted: tuple[str, ...] = field(init=False)  # hyperparameters `create` accepts
    fusable: bool = field(init=False)  # torch has a fused implementation (`create(..., fused=True)`)

    def __post_init__(self) -> None:
        sig = inspect.signature(self.factory.__init__)
        own = {
            k: p.default
            for k, p in sig.parameters.items()
            if k not in _IMPLEMENTATION_ARGS
            and k != "self"
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        unknown = set(self.overrides) - set(own)
        if unknown:
            raise TypeError(f"{self.name}: overrides {sorted(unknown)} are not arguments of {self.factory}")
        object.__setattr__(self, "defaults", MappingProxyType({**own, **self.overrides}))
        object.__setattr__(self, "accepted", tuple(own))
        object.__setattr__(self, "fusable", "fused" in sig.parameters)


_RECORDS = [
    OptimInfo("sgd", torch.optim.SGD, {"lr": 1e-2}, "Robbins & Monro 1951", _SGD),
    OptimInfo("sgdm", torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9}, "Sutskever et al. 2013", _SGD),
    OptimInfo(
        "adagrad",
        torch.optim.Adagrad,
        {"lr": 1e-2},
        "Duchi et al. 2011",
        (Buffer("sum", 2, Units.total),),
        _steps,
    ),
    OptimInfo("rmsprop", torch.optim.RMSprop, {"lr": 1e-2}, "Graves 2013", _RMSPROP, _steps),
    OptimInfo("adam", torch.optim.Adam, {"lr": 1e-3}, "Kingma & Ba 2014", _ADAM, _steps),
    OptimInfo("asgd", torch.optim.ASGD, {"lr": 1e-2}, "Polyak & Juditsky 1992"),
    OptimInfo("adamw", torch.optim.AdamW, {"lr": 1e-3}, "Loshchilov & Hutter 2019", _ADAM, _steps),
    OptimInfo("nadam", torch.optim.NAdam, {"lr": 2e-3}, "Dozat 2016", _ADAM[:2], _nadam_steps),
    OptimInfo(
        "adamax",
        torch.optim.Adamax,
        {"lr": 2e-3},
        "Kingma & Ba 2014 (Sec. 7.1)",
        (Buffer("exp_avg", 1, Units.ema, ("betas", 0)), Buffer("exp_inf", 2, Units.max)),
        _steps,
    ),
    # SWATS paper Algorithm 1 uses eps = 1e-9 (denominator and switch test); Adam's lr and betas.
    OptimInfo("swats", pytorch_optimizer.SWATS, {"lr": 1e-3, "eps": 1e-9}, "Keskar & Socher 2017"),
    # Padam authors' code: lr 0.1, eps 1e-8, L2 (coupled) decay; partial 1/8 as in their scripts.
    # pytorch_optimizer's PAdam has no AMSGrad max of v_t (the authors' code takes it).
    OptimInfo(
        "padam",
        pytorch_optimizer.PAdam,
        {"lr": 1e-1, "partial": 0.125, "weight_decouple": False},
        "Chen et al. 2018",
    ),
    # AdaBound authors' package: lr 1e-3, final_lr 0.1, gamma 1e-3, L2 (coupled) weight decay.
    OptimInfo(
        "adabound",
        pytorch_optimizer.AdaBound,
        {"lr": 1e-3, "final_lr": 0.1, "gamma": 1e-3, "eps": 1e-8, "weight_decouple": False},
        "Luo et al. 2019",
    ),
    OptimInfo("agd", AGD, {}, "Yue et al. 2023"),
    # Beyond the paper: a modern learning-rate-free optimizer; lr multiplies its own estimate.
    # growth_rate: its default inf (unbounded growth of the step-size estimate) as 1e30, the same in
    # practice, so that result.json's hyperparameters stay finite (strict JSON).
    OptimInfo(
        "prodigy", pytorch_optimizer.Prodigy, {"lr": 1.0, "growth_rate": 1e30}, "Mishchenko & Defazio 2024"
    ),
    # The tuning-free family (one run, no lr search), each at its authors' defaults; checked against the
    # authors' packages (schedulefree, dadaptation) in tests/test_tuning_free.py. Schedule-free optimizers
    # evaluate at their averaged iterate: the runner calls ``optimizer.eval()`` / ``.train()`` around
    # every evaluation (``runners.loop``). D-Adaptation's growth_rate inf as 1e30 (strict JSON), as Prodigy.
    OptimInfo("schedulefree_adamw", pytorch_optimizer.ScheduleFreeAdamW, {}, "Defazio et al. 2024"),
    OptimInfo("schedulefree_sgd", pytorch_optimizer.ScheduleFreeSGD, {}, "Defazio et al. 2024"),
    OptimInfo(
        "dadapt_adam", pytorch_optimizer.DAdaptAdam, {"growth_rate": 1e30}, "Defazio & Mishchenko 2023"
    ),
]
_REGISTRY = {record.name: record for record in _RECORDS}


def names() -> list[str]:
    """The registered optimizer names, in registry order."""
    return list(_REGISTRY)


def info(name: str) -> OptimInfo:
    """The registry record of optimizer ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


def create(name: str, params: Iterable[Any], *, fused: bool = False, **hyper: Any) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``params`` with its documented defaults overridden by ``hyper``.

    ``fused``: torch's fused implementation (one kernel per step) where the optimizer has one (SGD, SGDM,
    Adam, AdamW, Adagrad; `OptimInfo.fusable`), torch's default elsewhere: the same algorithm, other
    rounding, and much less per-step work for the Adam family (``benchmarks/runner_overhead.py --fused``).
    """
    record = info(name)
    unknown = sorted(set(hyper) - set(record.accepted))
    if unknown:
        raise ValueError(
            f"optimizer {name!r} does not accept {', '.join(unknown)}; accepted: {', '.join(record.accepted)}"
        )
    kwargs = {**record.overrides, **hyper, **({"fused": True} if fused and record.fusable else {})}
    lr = kwargs.get("lr", record.defaults["lr"])
    if not lr > 0:
        raise ValueError(f"optimizer {name!r}: lr={lr} must be > 0")
    return record.factory(params, **kwargs)


SCHEDULERS = ("steplr", "cosine")
_SCHEDULER_ARGS = {"steplr": ("step_size", "gamma"), "cosine": ("eta_min",)}


def create_scheduler(
    kind: str, optimizer: torch.optim.Optimizer, total_steps: int, **kw: Any
) -> torch.optim.lr_scheduler.LRScheduler:
    """An LR scheduler stepped once per training step, ``total_steps`` times in all.

    ``steplr``: torch StepLR; defaults ``step_size = max(1, round(0.3 * total_steps))`` (the lr is
    multiplied by ``gamma = 0.1`` after 30%, 60% and 90% of training). ``cosine``: torch
    CosineAnnealingLR with ``T_max = total_steps``, ``eta_min = 0``. Works on any optimizer,
    including `doit.DOIT` (whose group lr is a multiplier on every candidate's lr).
    """
    if kind not in _SCHEDULER_ARGS:
        raise ValueError(f"unknown scheduler {kind!r}; choose one of: {', '.join(SCHEDULERS)}")
    unknown = sorted(set(kw) - set(_SCHEDULER_ARGS[kind]))
    if unknown:
        raise ValueError(
            f"scheduler {kind!r} does not accept {', '.join(unknown)}; accepted: {', '.join(_SCHEDULER_ARGS[kind])}"
        )
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"scheduler {kind!r}: total_steps={total_steps!r} must be an integer >= 1")
    if kind == "steplr":
        step_size = kw.get("step_size", max(1, round(0.3 * total_steps)))
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=kw.get("gamma", 0.1))
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=total_steps, eta_min=kw.get("eta_min", 0.0)
    )
