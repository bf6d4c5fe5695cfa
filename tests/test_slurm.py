"""Seed sweeps of the real runner through Hydra's submitit launchers (``hydra/launcher=slurm|local``).

The ``slurm`` tests (slow: the full suite) run on a real single-node SLURM cluster: one that already answers
(``scontrol ping``), else, only under ``python -m pytest --full`` and as root, one the session fixture starts
with ``scripts/slurm/start.sh`` (installs Debian's packages) and stops at the end. Otherwise they skip with
the reason, except on CI (``CI=true``) under ``--full``, where they fail. The quick suite never starts one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import full_suite
from fakedata import make_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = ["epochs=2", "batch_size=64", "plot=false", "progress=off"]
SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=15",
]  # submitit counts a USR2 after min(0.8 T, T - 10 min) as a time-out
SWEEP_TIMEOUT_S = 420


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the SLURM cluster: {reason}")
    pytest.skip(reason)


def _controller_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    return ping.returncode == 0 and "UP" in ping.stdout


@pytest.fixture(scope="session")
def slurm_cluster(pytestconfig):
    """A running SLURM cluster: reuses one that answers, else (``--full`` only) starts and later stops our own."""
    started = False
    if not _controller_up():
        if not full_suite(pytestconfig):
            pytest.skip(
                "no SLURM cluster answers; the full tests start one as root on Debian: python -m pytest --full "
                "(or start one first: scripts/slurm/start.sh)"
            )
        if os.geteuid() != 0:
            _unavailable("starting a SLURM cluster (scripts/slurm/start.sh) needs root")
        if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
            _unavailable("SLURM is not installed and there is no apt-get to install it")
        start = subprocess.run(
            [str(ROOT / "scripts/slurm/start.sh")], capture_output=True, text=True, timeout=900
        )
        if start.returncode != 0:
            _unavailable("scripts/slurm/start.sh failed: " + (start.stdout + start.stderr)[-2000:])
        started = True
    yield
    if started:
        subprocess.run([str(ROOT / "scripts/slurm/stop.sh")], capture_output=True, timeout=300)


def _command(args: list[str], sweep_dir: Path) -> list[str]:
    return [sys.executable, "-m", "runners.train", "-m", *args, f"hydra.sweep.dir={sweep_dir}"]


def _env() -> dict:
    return dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )


def sweep(args: list[str], sweep_dir: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m runners.train -m ARGS`` to its end (a hang fails the test after SWEEP_TIMEOUT_S)."""
    return subprocess.run(
        _command(args, sweep_dir),
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=SWEEP_TIMEOUT_S,
    )


def results(sweep_dir: Path) -> dict[int, tuple[Path, dict]]:
    """seed -> (run dir, result.json) of every complete run under the sweep dir."""
    out = {}
    for path in sweep_dir.rglob("result.json"):
        result = json.loads(path.read_text())
        if result["status"] == "complete":
            out[result["run"]["seed"]] = path.parent, result
    return out


