"""The entry point as a subprocess on the embedded default (shrunk epochs): every output file, re-report."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from conftest import run_cli

from analysis.record import loads


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "run"
    proc = run_cli(["epochs=3", f"hydra.run.dir={out}"])
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_default_writes_every_file(default_run):
    out, proc = default_run
    for name in ("result.json", "metrics.jsonl", "switches.csv", "config.yaml", "checkpoint.pt", "run.png"):
        assert (out / name).stat().st_size > 0, name
    result = loads((out / "result.json").read_text())
    assert result.status == "complete" and result.hyper is None
    run = result.run
    assert (run.dataset, run.model, run.method, run.space, run.ablation, run.epochs, run.seed) == (
        "digits",
        "cnn",
        "doit",
        "paper15",
        "none",
        3,
        0,
    )
    assert (run.experiment, run.scale, run.tau, run.schedule) == (None, "embedded", 25, "eq7")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[-1]["step"] == result.timing.steps == 123
    assert result.metrics.final_test_acc == rows[-1]["test_acc"]
    assert result.metrics.best_test_acc == max(r["test_acc"] for r in rows)
    assert (
        0.0 <= result.metrics.final_test_acc <= 100.0
    )  # the paper's 15 candidates may collapse here (README)
    with open(out / "switches.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == result.doit.n_cycles == 5  # 123 steps / tau 25, cycles opened
    assert abs(sum(result.doit.share.values()) - 1.0) < 1e-9
    assert "acq[adam(lr=0.001)]" in table[0]
    assert "final test acc" in proc.stdout and "switches" in proc.stdout and "share" in proc.stdout
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["trainer"]["loop"]["epoch"] == 3
    assert (out / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finished_run_rereports(default_run):
    out, _ = default_run
    before = (out / "result.json").read_text()
    proc = run_cli(["epochs=3", f"hydra.run.dir={out}"])
    assert proc.returncode == 0, proc.stderr
    assert (out / "result.json").read_text() == before
    assert "final test acc" in proc.stdout


def test_other_config_in_same_dir_is_refused(default_run):
    out, _ = default_run
    proc = run_cli(["epochs=4", f"hydra.run.dir={out}"])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: hydra.run.dir:") and "epochs" in lines[0]
