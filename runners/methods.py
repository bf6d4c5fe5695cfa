"""Build a run's optimizer from ``cfg.method``: DOIT strategies, single, scheduled and hybrid optimizers.

Kinds (``method.kind``): ``doit`` (DOIT, random or cyclical switching over ``cfg.space.grid``, section 3
and Table 7), ``single`` (one optimizer of ``doit.optimizers``, Table 1 and 3), ``scheduled`` (a single
optimizer under StepLR / CosineAnnealingLR, Table 3) and ``hybrid`` (SWATS, Padam, AdaBound, AGD).
``runners.config.check`` has already asked ``doit`` about every value, so nothing here validates.
"""

from __future__ import annotations

from analysis.record import Hyper
from doit import DOIT
from doit import optimizers as registry
from runners.config import doit_kwargs, optimizer_kwargs, plain, plain_or_empty


def hyper(cfg) -> Hyper | None:
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
        return DOIT(
            params, space=plain(cfg.space.grid), state=state, **doit_kwargs(cfg, steps_per_epoch, omega_t)
        ), None
    opt = registry.create(method.optimizer, params, **optimizer_kwargs(cfg))
    if method.kind != "scheduled":
        return opt, None
    total = int(cfg.epochs) * steps_per_epoch
    return opt, registry.create_scheduler(method.scheduler, opt, total, **plain_or_empty(method.scheduler_kw))
