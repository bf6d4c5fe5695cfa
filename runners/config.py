"""The composed config: compose it, check it before anything is written, and explain any error in one line.

``check(cfg)`` runs in Hydra's ``on_run_start``/``on_multirun_start`` callback (``Preflight``, before Hydra
creates the run dir) and again at the start of every job. The schema (``runners.schema``) has already
rejected unknown keys and wrong types while composing; ``check`` asks each value's owner about its range:
``doit.DOIT`` and the optimizer registry on a one-element dummy parameter, numpy for the seed, torch for the
device, ``runners.data`` / ``runners.models`` for their groups. Any ``ValueError`` of theirs becomes a
``ConfigError`` naming the key, in ``owner``. ``error_line`` turns any Hydra/OmegaConf exception into
``<key>: <problem>[; valid: ...]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import enum
import math
import os
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from runners.schema import CONF_DIR, SCHEMAS, ConfigError, ConvergenceConfig, LoraConfig, TrainConfig, bad

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


def group_options(group: str) -> list[str]:
    """Option names of a config group (the YAML files under ``conf/<group>/``)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(overrides: list[str]) -> tuple[DictConfig, dict]:
    """``(cfg, choices)`` of ``conf/train.yaml`` with ``overrides`` (no ``hydra`` node): input of ``run``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if not k.startswith("hydra")}
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def plain(cfg) -> dict:
    """The resolved config as plain Python data (enums as strings): result.json, checkpoints, comparisons."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


# ---------------------------------------------------------------------------------------------- errors
@contextlib.contextmanager
def owner(key: str, valid=None) -> Iterator[None]:
    """Turn the owner's ``ValueError`` into ``ConfigError('<key>: <message>')`` (``key`` may name the method
    key the message starts with, e.g. ``tau=0 must be >= 1`` -> ``method.tau``)."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError, RuntimeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        named = re.match(r"(\w+)=", message)
        if key == "method" and named and named.group(1) in _method_keys():
            key = f"method.{named.group(1)}"
        raise bad(key, message, valid) from None


def _method_keys() -> set[str]:
    """The method keys that name a ``doit.DOIT`` argument or eq. 6's ``beta``."""
    import inspect

    from doit import DOIT

    return set(inspect.signature(DOIT).parameters) | {"beta"}


def _close(key: str, known) -> str:
    match = difflib.get_close_matches(key, [str(k) for k in known], n=1)
    return f"unknown key; did you mean {match[0]}?" if match else "unknown key"


def error_line(err: BaseException) -> str:
    """One line for a Hydra or OmegaConf exception (or a ``ConfigError``): ``<key>: <problem>[; valid: ...]``."""
    from hydra.errors import MissingConfigException, OverrideParseException

    if isinstance(err, ConfigError):
        return str(err)
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        group, _, option = err.missing_cfg_file.rpartition("/")
        options = [o for o in err.options or group_options(group) if not o.startswith("base_")]
        return str(bad(group or option, f"unknown option {option!r}", options or None))
    if isinstance(err, OverrideParseException):
        return str(
            bad(err.override.split("=")[0] if err.override else "override", f"cannot parse: {err.message}")
        )
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        key = str(cause.full_key)
        if isinstance(cause, ConfigKeyError | ConfigAttributeError):
            parent, _, name = key.rpartition(".")
            return str(bad(key, _close(name, _schema_keys(parent))))
        if isinstance(cause, MissingMandatoryValue):
            return str(bad(key, "missing", group_options(key) or None))
        if isinstance(cause, ValidationError) and _enum_values(key):
            return str(bad(key, f"unknown value {getattr(cause, 'value', '')!r}", _enum_values(key)))
        return str(bad(key, _first_line(getattr(cause, "msg", None) or str(cause))))
    return _first_line(str(err)) + (f" ({_first_line(str(err.__cause__))})" if err.__cause__ else "")


def from_hydra(err: BaseException) -> bool:
    """Whether ``err`` was raised inside Hydra or OmegaConf (composition), not by the run."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and any(
        f"/{lib}/" in tb.tb_frame.f_code.co_filename for lib in ("hydra", "omegaconf")
    )


def null_group_line(argv: list[str], err: BaseException) -> str:
    """The line for ``<group>=null`` (Hydra raises a bare ValueError without the group's name)."""
    groups = [a.split("=")[0].lstrip("+~") for a in argv if a.endswith("=null")]
    groups = [g for g in groups if (CONF_DIR / g).is_dir()]
    if groups:
        return str(bad(groups[0], "cannot be null; choose an option", group_options(groups[0])))
    return _first_line(str(err))


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), str(text).strip())


