"""The experiment configs as analysis reads them: ``conf/`` YAML files through OmegaConf, never composed
through ``runners`` (analysis never imports it).

``paper_setting``: what an experiment runs at the paper's settings (epochs, batch size, training set,
tau, n_ini) and whether its model is pre-trained; ``points``: the runs of its sweep at one scale.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

CONF = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("dataset", "model", "method", "space", "ablation")  # config groups a run is matched on


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
