"""The suite's launchers: a failed or diverged run never stops the others; the sweep ends with one line.

``hydra/launcher=basic`` (the default): Hydra's basic launcher (one run after the other, in this process),
except that a run ending with its one-line error (``runners.faults.RunExit``) or an exception is recorded
and the next run starts; SIGINT/SIGTERM still stop the sweep, after the running job's checkpoint.
``hydra/launcher=local|slurm``: Hydra's stock submitit launcher submits a sweep batch as one job array
(clusters reject arrays larger than ``MaxArraySize``) and stops at the first failed job with its raw
traceback; these subclasses submit arrays of at most ``max_array_size`` tasks and wait for every job.
Every launcher ends the sweep with ``report.finish``: one line counting complete, diverged, failed and
missing runs, an error (exit code 1) naming each failed or missing run (index, overrides, its error line;
for submitit jobs the job id and log file) when there is one. With ``hydra.sweeper.max_batch_size`` set,
each batch reports on its own and a batch with a failed run stops the sweep.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    BaseSubmititLauncher,
    LocalLauncher,
    SlurmLauncher,
)
from omegaconf import OmegaConf, open_dict

from hydra_plugins.doit_launchers import report
from runners.faults import INTERRUPTED, RunExit, os_error_line

log = logging.getLogger(__name__)


def _first_line(err: BaseException) -> str:
    if isinstance(err, OSError):
        return os_error_line(err)
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


class DoitBasicLauncher(BasicLauncher):
    """``hydra/launcher=basic``: one run after the other in this process; a failed run does not stop the rest."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = str(self.config.hydra.sweep.dir)
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        runs, outcomes = [], []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            shown = " ".join(filter_overrides(overrides))
            log.info(f"\t#{idx} : {shown}")
            try:
                ret = self._run(idx, overrides)
            except RunExit as exit_:
                if exit_.line.startswith(INTERRUPTED):  # the user or the system wants the sweep to stop
                    configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
                    left = len(job_overrides) - (idx - initial_job_idx) - 1
                    log.warning(f"{report.line(sweep_dir, outcomes)}; stopped at #{idx}, {left} not started")
                    raise
                outcomes.append(report.Outcome(idx, shown, "failed", exit_.line))
            except Exception as err:  # Hydra's own job files (.hydra/, the log) could not be written
                outcomes.append(report.Outcome(idx, shown, "failed", _first_line(err)))
            else:
                runs.append(ret)
                outcomes.append(self._outcome(idx, shown, ret))
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            if outcomes[-1].status != "complete":
                log.warning(f"{outcomes[-1].status} {outcomes[-1].describe()}; the sweep goes on")
        report.finish(sweep_dir, outcomes)
        return runs

    @staticmethod
    def _outcome(idx: int, shown: str, ret: JobReturn) -> report.Outcome:
        if ret.status == JobStatus.FAILED:  # the task raised: a bug (its traceback goes to the log)
            log.error(f"#{idx} ({shown}) raised", exc_info=ret._return_value)
            return report.Outcome(idx, shown, "failed", _first_line(ret._return_value))
        return report.outcome(idx, shown, ret.return_value)

    def _run(self, idx: int, overrides: Sequence[str]) -> JobReturn:
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = idx
            sweep_config.hydra.job.num = idx
        return run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )


_SCHEDULER_NOISE = ("srun:", "slurmstepd:", "submitit ")


def _error_line(path: Path) -> str:
    """The last line of a job's error log that the job itself wrote (usually the exception)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "no error log"
    for line in reversed(lines):
        if line.strip() and not line.startswith(_SCHEDULER_NOISE):
            return line.strip()
    return "empty error log"


class _ChunkedReportingMixin(BaseSubmititLauncher):
    def __init__(self, max_array_size: int | None = None, **params: Any) -> None:
        super().__init__(**params)
        if max_array_size is not None and max_array_size < 1:
            raise ValueError(f"hydra.launcher.max_array_size={max_array_size}: use a positive integer")
        self.max_array_size = max_array_size

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """Runs inside the job: a run's one-line error goes to the job's error log and ends the job with its
        exit code; any other failure raises, so the log gets its traceback. SLURM marks both FAILED."""
        try:
            ret = super().__call__(*args, **kwargs)
        except RunExit as exit_:
            print(f"error: {exit_.line}", file=sys.stderr, flush=True)
            raise SystemExit(exit_.code) from None
        if ret.status == JobStatus.FAILED:
            raise ret._return_value
        return ret

    def _executor(self) -> Any:
        import submitit  # lazy, as Hydra's launcher: plugin discovery stays fast

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items()}
        )
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and len(job_overrides) > 0
        executor = self._executor()
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
        params = [
            (
                list(ov),
                "hydra.sweep.dir",
                initial_job_idx + i,
                f"job_id_for_{initial_job_idx + i}",
                Singleton.get_state(),
            )
            for i, ov in enumerate(job_overrides)
        ]
        size = self.max_array_size or len(params)
        jobs = []
        for start in range(0, len(params), size):
            jobs += executor.map_array(self, *zip(*params[start : start + size], strict=True))
        for (overrides, _, idx, _, _), job in zip(params, jobs, strict=True):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))} -> job {job.job_id}")
        return self._collect(params, jobs)

    def _collect(self, params: list[tuple], jobs: list[Any]) -> list[JobReturn]:
        from submitit.core.utils import FailedJobError, UncompletedJobError

        returns, outcomes = [], []
        for (overrides, _, idx, _, _), job in zip(params, jobs, strict=True):
            shown = " ".join(filter_overrides(overrides))
            try:
                ret = job.results()[0]
            except (FailedJobError, UncompletedJobError) as err:
                err_log = Path(job.paths.stderr)
                last = _error_line(err_log)
                own = last.startswith("error: ") and not last.startswith(f"error: {INTERRUPTED}")
                status = "failed" if isinstance(err, FailedJobError) or own else "missing"
                detail = f"job {job.job_id}: {last.removeprefix('error: ')} [log: {err_log}]"
                outcomes.append(report.Outcome(idx, shown, status, detail))
                log.error(f"Sweep job {status}: {outcomes[-1].describe()}")
                continue
            returns.append(ret)
            outcomes.append(report.outcome(idx, shown, ret.return_value))
        report.finish(str(self.config.hydra.sweep.dir), outcomes)
        return returns


class DoitSlurmLauncher(_ChunkedReportingMixin, SlurmLauncher):
    """``hydra/launcher=slurm``: SLURM job arrays of at most ``max_array_size`` tasks."""


class DoitLocalLauncher(_ChunkedReportingMixin, LocalLauncher):
    """``hydra/launcher=local``: one local process per job (submitit_local), same failure report."""
