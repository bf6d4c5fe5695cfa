"""runners.preemption without SLURM: the signal flag, the three hand-over paths, SIGINT/SIGTERM (stop after
the checkpoint), and the hand-over to submitit's own handler in a real submitit_local job (signal ->
checkpoint -> requeue -> resume)."""

import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import pytest
import submitit

from runners import preemption
from runners.faults import Interrupted

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_state(monkeypatch):
    """Fresh module state; the process's signal handlers are restored afterwards."""
    monkeypatch.setattr(preemption, "_requested", False)
    monkeypatch.setattr(preemption, "_signum", None)
    monkeypatch.setattr(preemption, "_previous", None)
    monkeypatch.setattr(preemption, "_stop_previous", {})
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SUBMITIT_PREEMPT_SIGNAL"):
        monkeypatch.delenv(var, raising=False)
    handled = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT, signal.SIGTERM)
    saved = {s: signal.getsignal(s) for s in handled}
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh process (pytest has its own)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def _deliver(sig):
    os.kill(os.getpid(), sig)
    for _ in range(100):  # Python runs handlers between bytecodes of the main thread
        if preemption.requested():
            return
        time.sleep(0.01)


def test_signal_sets_flag_and_keeps_previous_handler():
    def old(signum, frame):
        raise AssertionError("the previous handler must not run on the signal")

    signal.signal(signal.SIGUSR2, old)
    preemption.install()
    preemption.install()  # idempotent: the saved handler stays the original one
    assert not preemption.requested()
    assert preemption._previous is old
    _deliver(signal.SIGUSR2)
    assert preemption.requested()


def test_env_selects_signal(monkeypatch):
    monkeypatch.setenv("SUBMITIT_PREEMPT_SIGNAL", "USR1")
    preemption.install()
    assert signal.getsignal(signal.SIGUSR1) is preemption._on_signal
    _deliver(signal.SIGUSR1)
    assert preemption.requested()
    monkeypatch.setenv("SUBMITIT_PREEMPT_SIGNAL", "NOPE")
    with pytest.raises(ValueError, match="SUBMITIT_PREEMPT_SIGNAL='NOPE'"):
        preemption.preempt_signal()


def test_install_outside_main_thread_leaves_handlers():
    before = signal.getsignal(signal.SIGUSR2)
    worker = threading.Thread(target=preemption.install)
    worker.start()
    worker.join()
    assert signal.getsignal(signal.SIGUSR2) is before


def test_after_checkpoint_without_scheduler_stops():
    preemption.install()
    _deliver(signal.SIGUSR2)
    with pytest.raises(Interrupted, match="^interrupted by SIGUSR2$") as info:
        preemption.after_checkpoint()
    assert info.value.exit_code == 128 + signal.SIGUSR2


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stop_signal_checkpoints_then_stops_and_a_second_acts_at_once(sig, code):
    preemption.install()
    _deliver(sig)
    assert preemption.requested_signal() == sig
    with pytest.raises(Interrupted, match=f"^interrupted by {sig.name}$") as info:
        preemption.after_checkpoint()
    assert info.value.exit_code == code
    # the first one put the old handler back: a second one acts at once, as without us
    assert signal.getsignal(sig) in (signal.default_int_handler, signal.SIG_DFL)


def test_claimed_stop_signals_stay_with_their_owner():
    def owner(signum, frame):
        raise AssertionError("not delivered here")

    signal.signal(signal.SIGTERM, owner)  # e.g. submitit's bypass of SLURM's SIGTERM before USR2
    preemption.install()
    assert signal.getsignal(signal.SIGTERM) is owner
    assert signal.getsignal(signal.SIGINT) is preemption._on_signal


def test_handled_puts_every_handler_back_and_lowers_the_flag():
    before = {s: signal.getsignal(s) for s in (signal.SIGUSR2, signal.SIGINT, signal.SIGTERM)}
    with preemption.handled():
        assert all(signal.getsignal(s) is preemption._on_signal for s in before)
        _deliver(signal.SIGUSR2)
    assert not preemption.requested() and preemption.requested_signal() is None
    assert {s: signal.getsignal(s) for s in before} == before


