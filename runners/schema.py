"""Config validation before training: every user error ends as ONE line naming the key and the fix.

``ConfigError`` is the exception for such errors anywhere in the runner (data loaders, model
builders and modes raise it too); ``runners.train`` prints ``error: <message>`` and exits with 2.
``check_overrides`` runs before Hydra composes (unknown group options, unparsable overrides);
``validate`` checks values of the composed config (tau <= 0, lr <= 0, missing data paths, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from omegaconf import ListConfig

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

METHOD_KINDS = ("doit", "single", "scheduled", "hybrid")
STRATEGIES = ("doit", "random", "cyclical")
INITIALS = ("weighted", "uniform")
SCHEDULES = ("eq7", "halve", "no_transfer", "no_halving")
COMPRESSIONS = ("pca", "random", "umap")
MODES = ("full", "head", "lora")
PROGRESS = ("auto", "bar", "log", "off")
SCALES = ("embedded", "paper")
# Top-level keys whose change does not change a run's result (a resumed run may differ in them).
VOLATILE_KEYS = ("progress", "plot", "checkpoint_every_steps", "checkpoint_every_s")
# Flags of Hydra's command line that take a value (their value is not an override).
_FLAGS_WITH_VALUE = {"-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir", "-c", "--cfg",
                     "-p", "--package", "--experimental-rerun"}
_INFO_VALUES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


class ConfigError(ValueError):
    """A config problem the user can fix; ``str(err)`` is one line naming the key, problem and fix."""


def bad(key: str, message: str, valid: Iterable | None = None) -> ConfigError:
    """``ConfigError('<key>: <message>; valid: a, b, c')``."""
    text = f"{key}: {message}"
    if valid is not None:
        text += "; valid: " + ", ".join(str(v) for v in valid)
    return ConfigError(text)


def group_options(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """Option names of a config group (the YAML files under ``conf/<group>/``)."""
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def override_args(argv: list[str]) -> list[str]:
    """The ``key=value`` overrides of a Hydra command line (flags and their values dropped)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in _FLAGS_WITH_VALUE or (arg == "--info" and i + 1 < len(argv)
                                                 and argv[i + 1] in _INFO_VALUES)
            continue
        out.append(arg)
    return out


def check_overrides(overrides: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Reject unparsable overrides and unknown options of our config groups (before Hydra composes)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for text in overrides:
        try:
            override = parser.parse_override(text)
        except OverrideParseException as err:
            raise bad(text.split("=")[0], f"cannot parse override {text!r} ({first_line(str(err))})") from None
        group = override.key_or_group.lstrip("+~")
        if group.startswith("hydra") or not (conf_dir / group).is_dir() or override.is_delete():
            continue
        if override.is_sweep_override():
            values = [str(v) for v in override.sweep_string_iterator()]
        else:
            values = [override.get_value_element_as_str()]
        options = group_options(group, conf_dir)
        for value in values:
            if value != "null" and value not in options:
                raise bad(group, f"unknown option {value!r}", options)


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text.strip())


def _sibling_keys(key: str, overrides: list[str]) -> list[str] | None:
    """The keys beside ``key`` in the config composed without the offending override (None if unknown)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    rest = [o for o in overrides if o.split("=")[0].lstrip("+~") != key and "," not in o]
    parent = key.rpartition(".")[0]
    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            cfg = compose("train", overrides=rest)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        return sorted(str(k) for k in node.keys())
    except Exception:  # best effort: the one-line error stands without the list
        return None


def hydra_error_line(err: Exception, overrides: list[str] = ()) -> str:
    """One line for one of Hydra's (multi-line) composition errors."""
    text = str(err)
    head = first_line(text)
    options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
    group = re.search(r"Could not find '([^'/]+(?:/[^'/]+)*)/([^']+)'", head)
    if group:
        return str(bad(group.group(1), f"unknown option {group.group(2)!r} ({head})", options))
    key = re.search(r"Could not (?:override|append to config\.) '([^']+)'", head)
    cause = err.__cause__
    if key:
        name = key.group(1)
        return str(bad(name, f"unknown key (write +{name}=... to add one)", _sibling_keys(name, overrides)))
    return head + (f" ({first_line(str(cause))})" if cause is not None else "")