def _schemas_under(parent: str) -> list[type]:
    """The dataclasses the schema puts at ``parent`` (a group: all of its schemas)."""
    nodes = {"": [TrainConfig], "convergence": [ConvergenceConfig], "model.lora": [LoraConfig]}
    return nodes.get(parent) or list(SCHEMAS.get(parent, {}).values())


def _schema_keys(parent: str) -> list[str]:
    return sorted({f.name for node in _schemas_under(parent) for f in dataclasses.fields(node)})


def _enum_values(key: str) -> list[str] | None:
    """The allowed values of ``key`` when the schema types it with an Enum, else None."""
    parent, _, name = key.rpartition(".")
    for node in _schemas_under(parent):
        hint = typing.get_type_hints(node).get(name)
        for option in (hint, *typing.get_args(hint)):
            if isinstance(option, type) and issubclass(option, enum.Enum):
                return [member.value for member in option]
    return None


# ----------------------------------------------------------------------------------------------- check
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
            raise bad(key, _close(name, node_type.__dataclass_fields__))
        if isinstance(value, float) and math.isnan(value):
            raise bad(key, "must be a number, got nan")


def _check_ranges(cfg) -> None:
    for key, (minimum, strict) in _RANGES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None and (value < minimum or (strict and value == minimum)):
            raise bad(key, f"must be {'>' if strict else '>='} {minimum}, got {value!r}")
    import numpy as np

    with owner("seed"):
        np.random.RandomState(cfg.seed)


