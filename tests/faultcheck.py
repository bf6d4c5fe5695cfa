"""Shared checks of the fault tests (``tests/test_faults_*.py``): the one error line, two runs that ended
alike, the CLI in process, and a real tmpfs (root only; the tests skip with the reason otherwise)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from runners.cli import main


def one_error_line(stderr: str) -> str:
    """The only non-empty stderr line, an ``error:`` line; no traceback anywhere."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def cli(capsys, args: list[str]) -> tuple[int, str, str]:
    """``python -m runners.train ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def checkpoint_step(run_dir: Path) -> int:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["trainer"]["loop"]["step"]


def temporary_files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name.endswith(".tmp"))


def assert_same_run(ref: Path, out: Path) -> None:
    """``out`` ended exactly like ``ref``: result.json's metrics, every epoch row, the model's weights."""
    a, b = (json.loads((d / "result.json").read_text()) for d in (ref, out))
    assert a["status"] == b["status"] and a["metrics"] == b["metrics"] and a["doit"] == b["doit"]
    assert {k: a["timing"][k] for k in ("epochs_run", "steps")} == {
        k: b["timing"][k] for k in ("epochs_run", "steps")
    }
    rows = [
        [
            {k: v for k, v in json.loads(line).items() if k != "time_s"}
            for line in (d / "metrics.jsonl").open()
        ]
        for d in (ref, out)
    ]
    assert rows[0] == rows[1]
    weights = [torch.load(d / "checkpoint.pt", weights_only=True)["model"] for d in (ref, out)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert temporary_files(out) == []


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A real tmpfs of ``size`` at ``path`` (unmounted afterwards); skips unless root can mount one. Mounts:
    only in slow tests (the full suite), never in the quick one."""
    if os.geteuid() != 0:
        pytest.skip("a real full or read-only disk needs a tmpfs mount, which needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte with one file; return it (delete it to free space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for block in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    fh.write(b"\0" * block)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
    return filler