def _positive(cfg: Mapping, key: str, value, minimum: float, strict: bool, integer: bool = False) -> None:
    if value is None:
        return
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad(key, f"must be an integer, got {value!r}")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise bad(key, f"must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise bad(key, f"must be {'>' if strict else '>='} {minimum}, got {value!r}")


def _choice(key: str, value, valid: Iterable[str]) -> None:
    valid = tuple(valid)
    if value not in valid:
        raise bad(key, f"unknown value {value!r}", valid)


def validate(cfg: Mapping, choices: Mapping | None = None) -> None:
    """Check the composed config's values; raise ``ConfigError`` on the first bad one."""
    choices = choices or {}
    _positive(cfg, "epochs", cfg["epochs"], 1, False, integer=True)
    _positive(cfg, "batch_size", cfg["batch_size"], 1, False, integer=True)
    _positive(cfg, "seed", cfg["seed"], 0, False, integer=True)
    _positive(cfg, "lr", cfg["lr"], 0, True)
    _positive(cfg, "threads", cfg.get("threads"), 1, False, integer=True)
    _positive(cfg, "checkpoint_every_steps", cfg["checkpoint_every_steps"], 0, False, integer=True)
    _positive(cfg, "checkpoint_every_s", cfg["checkpoint_every_s"], 0, False)
    _positive(cfg, "convergence.tol", cfg["convergence"]["tol"], 0, False)
    _positive(cfg, "convergence.patience", cfg["convergence"]["patience"], 1, False, integer=True)
    if cfg["target_acc"] is not None:
        _positive(cfg, "target_acc", cfg["target_acc"], 0, True)
    _choice("mode", cfg["mode"], MODES)
    _choice("progress", cfg["progress"], PROGRESS)
    _choice("scale", cfg["scale"], SCALES)
    device = str(cfg["device"])
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", device):
        raise bad("device", f"unknown device {device!r}", ("auto", "cpu", "cuda", "cuda:N"))
    _validate_method(cfg, choices)
    _validate_data(cfg)


def _validate_method(cfg: Mapping, choices: Mapping) -> None:
    method = cfg["method"]
    _choice("method.kind", method.get("kind"), METHOD_KINDS)
    name = method.get("name", choices.get("method"))
    if method["kind"] != "doit":
        _positive(cfg, "method.lr", method.get("lr"), 0, True)
        if not method.get("optimizer"):
            raise bad("method.optimizer", f"method={name} needs an optimizer name")
        ablation = choices.get("ablation", "none")
        if ablation not in (None, "none"):
            raise bad("ablation", f"ablation={ablation} applies to DOIT strategies only, not method={name}; "
                      "use ablation=none or method=doit|random|cyclical")
        return
    if cfg["lr"] is not None:
        raise bad("lr", f"method={name} takes its learning rates from the space (space.grid); "
                  "leave lr=null or pick another space")
    _positive(cfg, "method.tau", method["tau"], 0, True, integer=True)
    _positive(cfg, "method.n_ini", method["n_ini"], 0, False, integer=True)
    _positive(cfg, "method.n_components", method["n_components"], 0, True, integer=True)
    _positive(cfg, "method.halving_period", method["halving_period"], 0, True, integer=True)
    _positive(cfg, "method.w_min", method["w_min"], 0, True)
    _positive(cfg, "method.explode_factor", method["explode_factor"], 1, False)
    for key in ("alpha", "beta", "omega_t"):
        value = method[key]
        _positive(cfg, f"method.{key}", value, 0, False)
        if value is not None and value > 1:
            raise bad(f"method.{key}", f"must lie in [0, 1], got {value!r}")
    _choice("method.strategy", method["strategy"], STRATEGIES)
    _choice("method.initial", method["initial"], INITIALS)
    _choice("method.schedule", method["schedule"], SCHEDULES)
    _choice("method.compression", method["compression"], COMPRESSIONS)
    grid = cfg["space"].get("grid") if cfg.get("space") else None
    if not grid:
        raise bad("space", "DOIT needs a candidate space with a non-empty grid", group_options("space"))
    for opt, hyper in grid.items():
        for key, values in (hyper or {}).items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence | ListConfig) or not values:
                raise bad(f"space.grid.{opt}.{key}", f"must be a non-empty list of values, got {values!r}")


def _validate_data(cfg: Mapping) -> None:
    dataset = cfg["dataset"]
    for key in ("root", "path"):
        value = dataset.get(key)
        if key == "root" and dataset.get("download"):
            continue  # the loader creates it and downloads into it
        if value is not None and not Path(str(value)).expanduser().exists():
            raise bad(f"dataset.{key}", f"path {str(value)!r} does not exist; point dataset.{key}= at the "
                      f"directory holding the {dataset.get('name', 'dataset')} files")


def import_named(key: str, module: str | None, example: str):
    """The module a config names under ``key`` (e.g. ``dataset.loader``), or a one-line ``ConfigError``."""
    import importlib

    if not module:
        raise bad(key, f"missing; name the module that builds it (e.g. {key.split('.')[-1]}: {example})")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise bad(key, f"cannot import {module!r} ({err})") from None
