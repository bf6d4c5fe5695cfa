"""The command line ``python -m runners.train [overrides]`` (Hydra 1.3 app over ``conf/train.yaml``): whatever
stops a run or a sweep is one ``error: <line>`` on stderr with its exit code; ``main`` is the console entry.

Exit codes: 2 for a config error (refused by ``runners.preflight`` before anything is written, or by the
job's own check), 1 for a diverged run, a failed write, GPU memory or a sweep with a failed or missing run,
128 + the signal for SIGINT/SIGTERM (``runners.faults``). In a sweep (``-m``) a diverged or failed run does
not stop the others: the launcher reports them at the end (``hydra_plugins.doit_launchers``). Hydra's own
reports are multi-line: ``main`` sets ``HYDRA_FULL_ERROR`` so Hydra raises instead, and prints the one line
unless the user set ``HYDRA_FULL_ERROR=1`` (then the traceback stays).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from omegaconf import DictConfig

from runners import preemption, train
from runners.errors import error_line, from_hydra, group_value_line
from runners.faults import Interrupted, RunExit, RunFailed, SweepIncomplete, one_line, os_error_line
from runners.preflight import Refused
from runners.schema import CONF_DIR, ConfigError

_USER_FULL_ERROR = "RUNNERS_USER_HYDRA_FULL_ERROR"  # the user's own HYDRA_FULL_ERROR, before main() sets it


def _discard_hydra_files(out_dir: Path) -> None:
    """A job refused for its config leaves no run dir behind: remove Hydra's own files if nothing else is there."""
    entries = list(out_dir.iterdir()) if out_dir.is_dir() else []
    if all(e.name == ".hydra" or (e.suffix == ".log" and e.stat().st_size == 0) for e in entries):
        shutil.rmtree(out_dir, ignore_errors=True)


def _task(cfg: DictConfig) -> str:
    """One Hydra job: the run's status ("complete" or "diverged", which a sweep's launcher counts), or
    ``RunExit`` with the one line (a diverged single run ends so too: exit code 1)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    logging.raiseExceptions = False  # a full disk must not print a traceback for each log line
    out_dir = Path(hc.runtime.output_dir)
    try:
        with preemption.handled():
            result = train.run(cfg, out_dir, dict(hc.runtime.choices))
    except (ConfigError, RunFailed, Interrupted) as err:
        # a config refused in a job of a multirun (checked here first) leaves no run dir behind
        if isinstance(err, ConfigError):
            _discard_hydra_files(out_dir)
        if os.environ.get(_USER_FULL_ERROR) == "1":
            raise
        raise RunExit(*one_line(err)) from None
    if result.status == "diverged" and hc.mode != RunMode.MULTIRUN:
        raise RunExit(
            f"training diverged at step {result.diverged_step} (non-finite loss); {out_dir}/result.json "
            "records status diverged",
            1,
        )
    return result.status


def main(argv: list[str] | None = None) -> int:
    """The console entry: whatever stops a run or a sweep is one ``error: ...`` line on stderr, with exit code
    2 for a config error, 1 for a diverged run, a failed write, GPU memory or a sweep with a failed or
    missing run, 128 + the signal for SIGINT/SIGTERM (``runners.faults``)."""
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    saved = os.environ.get("HYDRA_FULL_ERROR"), list(sys.argv)
    user_full_error = saved[0] == "1"
    os.environ[_USER_FULL_ERROR] = "1" if user_full_error else "0"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra raise instead of printing multi-line reports
    sys.argv = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    try:
        hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")(_task)()
    except Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SweepIncomplete as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ConfigError, HydraException, OmegaConfBaseException) as err:
        if user_full_error:
            raise
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:  # Hydra's own for method=null, scale=[0,16]: not HydraExceptions
        if user_full_error or not from_hydra(err):
            raise
        print(f"error: {group_value_line(sys.argv[1:], err)}", file=sys.stderr)
        return 2
    except OSError as err:  # Hydra's own files (.hydra/, the job log) on a full or read-only disk
        if user_full_error:
            raise
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return 1
    except RunExit as exit_:
        print(f"error: {exit_.line}", file=sys.stderr)
        return exit_.code
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(f"error: {exit_.code}", file=sys.stderr)
        return exit_.code if isinstance(exit_.code, int) else 1
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the run's handlers were installed
        print(
            "error: interrupted by SIGINT before a checkpoint; run the same command to resume from the last one",
            file=sys.stderr,
        )
        return 130
    finally:
        if saved[0] is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved[0]
        sys.argv[:] = saved[1]
    return 0
