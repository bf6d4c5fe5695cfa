"""Every experiment config composes at both scales (``scale=paper`` by itself, ``scale=embedded``) and its
sweep is sane: embedded sweeps keep the paper's methods, ablations and seeds on offline data only."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from runners import config
from runners.schema import CONF_DIR

EXPERIMENTS = config.group_options("experiment")
OFFLINE_DATASETS = {"digits"}
OFFLINE_MODELS = {"cnn", "mlp"}
GROUPS = ("dataset", "model", "method", "space", "ablation")
SCALES = ("paper", "embedded")


def _compose(name: str, scale: str, overrides=()):
    extra = [] if scale == "paper" else [f"scale={scale}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            "train", overrides=[f"experiment={name}", *extra, *overrides], return_hydra_config=True
        )


def _sweep(cfg) -> dict[str, list[str]]:
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True) or {}
    return {k: [v.strip() for v in str(val).split(",")] for k, val in params.items()}


def test_no_experiment_keeps_an_embedded_twin():
    assert not [e for e in config.group_options("experiment") if e.endswith("_embedded")]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_composes_and_sweeps_known_options(name, scale):
    cfg = _compose(name, scale)
    assert cfg.experiment_name == name and cfg.scale == scale
    suffix = "_embedded" if scale == "embedded" else ""
    assert cfg.hydra.sweep.dir == f"outputs/sweeps/{name}{suffix}"
    assert cfg.epochs == (6 if scale == "embedded" else 100)
    sweep = _sweep(cfg)
    assert sweep["seed"] == ["0", "1", "2"]
    for group in GROUPS:
        for option in sweep.get(group, []):
            assert option in config.group_options(group), f"{name}: {group}={option} does not exist"
    if scale == "paper":
        return  # the paper's data is not on this machine
    # the first point of the sweep is a valid runner config (e.g. YAML's bare `off` is false)
    point = _compose(name, scale, [f"{k}={v[0]}" for k, v in sweep.items()])
    choices = dict(point.hydra.runtime.choices)
    with open_dict(point):
        del point["hydra"]
    config.check(point, choices)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_embedded_uses_offline_data_and_keeps_methods_ablations_and_seeds(name):
    paper, embedded = _sweep(_compose(name, "paper")), _sweep(_compose(name, "embedded"))
    cfg = _compose(name, "embedded")
    assert set(embedded.get("dataset", [cfg.dataset.name])) <= OFFLINE_DATASETS
    assert set(embedded.get("model", [cfg.model.name])) <= OFFLINE_MODELS
    assert cfg.dataset.name in OFFLINE_DATASETS and cfg.model.name in OFFLINE_MODELS
    assert cfg.method.tau == 10 and not cfg.plot and cfg.progress == "off"
    for key in set(paper) - {"dataset", "model", "method.n_ini", "method.tau", "method.n_components"}:
        assert embedded[key] == paper[key], f"{name}: embedded sweeps {key} differently"


def test_embedded_cold_start_follows_the_experiment():
    assert _compose("table1_fixed", "embedded").method.n_ini == 5  # paper: 50
    assert _compose("table7_strategies", "embedded").method.n_ini == 2  # paper: 20
