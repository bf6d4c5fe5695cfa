"""Build a run's optimizer from ``cfg.method``: DOIT strategies, single, scheduled and hybrid optimizers.

Kinds (``method.kind``): ``doit`` (DOIT, random or cyclical switching over ``cfg.space.grid``, section 3
and Table 7), ``single`` (one optimizer of ``doit.optimizers``, Table 1 and 3), ``scheduled`` (a single
optimizer under StepLR / CosineAnnealingLR, Table 3) and ``hybrid`` (SWATS, Padam, AdaBound, AGD).
``optimizer_kwargs`` and ``doit_kwargs`` are the keyword arguments the registry and ``doit.DOIT`` get (also
for the checks, ``runners.checks``, which have already asked ``doit`` about every value before a run
builds anything here).
"""

from __future__ import annotations

import inspect

from analysis.record import Hyper
from doit import DOIT
from doit import optimizers as registry
from runners.config import to_python


def doit_parameters() -> list[str]:
    """The keyword arguments of ``doit.DOIT``, in its signature's order."""
    return list(inspect.signature(DOIT).parameters)


def optimizer_kwargs(cfg) -> dict:
    """The keywords given to the registry for a single/scheduled/hybrid run: lr from ONE place (top-level
    ``lr``, else ``method.lr``, else the registry default) plus the non-null ``method.hyper`` values."""
    method = cfg.method
    given = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in (to_python(method.hyper) or {}).items()
        if v is not None
    }
    lr = cfg.lr if cfg.lr is not None else method.lr
    if lr is None:
        lr = registry.info(method.optimizer).defaults["lr"]
    return {**given, "lr": float(lr)}


def doit_kwargs(cfg, steps_per_epoch: int, omega_t: float | None) -> dict:
    """``doit.DOIT``'s keyword arguments but ``params``, ``space`` and ``state``: each argument of its signature
    that the method config has a key for (others keep DOIT's default), ``seed`` and ``fused``. ``omega_t``: the
    transferability weight (eq. 6) estimated for this run, else ``method.omega_t``, else 0; a null
    ``halving_period`` (n of eq. 7, in cycles) is one epoch's worth of cycles."""
    method = to_python(cfg.method)
    kwargs = {name: method[name] for name in doit_parameters() if name in method}
    if omega_t is None:
        omega_t = method["omega_t"] or 0.0
    kwargs["omega_t"] = float(omega_t)
    if kwargs["halving_period"] is None:
        kwargs["halving_period"] = max(1, steps_per_epoch // max(1, int(method["tau"])))
    return {**kwargs, "seed": int(cfg.seed), "fused": bool(cfg.fused)}


def effective_hyper(cfg) -> Hyper | None:
    """The effective hyperparameters of a single/scheduled/hybrid run, registry defaults filled in (None for
    DOIT strategies: their candidates are ``space.grid``). The one source of a run's learning rate."""
    method = cfg.method
    if method.kind == "doit":
        return None
    given = optimizer_kwargs(cfg)
    params = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in {**registry.info(method.optimizer).defaults, **given}.items()
        if k != "lr"
    }
    return Hyper(
        optimizer=str(method.optimizer),
        lr=given["lr"],
        scheduler=str(method.scheduler) if method.kind == "scheduled" else None,
        params=params,
    )


def build_method(cfg, params, state, steps_per_epoch: int, omega_t: float | None = None):
    """``(optimizer, scheduler_or_None)`` for ``cfg.method`` over ``params``.

    ``state``: the named tensors of DOIT's surrogate input (ignored by other kinds); ``omega_t``: the
    transferability weight (eq. 6) for DOIT, else ``method.omega_t`` or 0.
    """
    method = cfg.method
    if method.kind == "doit":
        grid = to_python(cfg.space.grid)
        return DOIT(params, space=grid, state=state, **doit_kwargs(cfg, steps_per_epoch, omega_t)), None
    opt = registry.create(method.optimizer, params, fused=bool(cfg.fused), **optimizer_kwargs(cfg))
    if method.kind != "scheduled":
        return opt, None
    total = int(cfg.epochs) * steps_per_epoch
    return opt, registry.create_scheduler(
        method.scheduler, opt, total, **(to_python(method.scheduler_kw) or {})
    )
