"""A diverged or failed run mid-sweep: the other runs go on; the sweep ends with one line.

Real multiruns through the basic launcher (in this process, Hydra's default) and the local one (submitit,
one process per run): a diverged run is counted, not a failure (exit code 0); a failed run is named in
the one ``error:`` line and the sweep exits 1, after every other run finished. The classification of a
submitit job that left no result is checked on stand-in jobs (a killed job cannot be timed reliably).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import fakedata
import pytest
from conftest import REPO, run_main
from faultcheck import one_error_line
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from submitit.core.utils import FailedJobError, UncompletedJobError

from hydra_plugins.doit_launchers import report
from hydra_plugins.doit_launchers.launcher import DoitBasicLauncher, DoitLocalLauncher
from runners.faults import SweepIncomplete

TINY = ["epochs=1", "progress=off", "plot=false"]


def _sweep(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m runners.train -m ARGS`` from ``cwd``: the basic launcher's in this process (where it runs
    its jobs anyway), any other launcher's as a process of its own."""
    if "hydra/launcher=local" not in args:
        previous = Path.cwd()
        os.chdir(cwd)
        try:
            return run_main(["-m", *args])
        finally:
            os.chdir(previous)
    return subprocess.run(
        [sys.executable, "-m", "runners.train", "-m", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _statuses(sweep: Path) -> dict[str, str]:
    """run dir name -> status of every result.json under the sweep dir."""
    return {p.parent.name: json.loads(p.read_text())["status"] for p in sweep.rglob("result.json")}


def test_a_diverged_run_does_not_stop_a_basic_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _sweep(["method=sgd", "lr=1e8,0.01", *TINY, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (
        f"sweep {sweep}: 2 runs: 1 complete, 1 diverged, 0 failed, 0 missing; diverged #0 "
        "(method=sgd lr=100000000.0 epochs=1 progress=off plot=False)"
    ) in proc.stdout
    assert sorted(_statuses(sweep).values()) == ["complete", "diverged"]


@pytest.mark.parametrize("launcher", ["basic", pytest.param("local", marks=pytest.mark.slow)])
def test_a_failed_run_is_named_after_every_other_run_ended(launcher, tmp_path):
    fakedata.make_mnist(tmp_path / "data", n_train=100, n_test=50)
    sweep = tmp_path / "sweep"
    args = [
        f"hydra/launcher={launcher}",
        "dataset=mnist",
        "dataset.download=false",
        "dataset.root=data,missing",  # relative: the jobs run in the submission dir
        "method=sgd",
        "lr=1e8,0.01",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = _sweep(args, tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = one_error_line(proc.stderr)
    assert line.startswith(f"error: sweep {sweep}: 4 runs: 1 complete, 1 diverged, 2 failed, 0 missing; ")
    failed = re.findall(r"failed #(\d) \(([^)]*)\): (?:job \d+: )?dataset\.root: path 'missing'", line)
    assert [(i, "dataset.root=missing" in o) for i, o in failed] == [("2", True), ("3", True)], line
    assert line.endswith(
        "fix the cause and rerun the same command (finished runs are only re-reported, "
        "interrupted ones resume from their checkpoints)"
    )
    assert sorted(_statuses(sweep).values()) == ["complete", "diverged"]
    if launcher == "local":
        assert re.search(r"job \d+: dataset\.root: .* \[log: \S+_log\.err\]", line), line


def _job(tmp_path: Path, job_id: str, log: str, failure: type[Exception] | None, returned="complete"):
    err = tmp_path / f"{job_id}_log.err"
    err.write_text(log)

    def results():
        if failure is not None:
            raise failure("no result")
        return [SimpleNamespace(return_value=returned)]

    return SimpleNamespace(job_id=job_id, paths=SimpleNamespace(stderr=err), results=results)


def test_submitit_jobs_without_a_result_are_failed_or_missing(tmp_path):
    launcher = DoitLocalLauncher.__new__(DoitLocalLauncher)
    launcher.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    jobs = [
        _job(tmp_path, "1", "", None),
        _job(tmp_path, "2", "", None, returned="diverged"),
        _job(
            tmp_path,
            "3",
            "error: cannot write /x/checkpoint.pt: No space left on device (errno 28)\n",
            UncompletedJobError,
        ),
        _job(tmp_path, "4", "Traceback (most recent call last):\nValueError: boom\n", FailedJobError),
        _job(tmp_path, "5", "error: interrupted by SIGTERM at step 9; ...\n", UncompletedJobError),
        _job(tmp_path, "6", "slurmstepd: error: Detected 1 oom_kill event\n", UncompletedJobError),
    ]
    params = [([f"seed={i}"], "hydra.sweep.dir", i, f"job_id_for_{i}", {}) for i in range(len(jobs))]
    with pytest.raises(SweepIncomplete) as info:
        launcher._collect(params, jobs)
    text = str(info.value)
    assert text.startswith(f"sweep {tmp_path}: 6 runs: 1 complete, 1 diverged, 2 failed, 2 missing; ")
    for status, i, job, last in [
        ("failed", 2, 3, "cannot write /x/checkpoint.pt"),
        ("failed", 3, 4, "ValueError: boom"),
        ("missing", 4, 5, "interrupted by SIGTERM"),
        ("missing", 5, 6, "empty error log"),
    ]:
        assert f"{status} #{i} (seed={i}): job {job}: {last}" in text, text


def test_the_sweep_line_counts_and_only_failed_or_missing_runs_fail_it():
    runs = [report.Outcome(0, "lr=1", "complete"), report.Outcome(1, "lr=9", "diverged")]
    assert (
        report.line("s", runs)
        == "sweep s: 2 runs: 1 complete, 1 diverged, 0 failed, 0 missing; diverged #1 (lr=9)"
    )
    report.finish("s", runs)
    with pytest.raises(SweepIncomplete, match=r"0 failed, 1 missing; diverged #1 \(lr=9\); missing #2"):
        report.finish("s", [*runs, report.Outcome(2, "lr=3", "missing", "job 4: empty error log")])


def test_a_task_that_raises_is_a_failed_run_named_by_its_exception():
    ret = JobReturn(status=JobStatus.FAILED, _return_value=ValueError("boom\nmore"))
    outcome = DoitBasicLauncher._outcome(3, "lr=1", ret)
    assert (outcome.status, outcome.describe()) == ("failed", "#3 (lr=1): ValueError: boom")
