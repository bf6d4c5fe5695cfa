"""The experiment configs as analysis reads them: ``conf/`` YAML files through OmegaConf, never composed
through ``runners`` (analysis never imports it).

``protocol``: ``conf/protocol.yaml``, the paper's protocol (lr grid, optimizer lists, seeds, each table's
columns), and ``register_resolvers``: the resolvers through which the configs read it, registered here for
analysis and by ``runners.schema`` before any composition, so both read ``conf/`` alike.
``paper_setting``: what an experiment runs at the paper's settings (epochs, batch size, training set,
tau, n_ini) and whether its model is pre-trained; ``sweep`` and ``points``: the runs of its sweep at one scale.
"""

from __future__ import annotations

import copy
import functools
import itertools
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

CONF = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("dataset", "model", "method", "space", "ablation")  # config groups a run is matched on


@functools.cache
def protocol() -> dict:
    """``conf/protocol.yaml`` as plain Python data."""
    return OmegaConf.to_container(OmegaConf.load(CONF / "protocol.yaml"), resolve=True)


def protocol_value(key: str):
    """``${protocol:KEY}``: a copy of the value at the dotted ``key`` of ``conf/protocol.yaml`` (KeyError if
    none)."""
    value = protocol()
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"conf/protocol.yaml has no {key!r}")
        value = value[part]
    return copy.deepcopy(value)


def sweep_values(*parts) -> str:
    """``${sweep:LIST_OR_VALUE,...}``: the values of every list (and every single value) in Hydra's sweep
    syntax, ``a,b,c``."""
    values = []
    for part in parts:
        values += list(part) if isinstance(part, list | tuple | ListConfig) else [part]
    return ",".join(str(v) for v in values)


def table_columns(table: str) -> list[tuple[str, dict, tuple[str, str]]]:
    """The columns of ``table`` in ``conf/protocol.yaml``: ``(key, runs, paper_numbers)``, ``runs`` the
    ``(dataset, model, mode)`` at each scale that has the column, ``paper_numbers`` the ``(dataset, model)``
    of the paper's cell in analysis/paper_numbers.csv."""
    out = []
    for key, spec in protocol_value(f"columns.{table}").items():
        dataset, model, *named_mode = key.split("/")
        mode = named_mode[0] if named_mode else "full"
        runs = {"paper": (dataset, model, mode)}
        for scale, stand_in in spec.items():
            if scale != "paper_numbers":
                runs[scale] = (*stand_in.split("/"), mode)
        paper_numbers = (
            tuple(spec["paper_numbers"].split("/")) if "paper_numbers" in spec else (dataset, model)
        )
        out.append((key, runs, paper_numbers))
    return out


def column_values(table: str, scale: str, key: str) -> str:
    """``${columns:TABLE,SCALE,dataset|model}``: the datasets (or models) of the table's columns at ``scale``
    in Hydra's sweep syntax (first appearance first); a sweep crosses them, so a table's columns at a scale
    are every dataset with every model. ValueError when the table has no column at ``scale``."""
    found = [runs[scale] for _, runs, _ in table_columns(table) if scale in runs]
    if not found:
        raise ValueError(f"table {table} has no column at scale {scale} (conf/protocol.yaml columns)")
    position = {"dataset": 0, "model": 1}[key]
    return sweep_values(list(dict.fromkeys(run[position] for run in found)))


def register_resolvers() -> None:
    """Register ``protocol``, ``sweep``, ``columns`` and ``coalesce`` (the first non-null argument) with
    OmegaConf (idempotent)."""
    resolvers = {
        "protocol": protocol_value,
        "sweep": sweep_values,
        "columns": column_values,
        "coalesce": lambda *values: next((v for v in values if v is not None), None),
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


register_resolvers()


@functools.cache
def load(group: str, name: str) -> DictConfig | None:
    """``conf/<group>/<name>.yaml`` as written (interpolations unresolved), or None if there is none."""
    path = CONF / group / f"{name}.yaml"
    return OmegaConf.load(path) if path.is_file() else None


def _choices(cfg: DictConfig) -> dict[str, str]:
    """The group options a config's ``defaults`` list picks (``- override /method: doit`` -> method: doit)."""
    out = {}
    for entry in cfg.get("defaults", []):
        if isinstance(entry, DictConfig):
            for key, value in entry.items():
                group = str(key).removeprefix("override ").lstrip("/")
                if group in GROUPS and value is not None:
                    out[group] = str(value)
    return out


def choices(experiment: str) -> dict[str, str]:
    """The group options a run of ``experiment`` gets unless its sweep sets them (conf/train.yaml's, then
    the experiment's own defaults), and its ``mode``."""
    cfg = load("experiment", experiment)
    out = _choices(load("", "train")) | _choices(cfg)
    return out | {"mode": str(cfg.get("mode", "full"))}


def paper_setting(experiment: str, model: str) -> dict:
    """The settings ``experiment`` runs with at scale paper (its YAML file) on ``model`` (the model's
    ``pretrained``); tau and n_ini are None where the experiment sets none (single optimizers)."""
    cfg = load("experiment", experiment)
    model_cfg = load("model", model)
    return {
        "epochs": cfg.get("epochs"),
        "batch_size": cfg.get("batch_size"),
        "pretrained": None if model_cfg is None else model_cfg.get("pretrained"),
        "train_size": OmegaConf.select(cfg, "dataset.train_size"),
        "tau": OmegaConf.select(cfg, "method.tau"),
        "n_ini": OmegaConf.select(cfg, "method.n_ini"),
    }


def sweep(experiment: str, scale: str) -> dict[str, list[str]]:
    """The experiment's ``hydra.sweeper.params`` at ``scale`` (``scales.<scale>`` of the experiment over
    those of conf/train.yaml), each as its list of values; empty if the experiment has no such scale."""
    cfg = load("experiment", experiment)
    root = OmegaConf.merge(
        {"scales": load("", "train").scales},
        OmegaConf.masked_copy(cfg, ["scales", "hydra"]),
        {"scale": scale},
    )
    if scale not in root.scales:
        return {}
    try:
        params = OmegaConf.to_container(root.hydra.sweeper.params, resolve=True)
    except OmegaConfBaseException:
        return {}
    return {key: [v.strip() for v in str(value).split(",")] for key, value in params.items()}


def points(experiment: str, scale: str) -> list[dict[str, str]]:
    """One dict per run of the sweep: the group options (``choices``), ``experiment`` and every swept key."""
    params = sweep(experiment, scale)
    if not params:
        return []
    base = choices(experiment) | {"experiment": experiment}
    return [base | dict(zip(params, values, strict=True)) for values in itertools.product(*params.values())]
