"""Every experiment config (conf/experiment/*.yaml) composes with the real train.yaml, and its sweep is sane."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

CONF = Path(__file__).resolve().parent.parent / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
OFFLINE_DATASETS = {"digits"}
OFFLINE_MODELS = {"cnn", "mlp"}
GROUPS = ("dataset", "model", "method", "space", "ablation")


def _compose(name: str, overrides=()):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=[f"experiment={name}", *overrides], return_hydra_config=True)


def _sweep(cfg) -> dict[str, list[str]]:
    params = OmegaConf.to_container(cfg.hydra.sweeper.params) or {}
    return {k: [v.strip() for v in str(val).split(",")] for k, val in params.items()}


def test_every_run_experiment_has_an_embedded_variant():
    base = {e for e in EXPERIMENTS if not e.endswith("_embedded")}
    assert {f"{e}_embedded" for e in base} == {e for e in EXPERIMENTS if e.endswith("_embedded")}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_composes_and_sweeps_known_options(name):
    cfg = _compose(name)
    assert cfg.experiment_name == name.removesuffix("_embedded")
    if name.startswith("fig_toys"):
        assert set(cfg.toys) == {"fig1", "fig4", "fig7a"}
        return
    assert cfg.scale == ("embedded" if name.endswith("_embedded") else "paper")
    # the experiment's own values win over train.yaml's (needs `_self_` before `experiment` in its defaults)
    assert cfg.hydra.sweep.dir == f"outputs/sweeps/{name}"
    assert cfg.epochs == (6 if name.endswith("_embedded") else 100)
    sweep = _sweep(cfg)
    assert sweep["seed"] == ["0", "1", "2"]
    for group in GROUPS:
        for option in sweep.get(group, []):
            assert (CONF / group / f"{option}.yaml").is_file(), f"{name}: {group}={option} does not exist"
    # one point of the sweep composes with the sweep's values applied
    first = [f"{k}={v[0]}" for k, v in sweep.items()]
    point = _compose(name, first)
    assert point.seed == 0


@pytest.mark.parametrize("name", [e for e in EXPERIMENTS if e.endswith("_embedded") and "toys" not in e])
def test_embedded_variants_use_offline_data_only(name):
    cfg = _compose(name)
    sweep = _sweep(cfg)
    assert set(sweep.get("dataset", [cfg.dataset.name])) <= OFFLINE_DATASETS
    assert set(sweep.get("model", [cfg.model.name])) <= OFFLINE_MODELS
    assert cfg.dataset.name in OFFLINE_DATASETS and cfg.model.name in OFFLINE_MODELS


@pytest.mark.parametrize("name", [e for e in EXPERIMENTS if not e.endswith("_embedded") and "toys" not in e])
def test_embedded_keeps_methods_ablations_and_seeds(name):
    paper, embedded = _sweep(_compose(name)), _sweep(_compose(f"{name}_embedded"))
    for key in set(paper) - {"dataset", "model"} - {"method.n_ini", "method.tau", "method.n_components"}:
        assert embedded[key] == paper[key], f"{name}: embedded sweeps {key} differently"


@pytest.mark.parametrize("name", [e for e in EXPERIMENTS if e.endswith("_embedded") and "toys" not in e])
def test_embedded_variants_pass_the_runner_schema(name):
    """The first run of each embedded sweep is a valid runner config (e.g. YAML's bare `off` is false)."""
    from runners.schema import validate

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        base = compose("train", overrides=[f"experiment={name}"], return_hydra_config=True)
        params = base.hydra.sweeper.params or {}
        first = [f"{k}={str(v).split(',')[0]}" for k, v in params.items()]
        cfg = compose("train", overrides=[f"experiment={name}", *first], return_hydra_config=True)
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    validate(cfg, choices)
