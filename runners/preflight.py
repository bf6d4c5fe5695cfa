"""The Hydra callback that checks the composed config before Hydra creates any directory
(``hydra.callbacks.preflight`` in ``conf/train.yaml``): a refused config leaves ``hydra.main`` as
``Refused``, which ``runners.cli.main`` prints as its one line (exit code 2)."""

from __future__ import annotations

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from runners.checks import check
from runners.config import group_options, without_hydra
from runners.errors import error_line
from runners.schema import ConfigError, config_error


class Refused(BaseException):
    """A config refused before Hydra creates anything; ``str(err)`` is the one line. A BaseException: Hydra
    turns a callback's ``Exception`` into a warning and carries on."""


class Preflight(Callback):
    """Check the composed config (``runners.checks.check``) when a run or a multirun starts."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, None)

    @staticmethod
    def _check(config: DictConfig, run_dir) -> None:
        try:
            _check_empty_overrides(list(config.hydra.overrides.task))
            check(without_hydra(config), dict(config.hydra.runtime.choices), run_dir=run_dir)
        except (ConfigError, OmegaConfBaseException) as err:
            raise Refused(error_line(err)) from None


def _check_empty_overrides(overrides: list[str]) -> None:
    """``key={}`` / ``key=[]`` would merge into nothing (Hydra merges a mapping override): refuse it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(overrides):
        value = override.value()
        if isinstance(value, dict | list) and not value and not override.is_delete():
            raise config_error(
                override.key_or_group,
                "is empty; give its values (an empty override would change nothing) or choose another option",
                group_options(override.key_or_group.split(".")[0]) or None,
            )
