"""Analysis on files written by the REAL runner (``python -m runners.train``, schema 2 via analysis.record).

Needs the runner that writes ``result.json`` through ``analysis.record`` (schema 2): fails until then.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis import record
from analysis.__main__ import main
from analysis.collect import load_results
from tests.conftest import FAST, run_cli

RUNS = {
    "sgdm": ["method=sgdm", "lr=0.05"],
    "diverged": ["method=sgd", "lr=1e8"],
    "doit": ["method=doit", "method.tau=5", "method.n_ini=2"],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, args in RUNS.items():
        done = run_cli([*FAST, *args, f"hydra.run.dir={root / name}"])
        assert (root / name / "result.json").is_file(), done.stderr[-2000:]
    return root


def test_every_runner_record_validates_and_loads(results):
    for name in RUNS:
        record.loads((results / name / "result.json").read_text())
    col = load_results(results)
    assert col.skipped == [] and len(col.runs) == len(RUNS)


def test_runner_records_carry_what_analysis_reads(results):
    runs = load_results(results).runs.set_index("method")
    sgdm = runs.loc["sgdm"]
    assert (sgdm["status"], sgdm["optimizer"], sgdm["lr"]) == ("complete", "sgdm", 0.05)
    assert json.loads(sgdm["params"])["momentum"] == 0.9  # the effective value, registry default filled in
    assert pd.isna(sgdm["space_grid"])
    doit = runs.loc["doit"]
    assert pd.isna(doit["lr"]) and pd.isna(doit["optimizer"])  # hyper is None for DOIT strategies
    grid = json.loads(doit["space_grid"])
    assert grid and all(isinstance(v, list) for hp in grid.values() for v in hp.values())
    assert (doit["initial"], doit["schedule"], doit["tau"], doit["n_ini"]) == ("weighted", "eq7", 5, 2)


def test_a_diverged_run_is_loaded_as_diverged(results):
    result = record.loads((results / "diverged" / "result.json").read_text())
    assert result.status == "diverged" and result.diverged_step is not None
    runs = load_results(results).runs
    assert (runs["status"] == "diverged").sum() == 1


def test_tables_and_figures_commands_on_runner_output(results, tmp_path):
    assert main(["tables", "--results", str(results), "--out", str(tmp_path / "tables"), "--all"]) == 0
    assert "1 of them diverged" in (tmp_path / "tables" / "README.md").read_text()
    assert main(["figures", "--results", str(results), "--out", str(tmp_path / "figures")]) == 0


def test_figure_11_matches_a_runner_written_run_to_its_grid_point(results):
    from analysis.figures import _in_grid

    sgdm = load_results(results).runs.set_index("method").loc["sgdm"]
    hyper = {"lr": sgdm["lr"], **json.loads(sgdm["params"])}
    assert _in_grid("sgdm", hyper, {"sgdm": {"lr": [0.1, 0.05], "momentum": [0.9]}})
    assert not _in_grid("sgdm", hyper, {"sgdm": {"lr": [0.1, 0.01], "momentum": [0.9]}})  # lr 0.05 not in it
    assert not _in_grid("sgdm", hyper, {"sgdm": {"lr": [0.05], "momentum": [0.5]}})
