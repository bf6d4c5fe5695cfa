"""The run directory: refuse a bad one, find a finished run, load the checkpoint, clear old artefacts.

``runners.train`` calls, in this order::

    rundir.prepare(out_dir)                       # create it, refuse a bad one, delete partial .tmp files
    if not cfg.resume:
        rundir.set_aside(out_dir)                 # everything of an earlier run -> out_dir/stale-<n>/
    done = rundir.finished_result(out_dir, config)   # a finished run's intact record, else None
    ckpt = None if done else rundir.load_checkpoint(out_dir, config)
    if done is None and ckpt is None:
        rundir.remove_stale(out_dir)              # a fresh start leaves no file of an earlier run

A problem the user must decide about (a corrupt checkpoint, another config in the same dir, a dir that
cannot be written) raises the runner's one-line config error naming ``hydra.run.dir``; a finished run
whose files are damaged is not an error: ``finished_result`` returns None and the run's files are
rebuilt from ``checkpoint.pt``.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from pathlib import Path

from analysis import record
from runners.schema import config_error

log = logging.getLogger("runners.rundir")

KEY = "hydra.run.dir"
# files of a run; the first four are the outputs of a finished run (remove_stale), checkpoint.pt and
# config.yaml its state and input
OUTPUTS = ("result.json", "metrics.jsonl", "switches.csv", "run.png")
ARTEFACTS = (*OUTPUTS, "config.yaml", "checkpoint.pt")
# keys of the composed config that may differ between a run and its resumption: how it reports and saves,
# and ``scales`` (what an experiment sweeps at each scale: the plan of a sweep, not a value of the run)
VOLATILE_KEYS = ("progress", "plot", "checkpoint_every_steps", "checkpoint_every_s", "resume", "scales")
_RESUME_HINT = "rerun with resume=false to move the old artefacts aside and start fresh"


def _is_tmp(name: str) -> bool:
    """A partial write of a killed run: ``.<artefact>.<random>.tmp`` (and the old ``.run.png.tmp.png``)."""
    if name == ".run.png.tmp.png":
        return True
    return (
        name.startswith(".")
        and name.endswith(".tmp")
        and any(name.startswith(f".{a}.") for a in (*ARTEFACTS, "checkpoint.prev.pt"))
    )


def prepare(out_dir: Path | str) -> None:
    """Create ``out_dir`` and delete partial temporary files; refuse an unusable dir with one line."""
    from runners.checks import check_run_dir  # the same checks the preflight runs before Hydra starts

    check_run_dir("" if out_dir is None else str(out_dir))
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise config_error(
            KEY, f"cannot create {out_dir} ({err.strerror or err}); choose a writable {KEY}"
        ) from None
    probe = out_dir / f".write-test.{os.getpid()}"
    try:
        probe.touch(exist_ok=True)
        probe.unlink()
    except OSError as err:
        raise config_error(
            KEY, f"{out_dir} is not writable ({err.strerror or err}); choose a writable {KEY}"
        ) from None
    for entry in out_dir.iterdir():
        if _is_tmp(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            log.info("deleted %s (a partial write of a killed run)", entry)


def comparable(config: dict) -> dict:
    """``config`` as ``result.json`` stores it (non-finite values as null), without ``VOLATILE_KEYS``."""
    return {k: record.strict(v) for k, v in config.items() if k not in VOLATILE_KEYS}


def check_same(stored: dict, config: dict, out_dir: Path, what: str) -> None:
    """One-line error unless ``stored`` and ``config`` agree outside ``VOLATILE_KEYS``."""
    if comparable(stored) != comparable(config):
        diff = sorted(
            k
            for k in set(stored) | set(config)
            if k not in VOLATILE_KEYS and record.strict(stored.get(k)) != record.strict(config.get(k))
        )
        raise config_error(
            KEY,
            f"{out_dir} holds {what} with a different config (differs in {', '.join(diff)}); "
            f"rerun with the same overrides, choose a new {KEY}, or rerun with resume=false to "
            "move the old artefacts aside",
        )


def _is_doit(config: dict) -> bool:
    method = config.get("method")
    return isinstance(method, dict) and method.get("kind") == "doit"


def _metrics_problem(path: Path, epochs: int) -> str | None:
    """Why ``metrics.jsonl`` is not the intact file of a run of ``epochs`` epochs (None: intact)."""
    if not path.is_file():
        return None if epochs == 0 else "missing"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return f"unreadable ({str(err)[:80]})"
    rows, problems = record.read_epochs(text)
    if problems:
        number, why = problems[0]
        return f"line {number} is no epoch record ({why[:80]})"
    if len(rows) != epochs:
        return f"{len(rows)} rows for {epochs} epochs"
    for i, row in enumerate(rows, 1):
        if row.epoch != i:
            return f"row {i} is not epoch {i}'s record"
    return None


def _switches_problem(path: Path, n_cycles: int) -> str | None:
    """Why ``switches.csv`` is not the intact file of ``n_cycles`` cycles (None: intact)."""
    from runners.results import SWITCHES_HEADER

    if not path.is_file():
        return "missing"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        return f"unreadable ({err})"
    if not rows or rows[0][: len(SWITCHES_HEADER)] != SWITCHES_HEADER:
        return "no switches.csv header"
    width = len(rows[0])
    if len(rows) - 1 != n_cycles:
        return f"{len(rows) - 1} rows for {n_cycles} cycles"
    for i, row in enumerate(rows[1:]):
        if len(row) != width or row[0] != str(i):
            return f"row {i + 1} is not cycle {i}"
    return None


def finished_result(out_dir: Path, config: dict):
    """The finished run's ``analysis.record.Result`` (status complete or diverged), or None.

    None unless ``result.json`` is a valid record of this config and ``metrics.jsonl`` (and, for DOIT
    strategies, ``switches.csv``) are intact; the caller then resumes or rebuilds from ``checkpoint.pt``.
    A valid record of a different config is an error (one line).
    """

    out_dir = Path(out_dir)
    path = out_dir / "result.json"
    if not path.is_file():
        return None
    try:
        result = record.loads(path.read_text(encoding="utf-8"))
    except (record.RecordError, UnicodeDecodeError, OSError) as err:
        log.warning("%s is not a valid record (%s); rebuilding it", path, str(err)[:160])
        return None
    check_same(result.config, config, out_dir, "a finished run")
    problem = _metrics_problem(out_dir / "metrics.jsonl", result.timing.epochs_run)
    if problem is None and (result.doit is not None or _is_doit(config)):
        n_cycles = result.doit.n_cycles if result.doit is not None else 0
        problem = _switches_problem(out_dir / "switches.csv", n_cycles)
        problem = problem and f"switches.csv: {problem}"
    else:
        problem = problem and f"metrics.jsonl: {problem}"
    if problem is not None:
        log.warning("%s of the finished run is damaged (%s); rebuilding the run's files", out_dir, problem)
        return None
    return result


def load_checkpoint(out_dir: Path, config: dict) -> dict | None:
    """``checkpoint.pt`` of this config (on CPU), or None if there is none.

    An unreadable file (truncated, empty, random, foreign) or one of another config is an error (one
    line naming the file and the way out): a dir holding a corrupt checkpoint never silently starts over.
    """
    from runners import checkpoint

    out_dir = Path(out_dir)
    path = out_dir / "checkpoint.pt"
    try:
        state = checkpoint.load(path)
    except checkpoint.Unreadable as err:
        raise config_error(KEY, f"checkpoint.pt in {out_dir} is unreadable ({err}); {_RESUME_HINT}") from None
    except OSError as err:
        raise config_error(
            KEY, f"checkpoint.pt in {out_dir} cannot be read ({err.strerror or err}); {_RESUME_HINT}"
        ) from None
    if state is not None:
        check_same(state["config"], config, out_dir, "a checkpoint")
    return state


def _present(out_dir: Path) -> list[Path]:
    return [
        p
        for p in sorted(out_dir.iterdir())
        if p.name in ARTEFACTS or p.name == "checkpoint.prev.pt" or _is_tmp(p.name)
    ]


def set_aside(out_dir: Path) -> Path | None:
    """``resume=false``: move every artefact of an earlier run into ``out_dir/stale-<n>/`` (n = 1, 2, ...).

    Returns the new folder, or None when there was nothing to move. Hydra's own files (``.hydra/``, the
    job log) stay. A job SLURM requeued (preemption, time limit) keeps its artefacts: it must resume.
    """
    out_dir = Path(out_dir)
    found = _present(out_dir)
    if int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0:  # a requeued job resumes its own checkpoint
        log.info("resume=false ignored: SLURM requeued this job (SLURM_RESTART_COUNT > 0)")
        return None
    if not found:
        return None
    taken = [int(p.name[6:]) for p in out_dir.glob("stale-*") if p.name[6:].isdigit()]
    dest = out_dir / f"stale-{max(taken, default=0) + 1}"
    dest.mkdir()
    for p in found:
        shutil.move(str(p), dest / p.name)
    log.warning("resume=false: moved %s of an earlier run to %s", ", ".join(p.name for p in found), dest)
    return dest


def remove_stale(out_dir: Path) -> list[str]:
    """A fresh start (no checkpoint): delete the outputs of an earlier run (result, metrics, switches, plot)."""
    out_dir = Path(out_dir)
    removed = []
    for name in OUTPUTS:
        p = out_dir / name
        if p.is_file() or p.is_symlink():
            p.unlink()
            removed.append(name)
    if removed:
        log.info("fresh start in %s: removed %s of an earlier run", out_dir, ", ".join(removed))
    return removed
