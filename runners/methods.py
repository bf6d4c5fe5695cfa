"""Build a run's optimizer from ``cfg.method``: DOIT strategies, single, scheduled and hybrid optimizers.

Kinds (``method.kind``): ``doit`` (DOIT, random or cyclical switching over ``cfg.space.grid``, section 3
and Table 7), ``single`` (one optimizer of ``doit.optimizers``, Table 1 and 3), ``scheduled`` (a single
optimizer under StepLR / CosineAnnealingLR, Table 3) and ``hybrid`` (SWATS, Padam, AdaBound, AGD).
"""

from __future__ import annotations

from omegaconf import OmegaConf

from doit import DOIT
from doit import optimizers as registry
from runners.schema import bad


def effective_lr(cfg) -> float | None:
    """The learning rate a non-DOIT method uses: top-level ``lr``, else ``method.lr``, else the registry's."""
    method = cfg.method
    if method.kind == "doit":
        return None
    if cfg.lr is not None:
        return float(cfg.lr)
    if method.get("lr") is not None:
        return float(method.lr)
    return float(_info(method.optimizer).defaults["lr"])


def halving_period(cfg, steps_per_epoch: int) -> int:
    """``n`` of eq. 7 in cycles: ``method.halving_period`` or one epoch's worth of cycles (at least 1)."""
    if cfg.method.halving_period is not None:
        return int(cfg.method.halving_period)
    return max(1, steps_per_epoch // int(cfg.method.tau))


def _info(name: str):
    try:
        return registry.info(name)
    except ValueError:
        raise bad("method.optimizer", f"unknown optimizer {name!r}", registry.names()) from None


def _plain(node) -> dict:
    return {} if node is None else OmegaConf.to_container(node, resolve=True)


def _hyper(method) -> dict:
    hyper = _plain(method.get("hyper"))
    return {k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items() if v is not None}


def build_method(cfg, params, state, steps_per_epoch: int, omega_t: float | None = None):
    """``(optimizer, scheduler_or_None)`` for ``cfg.method`` over ``params``.

    ``state``: the named tensors of DOIT's surrogate input (ignored by other kinds); ``omega_t``: the
    transferability weight (eq. 6) for DOIT, else ``method.omega_t`` or 0.
    """
    method = cfg.method
    if method.kind == "doit":
        grid = OmegaConf.to_container(cfg.space.grid, resolve=True)
        for name in grid:
            if name not in registry.names():
                raise bad(f"space.grid.{name}", "unknown optimizer", registry.names())
        if omega_t is None:
            omega_t = 0.0 if method.omega_t is None else float(method.omega_t)
        try:
            opt = DOIT(params, space=grid, tau=int(method.tau), n_ini=int(method.n_ini), alpha=float(method.alpha),
                       w_min=float(method.w_min), omega_t=float(omega_t),
                       halving_period=halving_period(cfg, steps_per_epoch), schedule=method.schedule,
                       strategy=method.strategy, initial=method.initial, compression=method.compression,
                       n_components=int(method.n_components), state=state, inherit=bool(method.inherit),
                       nan_guard=bool(method.nan_guard), explode_factor=float(method.explode_factor),
                       seed=int(cfg.seed))
        except ImportError as err:
            raise bad("method.compression", str(err), ("pca", "random", "umap")) from None
        except (ValueError, TypeError) as err:
            raise bad("space", str(err)) from None
        return opt, None
    _info(method.optimizer)
    try:
        opt = registry.create(method.optimizer, params, **{**_hyper(method), "lr": effective_lr(cfg)})
    except ValueError as err:
        raise bad("method.hyper", str(err)) from None
    if method.kind != "scheduled":
        return opt, None
    kw = _plain(method.get("scheduler_kw"))
    try:
        sched = registry.create_scheduler(method.scheduler, opt, int(cfg.epochs) * steps_per_epoch, **kw)
    except ValueError as err:
        raise bad("method.scheduler", str(err), registry.SCHEDULERS) from None
    return opt, sched
