"""Structured configs of the DOIT launchers, stored as ``hydra/launcher: basic | doit_slurm | doit_local``.

``basic`` replaces Hydra's own entry of that name (Hydra's default launcher), so ``hydra/launcher=basic``,
given or not, runs ``DoitBasicLauncher``: a failed or diverged run does not stop the sweep.
"""

from dataclasses import dataclass, field

import hydra._internal.core_plugins.basic_launcher  # noqa: F401  (its "basic" entry first: ours replaces it)
from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf


@dataclass
class DoitBasicConf:
    _target_: str = "hydra_plugins.doit_launchers.launcher.DoitBasicLauncher"


@dataclass
class DoitSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.doit_launchers.launcher.DoitSlurmLauncher"
    # each sweep batch is submitted as job arrays of at most this many tasks (SLURM's MaxArraySize - 1)
    max_array_size: int = 1000


@dataclass
class DoitLocalConf(LocalQueueConf):
    _target_: str = "hydra_plugins.doit_launchers.launcher.DoitLocalLauncher"
    # shell lines run before each job (as SlurmQueueConf.setup), e.g. to export OMP_NUM_THREADS
    setup: list[str] = field(default_factory=list)


ConfigStore.instance().store(
    group="hydra/launcher", name="basic", node=DoitBasicConf(), provider="doit_launchers"
)
ConfigStore.instance().store(
    group="hydra/launcher", name="doit_slurm", node=DoitSlurmConf(), provider="doit_launchers"
)
ConfigStore.instance().store(
    group="hydra/launcher", name="doit_local", node=DoitLocalConf(), provider="doit_launchers"
)
