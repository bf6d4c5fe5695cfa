"""submitit launchers that chunk sweeps into bounded job arrays and fail loudly, naming the failed jobs.

Hydra's stock submitit launcher submits a sweep batch as one job array (clusters reject arrays larger
than ``MaxArraySize``) and stops at the first failed job with its raw traceback. These subclasses
submit arrays of at most ``max_array_size`` tasks, wait for every job, and end the sweep with one
error that lists each failed job: its sweep index, overrides, job id, last error line and log file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.errors import CompactHydraException
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    BaseSubmititLauncher,
    LocalLauncher,
    SlurmLauncher,
)
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


class SweepJobsFailed(CompactHydraException):
    """Some jobs of a sweep crashed or were killed; the message names each one and its log (Hydra prints
    a CompactHydraException's message without a traceback and exits 1)."""


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
        """Runs inside the job: a failed run raises, so the log gets its traceback and SLURM marks it FAILED."""
        ret = super().__call__(*args, **kwargs)
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

        returns, failed = [], []
        for (overrides, _, idx, _, _), job in zip(params, jobs, strict=True):
            try:
                returns.append(job.results()[0])
            except (FailedJobError, UncompletedJobError):
                err = Path(job.paths.stderr)
                failed.append(
                    f"#{idx} ({' '.join(filter_overrides(overrides))}) job {job.job_id}: "
                    f"{_error_line(err)} [log: {err}]"
                )
                log.error(f"Sweep job failed: {failed[-1]}")
        if failed:
            raise SweepJobsFailed(f"{len(failed)} of {len(jobs)} sweep jobs failed: " + "; ".join(failed))
        return returns


class DoitSlurmLauncher(_ChunkedReportingMixin, SlurmLauncher):
    """``hydra/launcher=slurm``: SLURM job arrays of at most ``max_array_size`` tasks."""


class DoitLocalLauncher(_ChunkedReportingMixin, LocalLauncher):
    """``hydra/launcher=local``: one local process per job (submitit_local), same failure report."""
