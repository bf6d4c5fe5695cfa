"""The run directory: bad dirs, corrupt artefacts, stale files, file modes.

Every file checked here was written by the real runner (``runners.train.main``, the CLI's entry, in this
process: a tiny DOIT run); tests damage copies of them. ``runners.rundir``'s functions are also called directly on those dirs.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
import torch
from conftest import RUN_ARGS, compose_train, run_main
from omegaconf import OmegaConf

from runners import rundir
from runners.schema import ConfigError

ARGS = RUN_ARGS
OUTPUTS = ("result.json", "metrics.jsonl", "switches.csv", "run.png", "config.yaml", "checkpoint.pt")


def _config(overrides=ARGS):
    cfg, _ = compose_train(list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.fixture
def finished(finished_run) -> Path:
    """The session's finished tiny DOIT run (written under umask 0o022): read only."""
    return finished_run.dir


@pytest.fixture
def run_dir(finished_run, tmp_path) -> Path:
    """A private copy of the finished run (modes and bytes preserved)."""
    return finished_run.copy(tmp_path / "run")


def _tmp_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name)


# ------------------------------------------------------------------------ modes and partial writes
def test_files_follow_the_umask(finished):
    for name in OUTPUTS:
        assert stat.S_IMODE((finished / name).stat().st_mode) == 0o644, name
    assert _tmp_files(finished) == []


