"""Issue 22: one run, no tuning. Each method of experiment=one_run, run once at its defaults, against the
best of the 15 tuning runs (one_run_grid at the CPU scales, table1_grid at scales paper and gpu) on the
same fresh seeds: mean ± std, difference, Welch p, bootstrap interval, wall-time ratio, 15 runs behind
the tuned best. On files the real runner wrote (tiny runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import experiments, protocol, render, tables
from analysis.collect import load_results
from analysis.labels import label
from tests.conftest import REPO, run_main

ONE_RUN = ("adam", "dadapt_adam", "doit_plus")  # a single optimizer, a tuning-free one, DOIT+
SEEDS = "seed=300,301"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("one_run")
    common = ["scale=embedded", "model=cnn", "epochs=1", SEEDS, f"hydra.sweep.dir={root}"]
    for experiment, sweep in (
        ("one_run_grid", ["method=adam", "lr=0.01,0.001"]),
        ("one_run", [f"method={','.join(ONE_RUN)}"]),
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
    return root


@pytest.fixture(scope="module")
def built(runs):
    (table,) = tables.build_all(protocol.ONE_RUN, load_results(runs).runs, tables.load_paper(), "embedded")
    return table


def test_each_one_run_method_against_the_tuned_best(built):
    diffs = built.diffs
    labels = [label(k) for k in protocol.ONE_RUN_METHODS if protocol.ONE_RUN_METHODS[k] in ONE_RUN]
    assert list(diffs["ours"]) == labels
    assert set(diffs["against"]) <= {"best baseline: Adam", "best baseline: SGD"}
    assert set(diffs["picked on"]) == {"val_acc"}
    assert (diffs["n ours"] == 2).all() and (diffs["n them"] == 2).all()
    assert (diffs["runs per seed behind them"] == 15).all()  # 5 single optimizers x 3 lrs
    assert (diffs["wall-time ratio (ours/them)"] > 0).all()
    assert diffs["95% CI low"].notna().all() and diffs["Welch p"].notna().all()


def test_rows_are_the_tuned_best_and_the_one_run_methods(built):
    assert list(built.wide.index) == [protocol.ONE_RUN.best_label] + [
        label(k) for k in protocol.ONE_RUN_METHODS
    ]
    cells = built.cells[built.cells["column"].str.startswith("digits_transfer/cnn")]
    cells = cells.set_index(["row", "metric"])
    best = cells.loc[(protocol.ONE_RUN.best_label, "test acc (%)")]
    assert best["n"] == 2 and best["selected_on"] == "val_acc"
    adam = cells.loc[("Adam, lr 0.001", "test acc (%)")]
    assert adam["lr"] == 0.001 and adam["n"] == 2  # one run per seed at Adam's default lr
    assert "Schedule-free AdamW" in built.wide.index  # not run here: a row of missing runs


def test_missing_runs_name_the_fresh_seeds_and_the_tuning_grid(built):
    assert any("experiment=one_run_grid scale=embedded" in c and "model=mlp" in c for c in built.missing)
    assert any(
        "experiment=one_run_grid" in c and "model=cnn" in c and c.endswith("seed=302,303,304")
        for c in built.missing
    )
    assert any("method=prodigy" in c and "seed=300,301,302,303,304" in c for c in built.missing)
    assert "wall-time" not in render.caption(built)  # the ratio lives in the diff table, one run vs one run


def test_seeds_are_fresh_at_the_cpu_scales_and_the_papers_on_a_gpu():
    for name in ("one_run", "one_run_grid"):
        for scale, seeds in protocol.ONE_RUN_SEEDS.items():
            assert tuple(int(s) for s in experiments.sweep(name, scale)["seed"]) == seeds, (name, scale)
    fresh = set(protocol.ONE_RUN_SEEDS["embedded"])
    for path in (REPO / "conf" / "experiment").glob("*.yaml"):
        if not path.stem.startswith("one_run"):
            for scale in ("paper", "embedded", "mnist"):
                swept = experiments.sweep(path.stem, scale).get("seed", [])
                assert not fresh & {int(s) for s in swept}, (path.stem, scale)


def test_at_the_gpu_scale_the_tuned_best_is_table1_grids():
    grid = [r for r in protocol.ONE_RUN.rows if r.grid]
    assert len(grid) == 5 and sum(len(r.lrs) for r in grid) == 15
    assert {r.experiment_at("gpu") for r in grid} == {"table1_grid"}
    assert {r.experiment_at("embedded") for r in grid} == {"one_run_grid"}
    assert experiments.sweep("one_run", "gpu")["dataset"] == ["mnist"]
