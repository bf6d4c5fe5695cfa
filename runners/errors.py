"""Any exception about the config as the one line the user sees: ``<key>: <problem>[; valid: ...]``.

``as_config_error(key)`` wraps a call to the owner of a value (``doit``, numpy, torch, the loaders and
builders): its ``ValueError`` becomes a ``ConfigError`` naming the key. ``error_line`` writes Hydra's and
OmegaConf's exceptions (unknown keys with the closest known one, missing values, unknown enum values,
unparsable overrides, unknown options) as that line; ``group_value_line`` names the group of a ``<group>=null``
or ``<group>=[0,1]`` override, which Hydra reports without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import enum
import re
import typing
from collections.abc import Iterator

from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from runners.config import group_options
from runners.schema import (
    CONF_DIR,
    SCHEMAS,
    ConfigError,
    ConvergenceConfig,
    LoraConfig,
    TrainConfig,
    config_error,
)


@contextlib.contextmanager
def as_config_error(key: str, valid=None) -> Iterator[None]:
    """Turn the owner's ``ValueError`` into ``ConfigError('<key>: <message>')``. With ``key`` "method", a
    message that starts with a DOIT argument (``tau=0 must be >= 1``) names it: ``method.tau``."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError, RuntimeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        named = re.match(r"(\w+)=", message)
        if key == "method" and named and named.group(1) in _doit_method_keys():
            key = f"method.{named.group(1)}"
        raise config_error(key, message, valid) from None


def _doit_method_keys() -> set[str]:
    """The method keys a ``doit`` error message may start with: DOIT's arguments and eq. 6's ``beta``."""
    from runners.methods import doit_parameters

    return {*doit_parameters(), "beta"}


def unknown_key(key: str, known) -> str:
    """``unknown key; did you mean <closest>?`` for ``key`` among ``known``."""
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
        return str(config_error(group or option, f"unknown option {option!r}", options or None))
    if isinstance(err, OverrideParseException):
        key = err.override.split("=")[0] if err.override else "override"
        return str(config_error(key, f"cannot parse: {err.message}"))
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        key = str(cause.full_key)
        if isinstance(cause, ConfigKeyError | ConfigAttributeError):
            parent, _, name = key.rpartition(".")
            return str(config_error(key, unknown_key(name, schema_keys(parent))))
        if isinstance(cause, MissingMandatoryValue):
            return str(config_error(key, "missing", group_options(key) or None))
        if isinstance(cause, ValidationError) and _enum_values(key):
            return str(config_error(key, f"unknown value {getattr(cause, 'value', '')!r}", _enum_values(key)))
        return str(config_error(key, first_line(getattr(cause, "msg", None) or str(cause))))
    return first_line(str(err)) + (f" ({first_line(str(err.__cause__))})" if err.__cause__ else "")


def from_hydra(err: BaseException) -> bool:
    """Whether ``err`` was raised inside Hydra or OmegaConf (composition), not by the run."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and any(
        f"/{lib}/" in tb.tb_frame.f_code.co_filename for lib in ("hydra", "omegaconf")
    )


def group_value_line(argv: list[str], err: BaseException) -> str:
    """The line for a config group given ``null`` or a list that holds no option names (``scale=[0,16]``):
    Hydra raises a bare ValueError / TypeError for these, without the group's name."""
    for arg in argv:
        key, _, value = arg.partition("=")
        group = key.lstrip("+~")
        if not (CONF_DIR / group).is_dir():
            continue
        if value == "null":
            return str(config_error(group, "cannot be null; choose an option", group_options(group)))
        if value.startswith("["):
            return str(config_error(group, f"{value!r} is not an option name", group_options(group)))
    return first_line(str(err))


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped."""
    return next((line.strip() for line in str(text).splitlines() if line.strip()), str(text).strip())


def _schemas_under(parent: str) -> list[type]:
    """The dataclasses the schema puts at ``parent`` (a group: all of its schemas)."""
    nodes = {"": [TrainConfig], "convergence": [ConvergenceConfig], "model.lora": [LoraConfig]}
    return nodes.get(parent) or list(SCHEMAS.get(parent, {}).values())


def schema_keys(parent: str) -> list[str]:
    """The keys the schema allows at ``parent``."""
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
