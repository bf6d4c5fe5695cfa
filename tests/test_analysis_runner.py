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
from tests.conftest import FAST, run_main

RUNS = {
    "sgdm": ["method=sgdm", "lr=0.05"],
    "diverged": ["method=sgd", "lr=1e8"],
    "doit": ["method=doit", "method.tau=5", "method.n_ini=2"],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, args in RUNS.items():
        done = run_main([*FAST, *args, f"hydra.run.dir={root / name}"])
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


def test_runner_records_carry_settings_and_provenance(results):
    result = record.loads((results / "sgdm" / "result.json").read_text())
    assert (result.run.pretrained, result.run.train_size) == (False, None)
    assert result.env.device == "cpu" and result.env.torch
    assert result.env.commit is None or len(result.env.commit) == 40


def test_an_older_record_takes_pretrained_and_train_size_from_its_config(results):
    data = json.loads((results / "sgdm" / "result.json").read_text())
    del data["run"]["pretrained"], data["run"]["train_size"], data["env"]
    data["config"]["model"]["pretrained"], data["config"]["dataset"]["train_size"] = True, 500
    result = record.from_dict(data)
    assert (result.run.pretrained, result.run.train_size, result.env) == (True, 500, None)


def test_a_diverged_run_is_loaded_as_diverged(results):
    result = record.loads((results / "diverged" / "result.json").read_text())
    assert result.status == "diverged" and result.diverged_step is not None
    runs = load_results(results).runs
    assert (runs["status"] == "diverged").sum() == 1


def test_tables_and_figures_commands_on_runner_output(results, tmp_path, capsys):
    assert main(["tables", "--results", str(results), "--out", str(tmp_path / "tables"), "--all"]) == 0
    assert "1 of them diverged" in (tmp_path / "tables" / "README.md").read_text()
    capsys.readouterr()
    assert main(["figures", "--results", str(results), "--out", str(tmp_path / "figures")]) == 0
    # runs of no experiment feed no paper figure, and no toy results lie beside them: the command says so
    out, err = capsys.readouterr()
    assert "0 figure files" in out
    assert f"skipped {results / 'toys'}: no toy results (run: python -m runners.toys" in err
    assert not list((tmp_path / "figures").glob("*.png"))


def test_figure_11_matches_a_runner_written_run_to_its_grid_point(results):
    from analysis.figures import _in_grid

    sgdm = load_results(results).runs.set_index("method").loc["sgdm"]
    hyper = {"lr": sgdm["lr"], **json.loads(sgdm["params"])}
    assert _in_grid("sgdm", hyper, {"sgdm": {"lr": [0.1, 0.05], "momentum": [0.9]}})
    assert not _in_grid("sgdm", hyper, {"sgdm": {"lr": [0.1, 0.01], "momentum": [0.9]}})  # lr 0.05 not in it
    assert not _in_grid("sgdm", hyper, {"sgdm": {"lr": [0.05], "momentum": [0.5]}})


def test_beyond_table_compares_doit_plus_with_the_best_single_and_each_other_row(tmp_path):
    """The DOIT+ comparison on files the real runner wrote through the beyond_* experiments."""
    from analysis import protocol, tables

    common = ["scale=embedded", "model=cnn", "seed=100", "epochs=2", f"hydra.sweep.dir={tmp_path}/sweeps"]
    for experiment, sweep in (
        ("beyond_grid", ["method=adam", "lr=0.01,0.001"]),
        ("beyond_fixed", ["method=doit,doit_plus,bandit"]),
    ):
        done = run_main(
            [
                "-m",
                f"experiment={experiment}",
                *common,
                *sweep,
                f"hydra.sweep.subdir={experiment}_${{hydra.job.num}}",
            ]
        )
        assert done.returncode == 0, done.stderr[-2000:]
    built = tables.build(protocol.BEYOND, load_results(tmp_path).runs, tables.load_paper(), "embedded")
    diffs = built.diffs.set_index("against")
    assert set(diffs["ours"]) == {"DOIT+ (beyond the paper)"}
    assert list(diffs.index) == [
        "best baseline: Adam",
        "DOIT (ours)",
        "bandit (discounted UCB + backtracking)",
    ]
    assert diffs.loc["best baseline: Adam", "picked on"] == "val_acc"
    assert (diffs["wall-time ratio (ours/them)"] > 0).all()
    assert any("method=prodigy" in c and "seed=100,101,102,103,104" in c for c in built.missing)