def test_atomic_writers_follow_any_umask(tmp_path):
    from runners import checkpoint, results

    previous = os.umask(0o027)
    try:
        results.write_text(tmp_path / "a.txt", "x")
        checkpoint.save(tmp_path / "checkpoint.pt", {"a": 1})
    finally:
        os.umask(previous)
    for name in ("a.txt", "checkpoint.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert _tmp_files(tmp_path) == []


def test_prepare_creates_the_dir_and_deletes_partial_writes(tmp_path):
    out = tmp_path / "a" / "b"
    rundir.prepare(out)
    assert out.is_dir()
    partial = [
        ".checkpoint.pt.3f2a9c1d.tmp",
        ".result.json.0a1b2c3d.tmp",
        ".metrics.jsonl.x.tmp",
        ".switches.csv.y.tmp",
        ".run.png.tmp.png",
    ]
    kept = [".other.tmp", "notes.txt", "checkpoint.pt.tmp"]
    for name in partial + kept:
        (out / name).write_bytes(b"partial")
    rundir.prepare(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(kept)


@pytest.mark.parametrize("bad", ["", "   "])
def test_prepare_refuses_an_empty_dir(bad):
    with pytest.raises(ConfigError, match=r"^hydra\.run\.dir: is empty"):
        rundir.prepare(bad)


def test_prepare_refuses_a_dir_inside_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for target in (blocker, blocker / "run", blocker / "a" / "b"):
        with pytest.raises(ConfigError, match=r"^hydra\.run\.dir: .*a file, not a directory") as info:
            rundir.prepare(target)
        assert "\n" not in str(info.value)


def _prepare_as_other_user(path: Path) -> str:
    """``rundir.prepare(path)`` in a forked child without root's override of permissions: its outcome."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                rundir.prepare(path)
                msg = "ok"
            except Exception as err:  # report whatever happened
                msg = f"{type(err).__name__}: {err}"
            os.write(write, msg.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        out = fh.read()
    os.waitpid(pid, 0)
    return out


def test_prepare_refuses_an_unwritable_dir():
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        for target in (locked, locked / "run"):
            outcome = _prepare_as_other_user(target)
            assert outcome.startswith("ConfigError: hydra.run.dir: "), outcome
            assert "writable" in outcome and str(target) in outcome and "\n" not in outcome
    finally:
        shutil.rmtree(base)


# ------------------------------------------------------------------------ the checkpoint
def test_load_checkpoint_of_a_real_run(run_dir):
    state = rundir.load_checkpoint(run_dir, _config())
    assert state["trainer"]["loop"]["epoch"] == 1
    assert rundir.load_checkpoint(run_dir.parent / "nothing-here", _config()) is None


def _corrupt_checkpoint(path: Path, kind: str) -> None:
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "foreign":  # another program's state dict
        torch.save({"weight": torch.zeros(3, 3)}, path)
    elif kind == "pickle":  # needs more than weights_only
        torch.save(torch.nn.Linear(2, 2), path)


CORRUPTIONS = ["truncated", "empty", "random", "foreign", "pickle"]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_load_checkpoint_refuses_a_corrupt_file(run_dir, kind):
    _corrupt_checkpoint(run_dir / "checkpoint.pt", kind)
    with pytest.raises(ConfigError) as info:
        rundir.load_checkpoint(run_dir, _config())
    msg = str(info.value)
    assert msg.startswith(f"hydra.run.dir: checkpoint.pt in {run_dir} is unreadable ("), msg
    assert "resume=false" in msg and "\n" not in msg


def test_load_checkpoint_refuses_another_config(run_dir):
    with pytest.raises(ConfigError, match=r"^hydra\.run\.dir: .*different config \(differs in seed\)"):
        rundir.load_checkpoint(run_dir, _config([*ARGS, "seed=3"]))
    # display keys may change between a run and its resumption
    assert rundir.load_checkpoint(run_dir, _config([*ARGS, "progress=bar", "plot=false"])) is not None


# ------------------------------------------------------------------------ the finished record
def test_finished_result_of_a_real_run(run_dir):
    result = rundir.finished_result(run_dir, _config())
    assert result is not None and result.status == "complete"
    assert result.timing.epochs_run == 1 and result.doit is not None
    assert rundir.finished_result(run_dir.parent / "nothing-here", _config()) is None


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("result.json", "truncate"),
        ("result.json", "empty"),
        ("result.json", "random"),
        ("result.json", "foreign"),
        ("metrics.jsonl", "garbage"),
        ("metrics.jsonl", "missing"),
        ("metrics.jsonl", "extra row"),
        ("switches.csv", "garbage"),
        ("switches.csv", "missing"),
        ("switches.csv", "truncate"),
    ],
)
def test_finished_result_is_none_for_damaged_files(run_dir, name, damage):
    _damage(run_dir / name, damage)
    assert rundir.finished_result(run_dir, _config()) is None


def _damage(path: Path, how: str) -> None:
    text = path.read_text()
    if how == "truncate":
        path.write_text(text[: len(text) // 2])
    elif how == "empty":
        path.write_text("")
    elif how == "random":
        path.write_bytes(os.urandom(512))
    elif how == "foreign":  # valid JSON, not a record: a metrics row
        path.write_text((path.parent / "metrics.jsonl").read_text().splitlines()[0])
    elif how == "garbage":
        path.write_text("\x00garbage,\n{not json\n")
    elif how == "missing":
        path.unlink()
    elif how == "extra row":
        path.write_text(text + text.splitlines()[-1] + "\n")


def test_finished_result_refuses_another_config(run_dir):
    with pytest.raises(ConfigError, match=r"^hydra\.run\.dir: .*a finished run with a different config"):
        rundir.finished_result(run_dir, _config([*ARGS, "seed=3"]))


# ------------------------------------------------------------------------ set aside, remove stale
def test_set_aside_spares_a_requeued_slurm_job(run_dir, monkeypatch):
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert rundir.set_aside(run_dir) is None and (run_dir / "checkpoint.pt").exists()


def test_set_aside_moves_every_artefact(run_dir):
    (run_dir / ".result.json.ab.tmp").write_text("partial")
    first = rundir.set_aside(run_dir)
    assert first == run_dir / "stale-1"
    assert sorted(p.name for p in first.iterdir()) == sorted([*OUTPUTS, ".result.json.ab.tmp"])
    assert (run_dir / ".hydra").is_dir()  # Hydra's own files stay
    assert not any((run_dir / n).exists() for n in OUTPUTS)
    assert rundir.set_aside(run_dir) is None  # nothing left to move
    (run_dir / "checkpoint.pt").write_bytes(b"x")
    assert rundir.set_aside(run_dir) == run_dir / "stale-2"


def test_remove_stale_deletes_the_outputs_of_an_earlier_run(run_dir):
    assert sorted(rundir.remove_stale(run_dir)) == sorted(
        ["result.json", "metrics.jsonl", "switches.csv", "run.png"]
    )
    assert (run_dir / "checkpoint.pt").exists() and (run_dir / "config.yaml").exists()
    assert rundir.remove_stale(run_dir) == []


# ------------------------------------------------------------------------ the runner, end to end
@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_checkpoint_is_one_line_and_nonzero_exit(run_dir, kind):
    (run_dir / "result.json").unlink()  # an unfinished run: the checkpoint is needed
    _corrupt_checkpoint(run_dir / "checkpoint.pt", kind)
    proc = run_main([*ARGS, f"hydra.run.dir={run_dir}"])
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "checkpoint.pt in" in lines[0] and "unreadable" in lines[0] and "resume=false" in lines[0]
    assert not (run_dir / "result.json").exists()
    if kind == "truncated":  # the way out the message names
        fresh = run_main([*ARGS, "resume=false", f"hydra.run.dir={run_dir}"])
        assert fresh.returncode == 0, fresh.stderr
        assert (run_dir / "stale-1" / "checkpoint.pt").exists()
        assert rundir.finished_result(run_dir, _config()) is not None


def _epoch_rows(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s")
    return rows


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("result.json", "truncate"),
        ("result.json", "empty"),
        ("result.json", "foreign"),
        ("metrics.jsonl", "garbage"),
        ("switches.csv", "garbage"),
        ("switches.csv", "missing"),
    ],
)
def test_damaged_finished_run_is_rebuilt_on_rerun(finished, run_dir, name, damage):
    _damage(run_dir / name, damage)
    proc = run_main([*ARGS, f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr
    ref = json.loads((finished / "result.json").read_text())
    got = json.loads((run_dir / "result.json").read_text())
    for key in ("status", "metrics", "doit", "run"):
        assert got[key] == ref[key], key
    assert _epoch_rows(run_dir) == _epoch_rows(finished)
    assert (run_dir / "switches.csv").read_text() == (finished / "switches.csv").read_text()
    assert rundir.finished_result(run_dir, _config()) is not None
    assert _tmp_files(run_dir) == []


def test_fresh_start_removes_stale_switches(run_dir):
    # a DOIT run killed before its first checkpoint (epoch files written, no checkpoint, no result) ...
    (run_dir / "checkpoint.pt").unlink()
    (run_dir / "result.json").unlink()
    # ... and the dir reused for a single optimizer
    proc = run_main(["epochs=1", "progress=off", "plot=false", "method=sgd", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr
    assert not (run_dir / "switches.csv").exists()
    assert not (run_dir / "run.png").exists()  # plot=false: no figure of the DOIT run is left either
    assert json.loads((run_dir / "result.json").read_text())["run"]["method"] == "sgd"


def test_a_start_leaves_no_partial_files(run_dir):
    for name in (".checkpoint.pt.1234abcd.tmp", ".result.json.99.tmp", ".run.png.tmp.png"):
        (run_dir / name).write_bytes(b"partial write of a killed run")
    proc = run_main([*ARGS, f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr
    assert _tmp_files(run_dir) == []