@pytest.fixture
def fake_scontrol(tmp_path, monkeypatch):
    """An `scontrol` on PATH that records its arguments (exit status from $FAKE_RC)."""
    calls = tmp_path / "calls.txt"
    exe = tmp_path / "bin" / "scontrol"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "fake error" >&2\nexit ${{FAKE_RC:-0}}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    return calls


@pytest.mark.parametrize(
    ("env", "job"),
    [
        ({"SLURM_JOB_ID": "41"}, "41"),
        ({"SLURM_JOB_ID": "43", "SLURM_ARRAY_JOB_ID": "42", "SLURM_ARRAY_TASK_ID": "1"}, "42_1"),
    ],
)
def test_after_checkpoint_under_plain_sbatch_requeues(fake_scontrol, monkeypatch, env, job):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exit_info:
        preemption.after_checkpoint()
    assert exit_info.value.code == 0
    assert fake_scontrol.read_text().split() == ["requeue", job]


def test_a_sigterm_during_the_requeue_does_not_kill_scontrol(fake_scontrol, monkeypatch):
    """SLURM's requeue ends the job (SIGTERM to its processes) while `scontrol requeue` may still run; seen in
    CI as "Command '['scontrol', 'requeue', '4']' died with <Signals.SIGTERM: 15>"."""
    exe = fake_scontrol.parent / "bin" / "scontrol"
    exe.write_text(exe.read_text().replace("#!/bin/sh\n", "#!/bin/sh\nkill -TERM $$\n"))
    monkeypatch.setenv("SLURM_JOB_ID", "9")
    with pytest.raises(SystemExit) as exit_info:
        preemption.after_checkpoint()
    assert exit_info.value.code == 0
    assert fake_scontrol.read_text().split() == ["requeue", "9"]


def test_after_checkpoint_reports_failed_requeue(fake_scontrol, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("FAKE_RC", "1")
    with pytest.raises(SystemExit, match=r"scontrol requeue 7 failed \(fake error\)"):
        preemption.after_checkpoint()


class CountingTask:
    """A submitit task shaped like Hydra's launcher: resumable from a file, `checkpoint()` resubmits self."""

    def __init__(self, folder: Path, steps: int):
        self.folder, self.steps = folder, steps

    def __call__(self):
        preemption.install()
        ckpt = self.folder / "ckpt.txt"
        start = int(ckpt.read_text()) if ckpt.exists() else 0
        with open(self.folder / "starts.txt", "a") as f:
            f.write(f"{os.getpid()} {start}\n")
        total = 0
        for step in range(start, self.steps):
            if preemption.requested():
                ckpt.write_text(str(step))
                preemption.after_checkpoint()
            total += step
            time.sleep(0.02)
        return total + sum(range(start))

    def checkpoint(self):
        return submitit.helpers.DelayedSubmission(self)


@pytest.mark.slow
def test_submitit_local_job_checkpoints_requeues_and_resumes(tmp_path, monkeypatch):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    executor = submitit.LocalExecutor(folder=tmp_path / "submitit")
    executor.update_parameters(timeout_min=5)
    job = executor.submit(CountingTask(tmp_path, 150))
    starts = tmp_path / "starts.txt"
    deadline = time.time() + 60
    while not starts.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    pid = int(starts.read_text().split()[0])
    os.kill(pid, signal.SIGUSR2)  # what the local controller forwards before its time limit
    while not job.done() and time.time() < deadline:
        time.sleep(0.1)
    assert job.result() == sum(range(150)), job.stderr()
    runs = [line.split() for line in starts.read_text().splitlines()]
    assert len(runs) == 2 and runs[0][1] == "0", runs
    resumed_at = int(runs[1][1])
    assert 0 < resumed_at < 150
    assert (tmp_path / "ckpt.txt").read_text() == str(resumed_at)
    log = job.stdout() + job.stderr()
    assert "checkpointing at the next step boundary" in log and "Requeued job" in log, log
