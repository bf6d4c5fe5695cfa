"""Writing an artefact fails: no space, an I/O error, a permission lost mid-run, a read-only disk.

Each ends with one ``error: cannot write <path>: <reason> (errno n); ...`` line and exit code 1; the last
good checkpoint stays intact, no temporary file is left, and rerunning the same command once the disk is
back resumes and ends exactly like an uninterrupted run. The faults come from a real tmpfs (root only) and
from the operating system calls of ``runners.results`` made to fail (everywhere).
"""

from __future__ import annotations

import errno
import os
import pickle
import signal
from pathlib import Path

import pytest
from conftest import run_cli
from faultcheck import (
    assert_same_run,
    checkpoint_step,
    cli,
    fill,
    one_error_line,
    remount,
    temporary_files,
    tmpfs,
)

from analysis.__main__ import main as analysis_main
from runners import checkpoint, results
from runners.cli import main
from runners.faults import Interrupted, OutOfMemory, WriteFailed, one_line
from runners.schema import ConfigError

ADAM = ["method=adam", "epochs=3", "checkpoint_every_steps=20", "progress=off", "plot=false"]
# experiment_name: `python -m analysis figures` draws Figure 9 from this run
DOIT = [
    "epochs=2",
    "checkpoint_every_steps=20",
    "method.tau=10",
    "method.n_ini=3",
    "progress=off",
    "plot=true",
    "experiment_name=fig9_case",
]
ADVICE = {
    errno.ENOSPC: "free space",
    errno.EIO: "check the disk",
    errno.EROFS: "make the file system writable",
    errno.EACCES: "restore write permission",
}


