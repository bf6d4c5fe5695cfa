"""The entry point (``runners.train.main``, what ``python -m runners.train`` runs) on the embedded default with
shrunk settings: every output file, re-report, a different config refused. The session's finished run
(``tests/conftest.py``); the process itself (exit codes, one stderr line) is tested in test_runner_errors.py
and, for whole runs, in the slow kill-and-resume and sweep tests."""

from __future__ import annotations

import csv
import json

import torch
from conftest import run_main

from analysis.record import loads
from runners.queue.plan import LOG


def test_default_writes_every_file(finished_run):
    out, proc = finished_run.dir, finished_run.proc
    for name in ("result.json", "metrics.jsonl", "switches.csv", "config.yaml", "checkpoint.pt", "run.png"):
        assert (out / name).stat().st_size > 0, name
    # Hydra's job log, by that name (the queue and the SLURM requeue read it); pytest's log capture keeps it
    # empty in this process
    assert (out / LOG).is_file()
    result = loads((out / "result.json").read_text())
    assert result.status == "complete" and result.hyper is None
    run = result.run
    # the embedded default, but for the shrunk keys of RUN_ARGS (epochs 1, tau 10, n_ini 3)
    assert (run.dataset, run.model, run.method, run.space, run.ablation, run.epochs, run.seed) == (
        "digits",
        "cnn",
        "doit",
        "paper15",
        "none",
        1,
        0,
    )
    assert (run.experiment, run.scale, run.tau, run.n_ini, run.schedule) == (None, "embedded", 10, 3, "eq7")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1] and rows[-1]["step"] == result.timing.steps == 41
    assert result.metrics.final_test_acc == rows[-1]["test_acc"]
    assert result.metrics.best_test_acc == max(r["test_acc"] for r in rows)
    assert (
        0.0 <= result.metrics.final_test_acc <= 100.0
    )  # the paper's 15 candidates may collapse here (README)
    with open(out / "switches.csv") as fh:
        table = list(csv.DictReader(fh))
    # 41 steps in cycles of 10: 5 opened, one fewer for each cycle rolled back (its update is skipped)
    assert len(table) == result.doit.n_cycles == 5 - result.doit.recovered_cycles
    assert abs(sum(result.doit.share.values()) - 1.0) < 1e-9
    assert "acq[adam(lr=0.001)]" in table[0]
    assert "final test acc" in proc.stdout and "switches" in proc.stdout and "share" in proc.stdout
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["trainer"]["loop"]["epoch"] == 1
    assert (out / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finished_run_rereports(finished_run, tmp_path):
    out = finished_run.copy(tmp_path / "run")
    before = (out / "result.json").read_text()
    proc = run_main([*finished_run.args, f"hydra.run.dir={out}"])
    assert proc.returncode == 0, proc.stderr
    assert (out / "result.json").read_text() == before
    assert "final test acc" in proc.stdout


def test_other_config_in_same_dir_is_refused(finished_run, tmp_path):
    out = finished_run.copy(tmp_path / "run")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir())
    proc = run_main([*finished_run.args, "epochs=2", f"hydra.run.dir={out}"])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: hydra.run.dir:") and "epochs" in lines[0]
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir()) == before
