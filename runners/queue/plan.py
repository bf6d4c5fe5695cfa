"""The work items of a queue: each run of each Hydra multirun, with the run dir that multirun gives it.

A sweep is expanded by Hydra's own machinery, exactly as ``python -m runners.train -m <overrides>`` does:
the sweep's composed config gives ``hydra.sweeper.params`` (resolved), ``BasicSweeper.split_arguments``
crosses them with the command line's overrides, and each run's dir is ``<hydra.sweep.dir>/<hydra.sweep.subdir>``
with ``hydra.job.override_dirname`` from Hydra's ``get_overrides_dirname``. The runs of one family (the
same config-group choices and ``COST_KEYS``, differing only in values such as ``seed`` or ``lr``) are
composed once for their cost, device and sweep dir (a ``hydra.sweep.dir`` that interpolates such a value
is not supported); each run is composed in full by the worker that runs it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.config_loader_impl import get_overrides_dirname
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from runners.schema import CONF_DIR

COST_KEYS = ("epochs", "batch_size", "dataset.train_size", "device")  # value overrides that change a cost
LOG = "train.log"  # the run's log in its run dir (the file Hydra's job logging writes for runners.train)


@dataclass(frozen=True)
class Item:
    """One run: its experiment (``label``), the overrides that compose it, its run dir and cost."""

    label: str
    overrides: list[str]  # Hydra overrides first, then the run's own: input of runners.config.compose
    run_dir: str  # as Hydra's multirun writes it (relative to the working directory when relative)
    cost: float  # epochs x steps per epoch (estimated without loading data)
    doit: bool  # a DOIT-kind method (doit, random, cyclical, bandit, doit_plus)
    device: str

    @property
    def log(self) -> Path:
        return Path(self.run_dir) / LOG


def plan(sweeps: list[list[str]]) -> list[Item]:
    """The runs of every multirun (its overrides), largest first, DOIT kinds first at equal cost."""
    items = [item for overrides in sweeps for item in expand(overrides)]
    return sorted(items, key=lambda item: (-item.cost, not item.doit))


def expand(overrides: list[str]) -> list[Item]:
    """The runs of ``python -m runners.train -m <overrides>``, in Hydra's order, labelled by the experiment."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        parsed = parser.parse_overrides(overrides)
        hydra_args = [o.input_line for o in parsed if o.is_hydra_override()]
        task_args = [o.input_line for o in parsed if not o.is_hydra_override()]
        sweep = _compose([o.input_line for o in parsed if not o.is_sweep_override()])
        params = sweep.hydra.sweeper.params  # null without an experiment
        params = OmegaConf.to_container(params, resolve=True) if params is not None else {}
        swept = parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + task_args)
        (jobs,) = BasicSweeper.split_arguments(swept, max_batch_size=None)
        label = sweep.experiment_name or "sweep"
        families: dict[tuple[str, ...], DictConfig] = {}
        items = []
        for num, job in enumerate(jobs):
            job_overrides = parser.parse_overrides(job)
            family = tuple(o.input_line for o in job_overrides if _in_family_key(o.key_or_group))
            if family not in families:
                families[family] = _compose([*hydra_args, *family])
            cfg = families[family]
            items.append(
                Item(
                    label=label,
                    overrides=[*hydra_args, *job],
                    run_dir=_run_dir(cfg, job_overrides, num),
                    cost=_cost(cfg),
                    doit=cfg.method.kind == "doit",
                    device=str(cfg.device),
                )
            )
    return items


def _in_family_key(key: str) -> bool:
    return key in COST_KEYS or (CONF_DIR / key).is_dir()


def _compose(overrides: list[str]) -> DictConfig:
    return compose("train", overrides=overrides, return_hydra_config=True)


def _run_dir(cfg: DictConfig, job_overrides: list, num: int) -> str:
    """``<hydra.sweep.dir>/<hydra.sweep.subdir>`` of job ``num``, as Hydra's basic launcher names it."""
    job, naming = cfg.hydra.job, cfg.hydra.job.config.override_dirname
    with open_dict(job):
        job.override_dirname = get_overrides_dirname(
            overrides=[o for o in job_overrides if not o.is_hydra_override()],
            exclude_keys=list(naming.exclude_keys),
            item_sep=naming.item_sep,
            kv_sep=naming.kv_sep,
        )
        job.num = job.id = num
    return os.path.join(str(cfg.hydra.sweep.dir), str(cfg.hydra.sweep.subdir))


def _cost(cfg: DictConfig) -> float:
    """Epochs x steps per epoch, the steps from ``dataset.train_size`` and the batch size; a dataset without
    ``train_size`` (its size is known only once loaded) counts one step per epoch."""
    examples = cfg.dataset.get("train_size") or cfg.batch_size
    return float(cfg.epochs * math.ceil(examples / cfg.batch_size))