def _line(path: Path, code: int) -> str:
    return (
        f"error: cannot write {path}: {os.strerror(code)} (errno {code}); {ADVICE[code]} and rerun the same "
        "command to resume"
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """Uninterrupted runs of both settings."""
    refs = {}
    for name, args in (("adam", ADAM), ("doit", DOIT)):
        refs[name] = tmp_path_factory.mktemp("reference") / name
        assert main([*args, f"hydra.run.dir={refs[name]}"]) == 0
    return refs


class _FailingOs:
    """``os`` for ``runners.results``, whose ``call`` (open, fsync or replace) fails with ``code`` for the
    writes of ``name`` after the first ``after`` of them succeeded."""

    def __init__(self, call: str, code: int, name: str, after: int):
        self.call, self.code, self.name, self.left = call, code, name, after

    def __getattr__(self, attr: str):
        real = getattr(os, attr)
        if attr != self.call:
            return real

        def failing(*args, **kwargs):
            target = os.readlink(f"/proc/self/fd/{args[0]}") if attr == "fsync" else str(args[0])
            if not Path(target).name.startswith(f".{self.name}."):
                return real(*args, **kwargs)
            if self.left == 0:
                raise OSError(self.code, os.strerror(self.code), target)
            self.left -= 1
            return real(*args, **kwargs)

        return failing


@pytest.mark.parametrize(
    ("call", "code"),
    [("fsync", errno.ENOSPC), ("fsync", errno.EIO), ("open", errno.EROFS), ("replace", errno.EACCES)],
    ids=["no-space", "io-error", "read-only", "permission-lost"],
)
def test_failed_checkpoint_write_keeps_the_last_good_one(
    call, code, reference, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    monkeypatch.setattr(results, "os", _FailingOs(call, code, "checkpoint.pt", after=1))
    status, _, err = cli(capsys, [*ADAM, f"hydra.run.dir={out}"])
    assert status == 1
    assert one_error_line(err) == _line(out / "checkpoint.pt", code)
    assert checkpoint_step(out) == 20 and temporary_files(out) == []
    assert not (out / "result.json").exists()

    monkeypatch.setattr(results, "os", os)  # the disk is back
    assert cli(capsys, [*ADAM, f"hydra.run.dir={out}"])[0] == 0
    assert_same_run(reference["adam"], out)


@pytest.mark.parametrize("name", ["config.yaml", "metrics.jsonl", "switches.csv", "run.png", "result.json"])
def test_every_artefact_write_fails_with_one_line_and_resumes(name, reference, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(results, "os", _FailingOs("fsync", errno.ENOSPC, name, after=0))
    status, _, err = cli(capsys, [*DOIT, f"hydra.run.dir={out}"])
    assert status == 1
    assert one_error_line(err) == _line(out / name, errno.ENOSPC)
    assert not (out / name).exists() and temporary_files(out) == []

    monkeypatch.setattr(results, "os", os)
    assert cli(capsys, [*DOIT, f"hydra.run.dir={out}"])[0] == 0
    assert_same_run(reference["doit"], out)


@pytest.mark.slow
def test_a_run_on_a_full_96k_tmpfs_resumes_once_space_is_freed(tmp_path):
    """``epochs=2 method=adam`` with its run directory on a 96 KB tmpfs, then space is freed."""
    args = ["epochs=2", "method=adam", "progress=off"]
    with tmpfs(tmp_path / "disk", "96k") as disk:
        out = disk / "run"
        proc = run_cli([*args, f"hydra.run.dir={out}"])
        assert proc.returncode == 1
        assert one_error_line(proc.stderr) == _line(out / "checkpoint.pt", errno.ENOSPC)
        assert temporary_files(out) == [] and not (out / "result.json").exists()
        remount(disk, "size=8m")
        assert main([*args, f"hydra.run.dir={out}"]) == 0
        ref = tmp_path / "ref"
        assert main([*args, f"hydra.run.dir={ref}"]) == 0
        assert_same_run(ref, out)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_real_disk_fails_mid_run_and_the_rerun_resumes(fault, reference, tmp_path, capsys, monkeypatch):
    """After the first checkpoint the tmpfs fills up (torch.save reports it as a RuntimeError) or turns
    read-only; the first checkpoint survives, and the rerun on the freed disk ends like an uninterrupted run."""
    save, filler = checkpoint.save, []

    def save_then_break_the_disk(path, state):
        save(path, state)
        if not filler:
            filler.append(fill(path.parent.parent) if fault == "full" else None)
            if fault == "read-only":
                remount(path.parent.parent, "ro")

    # the job log goes to stdout only: a file open for writing would keep the tmpfs from turning read-only
    args = [*ADAM, "hydra/job_logging=stdout"]
    with tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "run"
        monkeypatch.setattr(checkpoint, "save", save_then_break_the_disk)
        status, _, err = cli(capsys, [*args, f"hydra.run.dir={out}"])
        code = errno.ENOSPC if fault == "full" else errno.EROFS
        assert status == 1
        assert one_error_line(err) == _line(out / "checkpoint.pt", code)
        assert checkpoint_step(out) == 20 and temporary_files(out) == []

        monkeypatch.setattr(checkpoint, "save", save)
        if fault == "full":
            filler[0].unlink()
        else:
            remount(disk, "rw")
        assert cli(capsys, [*args, f"hydra.run.dir={out}"])[0] == 0
        assert_same_run(reference["adam"], out)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["tables", "figures"])
def test_analysis_on_a_full_disk_is_one_line(command, reference, tmp_path, capsys):
    with tmpfs(tmp_path / "disk", "256k") as disk:
        fill(disk)
        code = analysis_main(
            [command, "--results", str(reference["doit"].parent), "--out", str(disk / "out")]
        )
        err = capsys.readouterr().err
        assert code == 1
        line = one_error_line(err)
        assert (
            line.startswith(f"error: cannot write {disk / 'out'}")
            and "No space left on device (errno 28)" in line
        )


def test_what_run_raises_is_one_line_with_its_exit_code_and_picklable():
    """The contract a caller of ``run`` (a work queue) relies on: ``one_line`` gives the line and exit code."""
    faults = {
        ConfigError("epochs: must be >= 1"): 2,
        WriteFailed("/r/checkpoint.pt", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))): 1,
        OutOfMemory("training step 3 (epoch 1)", "tried to allocate 2.00 GiB"): 1,
        Interrupted(signal.SIGINT, " at step 3"): 130,
        Interrupted(signal.SIGTERM): 143,
    }
    for err, code in faults.items():
        line, exit_code = one_line(err)
        assert exit_code == code and "\n" not in line and line == str(err)
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is type(err) and str(again) == str(err)
    assert isinstance(WriteFailed("/r/x", OSError(errno.EIO, "I/O error")), OSError)
    assert not isinstance(Interrupted(signal.SIGINT), Exception)
    assert one_line(ValueError("a bug")) is None
