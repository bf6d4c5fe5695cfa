"""The records a run writes (``runners``) and analysis reads: ``result.json`` (``Result``) and each line of
``metrics.jsonl`` (``EpochMetrics``); docs/architecture.md.

This module is the only place that lists their keys. ``runners`` builds a ``Result`` and writes it with
``dumps``, and an ``EpochMetrics`` per epoch written with ``epochs_text``; ``analysis`` (and the runner, to
find a finished run) reads every file through ``loads`` and ``read_epochs``, which validate types and
ranges and raise ``RecordError`` (one line: the field and the problem) for anything else.

Strict JSON: a non-finite float is written as ``null`` and its dotted field name is listed in
``nonfinite``, so any JSON reader can open the file; ``strict_json`` is the one reader of such files
(it refuses bare ``NaN``/``Infinity`` and strings no UTF-8 can hold).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

SCHEMA = 2
Status = Literal["complete", "diverged"]


class RecordError(ValueError):
    """A ``result.json`` that does not follow the record; ``str(err)`` names the field and the problem."""


@dataclass
class RunInfo:
    """What was run: the identity of the run inside a table."""

    experiment: str | None
    scale: str
    dataset: str
    model: str
    mode: str
    method: str  # the method option (doit, random, adam, steplr, swats, ...)
    seed: int
    epochs: int
    batch_size: int
    ablation: str = "none"
    variant: str | None = None
    space: str | None = None  # DOIT strategies: the space option ...
    space_grid: dict | None = None  # ... and its grid (optimizer -> hyperparameter -> values)
    tau: int | None = None
    n_ini: int | None = None
    n_components: int | None = None
    compression: str | None = None
    initial: str | None = None
    schedule: str | None = None
    pretrained: bool | None = None  # whether pre-trained weights were loaded (null: not recorded)
    train_size: int | None = None  # the training subset drawn before the validation split (null: all)


@dataclass
class Environment:
    """Where a run ran (provenance): the device, torch's version and the code's git commit."""

    device: str  # "cpu" or "cuda: <GPU name>"
    torch: str
    commit: str | None = None  # git commit of the checkout ($DOIT_COMMIT where the tree has no .git)


@dataclass
class Hyper:
    """The effective hyperparameters of a single, scheduled or hybrid run (registry defaults filled in)."""

    optimizer: str
    lr: float
    scheduler: str | None = None  # steplr | cosine | None
    params: dict = field(default_factory=dict)  # every other optimizer keyword (momentum, weight_decay, ...)


@dataclass
class Metrics:
    """Accuracies are percentages in [0, 100]; null when the run diverged before an evaluation."""

    final_test_acc: float | None
    best_test_acc: float | None
    final_train_acc: float | None
    final_train_loss: float | None
    test_f1: float | None = None
    test_acc3: float | None = None
    test_acc5: float | None = None
    val_acc: float | None = None
    best_val_acc: float | None = None
    chance_acc: float | None = None  # 100 / number of classes (null: not recorded)
    at_chance: bool | None = None  # final_test_acc within CHANCE_MARGIN_PP of chance_acc (see at_chance())


CHANCE_MARGIN_PP = 1.0


def at_chance(final_test_acc: float | None, chance_acc: float | None) -> bool | None:
    """Whether a final test accuracy is chance level: within ``CHANCE_MARGIN_PP`` points (None: unknown)."""
    if final_test_acc is None or chance_acc is None:
        return None
    return abs(final_test_acc - chance_acc) <= CHANCE_MARGIN_PP


@dataclass
class Timing:
    train_time_s: float
    wall_time_s: float
    epochs_run: int
    steps: int
    transfer_time_s: float = 0.0
    controller_time_s: float = 0.0
    converged_epoch: int | None = None
    converged_time_s: float | None = None
    target_acc: float | None = None
    time_to_target_s: float | None = None


@dataclass
class DoitSummary:
    """DOIT strategies (doit, random, cyclical): switching and the transferability weight (eq. 6)."""

    n_switches: int
    n_cycles: int
    share: dict  # configuration label -> fraction of completed cycles
    omega_t: float
    logme: float | None = None
    leep: float | None = None
    omega_p: float | None = None
    recovered_cycles: int = 0  # cycles rolled back by the divergence guard


@dataclass
class Result:
    status: Status
    run: RunInfo
    metrics: Metrics
    timing: Timing
    hyper: Hyper | None = None  # None for DOIT strategies (their candidates are run.space_grid)
    doit: DoitSummary | None = None
    diverged_step: int | None = None  # status "diverged": the step of the first non-finite loss
    # the composed config, for people; read only to fill run.pretrained / train_size of a record without them
    config: dict = field(default_factory=dict)
    env: Environment | None = None
    nonfinite: list = field(default_factory=list)
    schema: int = SCHEMA


@dataclass
class EpochMetrics:
    """One line of ``metrics.jsonl``: the epoch's training and evaluation (accuracies in %). The optional
    fields are those only some runs measure (top-3/5 accuracy, F1, a validation split, DOIT's candidate);
    ``nonfinite`` lists the fields written as null because they were NaN/inf."""

    epoch: int  # 1-based
    step: int  # optimizer steps in all at its end
    time_s: float  # training time (steps and evaluations) in all at its end
    train_loss: float | None  # mean of the epoch's finite per-step losses (NaN when none was finite)
    nonfinite_steps: int  # steps of the epoch whose loss was not finite
    train_acc: float
    test_loss: float | None
    test_acc: float
    test_acc3: float | None = None
    test_acc5: float | None = None
    test_f1: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    val_acc3: float | None = None
    val_acc5: float | None = None
    val_f1: float | None = None
    optimizer: str | None = None  # DOIT strategies: the candidate active at the epoch's end
    nonfinite: list = field(default_factory=list)


ACCURACY_FIELDS = (
    "final_test_acc",
    "best_test_acc",
    "final_train_acc",
    "test_f1",
    "test_acc3",
    "test_acc5",
    "val_acc",
    "best_val_acc",
)


# ---------------------------------------------------------------------------------------------- writing
def _strict(value, where: str, nonfinite: list[str]):
    if isinstance(value, float) and not math.isfinite(value):
        nonfinite.append(where)
        return None
    if isinstance(value, dict):
        return {k: _strict(v, f"{where}.{k}", nonfinite) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v, f"{where}[{i}]", nonfinite) for i, v in enumerate(value)]
    return value


def strict(value):
    """``value`` (nested dicts and lists) with every non-finite float replaced by None, as ``dumps`` writes it."""
    return _strict(value, "", [])


def to_dict(result: Result) -> dict:
    """The record as strict-JSON-ready data: non-finite floats become null and are listed in ``nonfinite``."""
    data = dataclasses.asdict(result)
    found: list[str] = []
    out = {k: (v if k == "nonfinite" else _strict(v, k, found)) for k, v in data.items()}
    out["nonfinite"] = sorted(set(result.nonfinite) | set(found))
    return out


def dumps(result: Result) -> str:
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"


def epoch_dict(epoch: EpochMetrics) -> dict:
    """One ``metrics.jsonl`` line's data: every field the run measured (an optional field that is None is
    left out), non-finite floats as null and listed in ``nonfinite``."""
    data = {
        f.name: getattr(epoch, f.name)
        for f in dataclasses.fields(EpochMetrics)
        if f.name != "nonfinite" and (f.default is dataclasses.MISSING or getattr(epoch, f.name) is not None)
    }
    found: list[str] = []
    out = {k: _strict(v, k, found) for k, v in data.items()}
    out["nonfinite"] = list(dict.fromkeys([*epoch.nonfinite, *found]))
    return out


def epochs_text(epochs) -> str:
    """``metrics.jsonl``: one strict-JSON ``EpochMetrics`` a line."""
    return "".join(json.dumps(epoch_dict(e), allow_nan=False) + "\n" for e in epochs)


# ---------------------------------------------------------------------------------------------- reading
def _check_value(value, hint, where: str, nonfinite: frozenset = frozenset()):
    """``value`` converted to ``hint`` (dataclasses recursively), or ``RecordError``.

    A null listed in ``nonfinite`` stands for a non-finite float (see ``to_dict``) and stays None.
    """
    if value is None and where in nonfinite:
        return None
    origin = get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        inner = [h for h in options if h is not type(None)]
        return _check_value(value, inner[0], where, nonfinite)
    if origin is Literal:
        if value not in get_args(hint):
            raise RecordError(f"{where}: {value!r} is not one of {', '.join(map(str, get_args(hint)))}")
        return value
    if dataclasses.is_dataclass(hint):
        return _from(hint, value, where, nonfinite)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecordError(f"{where}: expected a number, got {type(value).__name__} {value!r:.40}")
        if not math.isfinite(value):
            raise RecordError(f"{where}: {value} is not finite")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"{where}: expected an integer, got {type(value).__name__} {value!r:.40}")
        return value
    expected = {str: str, bool: bool, dict: dict, list: list, Any: object}[hint]
    if not isinstance(value, expected):
        raise RecordError(f"{where}: expected {expected.__name__}, got {type(value).__name__} {value!r:.40}")
    return value


def _from(cls, data, where: str, nonfinite: frozenset = frozenset()):
    if not isinstance(data, dict):
        raise RecordError(f"{where or 'top level'}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecordError(f"{where or 'top level'}: unknown keys {', '.join(unknown)}")
    kwargs = {}
    for name, f in fields.items():
        path = f"{where}.{name}" if where else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{path}: missing")
            continue
        kwargs[name] = _check_value(data[name], hints[name], path, nonfinite)
    return cls(**kwargs)


def from_dict(data) -> Result:
    """Validate ``data`` (a parsed ``result.json``) against the record; ``RecordError`` says why not."""
    if not isinstance(data, dict):
        raise RecordError(f"top level: expected an object, got {type(data).__name__}")
    if data.get("schema") != SCHEMA:
        raise RecordError(f"schema {data.get('schema')!r} (this suite reads schema {SCHEMA}; rerun the run)")
    listed = data.get("nonfinite")
    nonfinite = (
        frozenset(n for n in listed if isinstance(n, str)) if isinstance(listed, list) else frozenset()
    )
    result = _from(Result, data, "", nonfinite)
    _settings_from_config(result, data.get("run", {}))
    for name in ACCURACY_FIELDS:
        value = getattr(result.metrics, name)
        if value is not None and not 0.0 <= value <= 100.0:
            raise RecordError(f"metrics.{name}: {value} is outside [0, 100]")
    _check_chance(result.metrics)
    if result.status == "complete" and result.metrics.final_test_acc is None:
        raise RecordError("metrics.final_test_acc: missing in a complete run")
    if (result.status == "diverged") != (result.diverged_step is not None):
        raise RecordError(f"diverged_step: {result.diverged_step!r} does not fit status {result.status!r}")
    for name, value in result.doit.share.items() if result.doit else ():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise RecordError(f"doit.share.{name}: {value!r} is not a fraction")
    if not all(isinstance(name, str) for name in result.nonfinite):
        raise RecordError("nonfinite: expected a list of field names")
    _check_grid(result.run.space_grid)
    return result


def _settings_from_config(result: Result, run: dict) -> None:
    """A record without ``run.pretrained`` and ``run.train_size`` takes them from its composed
    config (``model.pretrained``, ``dataset.train_size``): what ran, as no weights fallback existed then."""
    model, dataset = result.config.get("model", {}), result.config.get("dataset", {})
    if "pretrained" not in run and isinstance(model.get("pretrained"), bool):
        result.run.pretrained = model["pretrained"]
    if "train_size" not in run and isinstance(dataset.get("train_size"), int):
        result.run.train_size = dataset["train_size"]


def _check_chance(m: Metrics) -> None:
    """``chance_acc`` is a percentage above 0; ``at_chance`` agrees with it and ``final_test_acc``."""
    if m.chance_acc is not None and not 0.0 < m.chance_acc <= 100.0:
        raise RecordError(f"metrics.chance_acc: {m.chance_acc} is outside (0, 100]")
    expected = at_chance(m.final_test_acc, m.chance_acc)
    if m.at_chance is not None and m.at_chance != expected:
        raise RecordError(
            f"metrics.at_chance: {m.at_chance} does not fit final_test_acc {m.final_test_acc} "
            f"and chance_acc {m.chance_acc}"
        )


def _check_grid(grid: dict | None) -> None:
    """``run.space_grid`` must map optimizer -> hyperparameter -> non-empty list of numbers."""
    for opt, space in (grid or {}).items():
        if not isinstance(space, dict):
            raise RecordError(f"run.space_grid.{opt}: expected an object, got {type(space).__name__}")
        for key, values in space.items():
            numbers = (
                isinstance(values, list)
                and values
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            )
            if not numbers:
                raise RecordError(f"run.space_grid.{opt}.{key}: expected a non-empty list of numbers")


@contextlib.contextmanager
def _as_record_error() -> Iterator[None]:
    """Whatever a malformed file makes the parser or the checks raise, as ``RecordError``."""
    try:
        yield
    except RecordError:
        raise
    except json.JSONDecodeError as err:
        raise RecordError(f"not JSON: {err}") from None
    except UnicodeEncodeError:
        raise RecordError("not UTF-8: a string holds a lone surrogate") from None
    except (ValueError, OverflowError, RecursionError) as err:  # huge numbers, deep nesting
        raise RecordError(f"unreadable: {type(err).__name__}: {str(err)[:200]}") from None


def strict_json(text: str):
    """Parse strict JSON; ``RecordError`` for anything else (invalid JSON, a bare ``NaN``/``Infinity``, a
    string with a lone surrogate, numbers or nesting no reader can hold)."""
    with _as_record_error():
        data = json.loads(text, parse_constant=_reject_constant)
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # a lone surrogate ("\\ud800") is no UTF-8
        return data


def _reject_constant(token: str):
    raise RecordError(f"not strict JSON: bare {token}")


def loads(text: str) -> Result:
    """Parse and validate a ``result.json`` text (``RecordError`` for invalid JSON too)."""
    data = strict_json(text)
    with _as_record_error():
        return from_dict(data)


def epoch_from_dict(data, where: str = "") -> EpochMetrics:
    """Validate one parsed ``metrics.jsonl`` line against ``EpochMetrics``; ``RecordError`` says why not."""
    if not isinstance(data, dict):
        raise RecordError(f"{where or 'line'}: expected an object, got {type(data).__name__}")
    listed = data.get("nonfinite")
    nonfinite = (
        frozenset(n for n in listed if isinstance(n, str)) if isinstance(listed, list) else frozenset()
    )
    epoch = _from(EpochMetrics, data, where, nonfinite)
    for name in (
        "train_acc",
        "test_acc",
        "test_acc3",
        "test_acc5",
        "test_f1",
        "val_acc",
        "val_acc3",
        "val_acc5",
    ):
        value = getattr(epoch, name)
        if value is not None and not 0.0 <= value <= 100.0:
            raise RecordError(f"{where}{'.' if where else ''}{name}: {value} is outside [0, 100]")
    return epoch


def epoch_rows(text: str) -> tuple[list[dict], int]:
    """``metrics.jsonl`` read leniently, for drawing: each line that is a strict-JSON object, cut to the
    fields of ``EpochMetrics`` (their values unchecked: a figure coerces what it draws), and the number of
    other non-blank lines."""
    names = {f.name for f in dataclasses.fields(EpochMetrics)}
    rows, unreadable = [], 0
    for line in filter(str.strip, text.splitlines()):
        try:
            data = strict_json(line)
        except RecordError:
            data = None
        if isinstance(data, dict):
            rows.append({k: v for k, v in data.items() if k in names})
        else:
            unreadable += 1
    return rows, unreadable


def read_epochs(text: str) -> tuple[list[EpochMetrics], list[tuple[int, str]]]:
    """The valid lines of a ``metrics.jsonl`` text, and ``(line number, why)`` for each other non-blank line."""
    epochs, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = strict_json(line)
            with _as_record_error():
                epochs.append(epoch_from_dict(data, f"line {number}"))
        except RecordError as err:
            problems.append((number, str(err)))
    return epochs, problems