def _check_seed_sweep(sweep_dir: Path, proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = results(sweep_dir)
    assert sorted(found) == [0, 1, 2]
    for seed, (run_dir, result) in found.items():
        # named by the job's overrides only (no time, no job id): a requeued job finds its dir again
        assert run_dir.parent == sweep_dir and run_dir.name.startswith("batch_size=64,epochs=2,")
        assert run_dir.name.endswith(f"seed={seed}")
        assert result["timing"]["epochs_run"] == 2
    assert len(list((sweep_dir / ".submitit").glob("*/*_log.err"))) == 3


@pytest.mark.slow
@pytest.mark.slurm
def test_seed_sweep_on_slurm(slurm_cluster, tmp_path):
    proc = sweep(["seed=0,1,2", *TINY, *SLURM], tmp_path / "sweep")
    _check_seed_sweep(tmp_path / "sweep", proc)
    arrays = re.findall(r"#\d : .* -> job (\d+)_\d$", proc.stdout + proc.stderr, re.MULTILINE)
    assert len(arrays) == 3 and len(set(arrays)) == 1, "the three jobs should be tasks of one SLURM array"


@pytest.mark.slow
def test_seed_sweep_with_local_launcher(tmp_path):
    proc = sweep(["seed=0,1,2", *TINY, "hydra/launcher=local"], tmp_path / "sweep")
    _check_seed_sweep(tmp_path / "sweep", proc)


@pytest.mark.slow
@pytest.mark.slurm
def test_usr2_checkpoints_requeues_and_resumes_to_the_same_result(slurm_cluster, tmp_path):
    args = ["seed=0", "epochs=6", "batch_size=8", "plot=false", "progress=off", *SLURM]
    preempted = subprocess.Popen(
        _command(args, tmp_path / "preempted"),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    straight = subprocess.Popen(
        _command(args, tmp_path / "straight"),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + SWEEP_TIMEOUT_S
        while not (metrics := list((tmp_path / "preempted").glob("*/metrics.jsonl"))):  # an epoch is done
            assert preempted.poll() is None and time.time() < deadline, "the job ended before its first epoch"
            time.sleep(0.1)
        run_dir = metrics[0].parent
        job = next(
            p.name
            for p in (tmp_path / "preempted" / ".submitit").iterdir()
            if re.fullmatch(r"\d+(_\d+)?", p.name)
        )
        for sig in ("TERM", "USR2"):  # what SLURM preemption delivers (as submitit's SlurmJob._interrupt)
            subprocess.run(["scancel", f"--signal={sig}", job], check=True, timeout=30)
        out_preempted = preempted.communicate(timeout=SWEEP_TIMEOUT_S)[0]
        out_straight = straight.communicate(timeout=SWEEP_TIMEOUT_S)[0]
    finally:
        for proc in (preempted, straight):
            if proc.poll() is None:
                proc.kill()
    assert preempted.returncode == 0, out_preempted[-3000:]
    assert straight.returncode == 0, out_straight[-3000:]

    log = (run_dir / "train.log").read_text()
    assert "checkpointing at the next step boundary" in log, log
    resumed = re.search(r"resumed from .*checkpoint\.pt at epoch (\d+), step (\d+)", log)
    assert resumed, f"the requeued job did not resume from its checkpoint:\n{log}"
    a = json.loads((run_dir / "result.json").read_text())
    b = json.loads((tmp_path / "straight" / run_dir.name / "result.json").read_text())
    assert 0 < int(resumed.group(2)) < a["timing"]["steps"], "the signal should land mid-training"
    assert a["metrics"] == b["metrics"]
    assert a["timing"]["steps"] == b["timing"]["steps"]
    model_a = torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]
    model_b = torch.load(tmp_path / "straight" / run_dir.name / "checkpoint.pt", weights_only=True)["model"]
    assert model_a.keys() == model_b.keys()
    assert all(torch.equal(model_a[k], model_b[k]) for k in model_a)


@pytest.mark.slow
@pytest.mark.slurm
def test_crashed_job_fails_the_sweep_naming_it(slurm_cluster, tmp_path):
    make_mnist(tmp_path / "data")
    args = [
        "dataset=mnist",
        "dataset.download=false",
        "dataset.root=data,missing",
        *TINY,
        *SLURM,
        "hydra.launcher.max_array_size=1",
    ]  # one array per job
    proc = sweep(args, tmp_path / "sweep", cwd=tmp_path)  # relative roots: the jobs run in the submission dir
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert len(re.findall(r"#\d : .* -> job \d+$", out, re.MULTILINE)) == 2, out
    failed = re.search(
        r"2 runs: 1 complete, 0 diverged, 1 failed, 0 missing; failed #1 \(.*dataset\.root=missing.*\): "
        r"job (\d+): (.*?) \[log: (\S+_log\.err)\]",
        out,
    )
    assert failed, out
    assert "dataset.root: path 'missing' does not exist" in failed.group(2)
    assert Path(failed.group(3)).is_file() and f"/.submitit/{failed.group(1)}/" in failed.group(3)
    assert [r["run"]["dataset"] for _, r in results(tmp_path / "sweep").values()] == ["mnist"]


def test_launcher_configs_compose_to_the_doit_launchers():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        slurm = compose(
            "train", ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=3"], return_hydra_config=True
        ).hydra.launcher
        local = compose("train", ["hydra/launcher=local"], return_hydra_config=True).hydra.launcher
    assert slurm._target_ == "hydra_plugins.doit_launchers.launcher.DoitSlurmLauncher"
    assert slurm.max_array_size == 1000 and slurm.max_num_timeout == 3
    assert slurm.setup == ["export OMP_NUM_THREADS=3"]
    assert local._target_ == "hydra_plugins.doit_launchers.launcher.DoitLocalLauncher"


def test_launcher_rejects_bad_array_size_and_reads_error_lines(tmp_path):
    from hydra_plugins.doit_launchers.launcher import DoitSlurmLauncher, _error_line

    with pytest.raises(ValueError, match="hydra.launcher.max_array_size=0"):
        DoitSlurmLauncher(max_array_size=0)
    log = tmp_path / "1_0_log.err"
    log.write_text("Traceback ...\nValueError: boom\nsrun: error: vm: task 0: Exited with exit code 1\n")
    assert _error_line(log) == "ValueError: boom"
    assert _error_line(tmp_path / "absent.err") == "no error log"
