"""Composing the runner's config without Hydra's app: ``compose(overrides)``, the options of a config group,
and a config as plain Python data.

What else happens to a composed config: ``runners.checks`` asks each value's owner whether it can run,
``runners.errors`` turns an exception into the one line the user sees, ``runners.preflight`` runs the checks
before Hydra creates a directory, ``runners.methods`` turns the method's values into optimizer and DOIT
keyword arguments.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf, open_dict

from runners.schema import CONF_DIR


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
    return without_hydra(cfg), choices


def without_hydra(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` without its ``hydra`` node (what a run reads)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def to_python(node):
    """A config node resolved into plain Python data (enums as strings; None stays None): what result.json,
    checkpoints and comparisons hold."""
    if node is None:
        return None
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
