"""Checks of a composed config before anything is written: ``check(cfg, choices, run_dir)`` raises a
``ConfigError`` (one line naming the key) for the first value nothing could run with.

The schema (``runners.schema``) has already rejected unknown keys and wrong types while composing; ``check``
asks each value's owner about its range: ``doit.DOIT`` and the optimizer registry on a one-element dummy
parameter, numpy for the seed, torch for the device, ``runners.data`` / ``runners.models`` for their groups.
It runs in Hydra's callback (``runners.preflight``) and again at the start of every job (``runners.train.run``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from runners.config import group_options, to_python
from runners.errors import as_config_error, unknown_key
from runners.schema import config_error

# Top-level keys of the runner's own: (minimum, strict); lr and target_acc may also be null.
_RANGES = {
    "epochs": (1, False),
    "batch_size": (1, False),
    "threads": (1, False),
    "lr": (0, True),
    "checkpoint_every_steps": (0, False),
    "checkpoint_every_s": (0, False),
    "target_acc": (0, True),
    "convergence.tol": (0, False),
    "convergence.patience": (1, False),
}


def check(cfg, choices: Mapping | None = None, run_dir: str | None = None) -> None:
    """Raise ``ConfigError`` (one line naming the key) for the first value nothing could run with."""
    from runners.data import check_dataset
    from runners.models import check_model

    choices = dict(choices or {})
    _check_groups(cfg)
    _check_keys(cfg)
    _check_ranges(cfg)
    resolve_device(str(cfg.device))
    check_dataset(cfg.dataset)
    check_model(cfg.model)
    check_method(cfg, choices)
    if run_dir is not None:
        check_run_dir(run_dir)


def _walk(node, prefix: str = "") -> Iterator[tuple[str, object, object]]:
    """``(dotted key, value, parent node)`` of every leaf and node below ``node``."""
    items = node.items_ex(resolve=True) if isinstance(node, DictConfig) else enumerate(node)
    for k, v in items:
        key = (
            f"{prefix}.{k}"
            if prefix and isinstance(node, DictConfig)
            else f"{prefix}[{k}]"
            if prefix
            else str(k)
        )
        yield key, v, node
        if isinstance(v, DictConfig | ListConfig):
            yield from _walk(v, key)


def _check_keys(cfg) -> None:
    """Every key is read by something: keys added with ``+`` that no schema declares are refused."""
    for key, value, parent in _walk(cfg):
        node_type = OmegaConf.get_type(parent) if isinstance(parent, DictConfig) else None
        name = key.rpartition(".")[2]
        if (
            node_type not in (None, dict)
            and hasattr(node_type, "__dataclass_fields__")
            and name not in node_type.__dataclass_fields__
        ):
            raise config_error(key, unknown_key(name, node_type.__dataclass_fields__))
        if isinstance(value, float) and math.isnan(value):
            raise config_error(key, "must be a number, got nan")


def _check_ranges(cfg) -> None:
    for key, (minimum, strict) in _RANGES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None and (value < minimum or (strict and value == minimum)):
            raise config_error(key, f"must be {'>' if strict else '>='} {minimum}, got {value!r}")
    import numpy as np

    with as_config_error("seed"):
        np.random.RandomState(cfg.seed)


def _check_groups(cfg) -> None:
    """A group node that is null or empty (``space=null``, ``space.grid={}``) is an error, never ignored."""
    for group in ("dataset", "model", "method", "space"):
        if OmegaConf.is_missing(cfg, group) or cfg[group] is None:
            raise config_error(group, "missing (null); choose an option", group_options(group))
        missing = sorted(OmegaConf.missing_keys(cfg[group]))
        if missing:
            raise config_error(
                f"{group}.{missing[0]}", "missing; set it in the option's YAML or on the command line"
            )


def resolve_device(name: str):
    """The ``torch.device`` of ``device=...``, or a ``ConfigError`` when this machine cannot use it."""
    import torch

    valid = (
        ("auto", "cpu")
        + tuple(f"cuda:{i}" for i in range(torch.cuda.device_count()))
        + (("mps",) if torch.backends.mps.is_available() else ())
    )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with as_config_error("device", valid):
        device = torch.device(name)
    usable = {
        "cpu": device.index in (None, 0),
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not usable.get(device.type, False):
        raise config_error("device", f"{name!r} is not usable on this machine", valid)
    return device


def check_method(cfg, choices: Mapping) -> None:
    """Ask ``doit`` about every method value: a DOIT or the optimizer (and scheduler) on a dummy parameter."""
    import torch

    from doit import DOIT
    from doit import optimizers as registry
    from doit.acquisition import transferability_weight
    from runners.methods import doit_kwargs, optimizer_kwargs

    method = cfg.method
    params = [torch.zeros(1, requires_grad=True)]
    if method.kind == "doit":
        if cfg.lr is not None:
            raise config_error(
                "lr",
                f"method={method.name} takes its learning rates from the space (space.grid); "
                "leave lr=null or pick another space",
            )
        if not cfg.space.grid:
            raise config_error(
                "space.grid", "is empty: DOIT needs at least one candidate optimizer", registry.names()
            )
        for name in cfg.space.grid:
            if name not in registry.names():
                raise config_error(f"space.grid.{name}", "unknown optimizer", registry.names())
        if method.hyper:
            raise config_error(
                "method.hyper",
                f"method={method.name} takes its candidates' hyperparameters from the space; "
                "set space.grid.<optimizer>.<key>=[...] instead",
            )
        with as_config_error("method"):
            DOIT(params, space=to_python(cfg.space.grid), **doit_kwargs(cfg, steps_per_epoch=1, omega_t=None))
            transferability_weight(0.5, [0.0], float(method.beta))  # eq. 6 owns beta's range
        return
    ablation = choices.get("ablation") or "none"
    if ablation != "none":
        raise config_error(
            "ablation",
            f"ablation={ablation} applies to DOIT strategies only, not method={method.name}; "
            "use ablation=none or method=doit|random|cyclical",
        )
    with as_config_error("method.optimizer", registry.names()):
        registry.info(method.optimizer or "")
    with as_config_error(
        "lr" if cfg.lr is not None else "method.lr" if method.lr is not None else "method.hyper"
    ):
        opt = registry.create(method.optimizer, params, **optimizer_kwargs(cfg))
    if method.kind == "scheduled":
        with as_config_error("method.scheduler", registry.SCHEDULERS):
            registry.create_scheduler(
                method.scheduler, opt, int(cfg.epochs), **(to_python(method.scheduler_kw) or {})
            )


def check_run_dir(path: str) -> None:
    """``hydra.run.dir`` can be created and written (nothing is created here)."""
    if not str(path).strip():
        raise config_error(
            "hydra.run.dir", "is empty; give a directory, e.g. hydra.run.dir=outputs/runs/my-run"
        )
    out = Path(path)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                where = f"{out} is" if parent == out else f"{out} is inside {parent}, which is"
                raise config_error("hydra.run.dir", f"{where} a file, not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                where = f"{out} is" if parent == out else f"{out} is under {parent}, which is"
                raise config_error("hydra.run.dir", f"{where} not writable; choose a writable hydra.run.dir")
            return