def _check_groups(cfg) -> None:
    """A group node that is null or empty (``space=null``, ``space.grid={}``) is an error, never ignored."""
    for group in ("dataset", "model", "method", "space"):
        if OmegaConf.is_missing(cfg, group) or cfg[group] is None:
            raise bad(group, "missing (null); choose an option", group_options(group))
        missing = sorted(OmegaConf.missing_keys(cfg[group]))
        if missing:
            raise bad(f"{group}.{missing[0]}", "missing; set it in the option's YAML or on the command line")


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
    with owner("device", valid):
        device = torch.device(name)
    usable = {
        "cpu": device.index in (None, 0),
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not usable.get(device.type, False):
        raise bad("device", f"{name!r} is not usable on this machine", valid)
    return device


def check_method(cfg, choices: Mapping) -> None:
    """Ask ``doit`` about every method value: a DOIT or the optimizer (and scheduler) on a dummy parameter."""
    import torch

    from doit import DOIT
    from doit import optimizers as registry
    from doit.acquisition import transferability_weight

    method = cfg.method
    params = [torch.zeros(1, requires_grad=True)]
    if method.kind == "doit":
        if cfg.lr is not None:
            raise bad(
                "lr",
                f"method={method.name} takes its learning rates from the space (space.grid); "
                "leave lr=null or pick another space",
            )
        if not cfg.space.grid:
            raise bad("space.grid", "is empty: DOIT needs at least one candidate optimizer", registry.names())
        for name in cfg.space.grid:
            if name not in registry.names():
                raise bad(f"space.grid.{name}", "unknown optimizer", registry.names())
        if method.hyper:
            raise bad(
                "method.hyper",
                f"method={method.name} takes its candidates' hyperparameters from the space; "
                "set space.grid.<optimizer>.<key>=[...] instead",
            )
        with owner("method"):
            DOIT(params, space=plain(cfg.space.grid), **doit_kwargs(cfg, steps_per_epoch=1, omega_t=None))
            transferability_weight(0.5, [0.0], float(method.beta))  # eq. 6 owns beta's range
        return
    ablation = choices.get("ablation") or "none"
    if ablation != "none":
        raise bad(
            "ablation",
            f"ablation={ablation} applies to DOIT strategies only, not method={method.name}; "
            "use ablation=none or method=doit|random|cyclical",
        )
    with owner("method.optimizer", registry.names()):
        registry.info(method.optimizer or "")
    with owner("lr" if cfg.lr is not None else "method.lr" if method.lr is not None else "method.hyper"):
        opt = registry.create(method.optimizer, params, **optimizer_kwargs(cfg))
    if method.kind == "scheduled":
        with owner("method.scheduler", registry.SCHEDULERS):
            registry.create_scheduler(
                method.scheduler, opt, int(cfg.epochs), **plain_or_empty(method.scheduler_kw)
            )


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


def check_run_dir(path: str) -> None:
    """``hydra.run.dir`` can be created and written (nothing is created here)."""
    if not str(path).strip():
        raise bad("hydra.run.dir", "is empty; give a directory, e.g. hydra.run.dir=outputs/runs/my-run")
    out = Path(path)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                where = f"{out} is" if parent == out else f"{out} is inside {parent}, which is"
                raise bad("hydra.run.dir", f"{where} a file, not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                where = f"{out} is" if parent == out else f"{out} is under {parent}, which is"
                raise bad("hydra.run.dir", f"{where} not writable; choose a writable hydra.run.dir")
            return


# ------------------------------------------------------------------------------- effective hyperparameters
def plain_or_empty(node) -> dict:
    return {} if node is None else plain(node)


def optimizer_kwargs(cfg) -> dict:
    """The keywords given to the registry for a single/scheduled/hybrid run: lr from ONE place (top-level
    ``lr``, else ``method.lr``, else the registry default) plus the non-null ``method.hyper`` values."""
    from doit import optimizers as registry

    method = cfg.method
    hyper = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in plain_or_empty(method.hyper).items()
        if v is not None
    }
    lr = cfg.lr if cfg.lr is not None else method.lr
    if lr is None:
        lr = registry.info(method.optimizer).defaults["lr"]
    return {**hyper, "lr": float(lr)}


def doit_kwargs(cfg, steps_per_epoch: int, omega_t: float | None) -> dict:
    """``doit.DOIT``'s keyword arguments (all but ``params``, ``space`` and ``state``) from ``cfg``."""
    method = cfg.method
    if omega_t is None:
        omega_t = 0.0 if method.omega_t is None else float(method.omega_t)
    period = method.halving_period
    if period is None:  # n of eq. 7 in cycles: one epoch's worth of cycles (at least 1)
        period = max(1, steps_per_epoch // max(1, int(method.tau)))
    return {
        "tau": method.tau,
        "n_ini": method.n_ini,
        "alpha": float(method.alpha),
        "spread": str(method.spread),
        "w_min": float(method.w_min),
        "omega_t": float(omega_t),
        "halving_period": int(period),
        "schedule": str(method.schedule),
        "strategy": str(method.strategy),
        "initial": str(method.initial),
        "compression": str(method.compression),
        "n_components": method.n_components,
        "inherit": bool(method.inherit),
        "nan_guard": bool(method.nan_guard),
        "explode_factor": float(method.explode_factor),
        "seed": int(cfg.seed),
        "score": str(method.score),
        "rollback_rise": None if method.rollback_rise is None else float(method.rollback_rise),
        "acquirer": str(method.acquirer),
        "context": bool(method.context),
        "gamma": float(method.gamma),
    }


class Refused(BaseException):
    """A config refused before Hydra creates anything; ``str(err)`` is the one line. A BaseException: Hydra
    turns a callback's ``Exception`` into a warning and carries on."""


class Preflight(Callback):
    """Hydra callback (``hydra.callbacks.preflight`` in ``conf/train.yaml``): check the composed config before
    Hydra creates any directory; a refusal leaves ``hydra.main`` for ``runners.train.main``."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, None)

    @staticmethod
    def _check(config: DictConfig, run_dir) -> None:
        try:
            _check_empty_overrides(list(config.hydra.overrides.task))
            check(_without_hydra(config), dict(config.hydra.runtime.choices), run_dir=run_dir)
        except (ConfigError, OmegaConfBaseException) as err:
            raise Refused(error_line(err)) from None


def _check_empty_overrides(overrides: list[str]) -> None:
    """``key={}`` / ``key=[]`` would merge into nothing (Hydra merges a mapping override): refuse it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(overrides):
        value = override.value()
        if isinstance(value, dict | list) and not value and not override.is_delete():
            raise bad(
                override.key_or_group,
                "is empty; give its values (an empty override would change nothing) or choose another option",
                group_options(override.key_or_group.split(".")[0]) or None,
            )


def _without_hydra(config: DictConfig) -> DictConfig:
    cfg = config.copy()
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
