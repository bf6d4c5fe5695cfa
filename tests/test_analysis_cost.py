"""Issue 18.7: the cost of the paper's tables for cluster users: the runs each needs (the experiment
configs' sweeps at scale paper) and estimated hours from the per-step times of the GPU runs in results/,
each cell saying whether it is measured, extrapolated or not measured."""

from __future__ import annotations

import math

import pytest

from analysis import cost, experiments, protocol, tables
from analysis.collect import load_results
from tests.conftest import REPO

GPU_RESULTS = REPO / "results" / "h200-resnet18-mnist-3ep"


@pytest.fixture(scope="module")
def timing() -> cost.Timing:
    return cost.measure(load_results(GPU_RESULTS))


@pytest.fixture(scope="module")
def by_column(timing):
    return cost.cells(timing).set_index(["table", "column"])


def test_runs_are_the_sweeps_of_each_table(by_column):
    table1 = by_column.loc["Table 1"]
    sweeps = len(experiments.points("table1_grid", "paper")) + len(
        experiments.points("table1_fixed", "paper")
    )
    assert sweeps == 5 * 3 * 4 * 2 * 3 + 5 * 4 * 2 * 3  # methods x lrs x datasets x models x seeds
    assert table1["runs"].sum() == sweeps
    assert by_column.loc[("Table 7", "mnist/resnet18"), "runs"] == 7 * 3  # Table 7's rows x 3 seeds
    assert cost.PAPER_TABLES == tuple(
        k for k in protocol.TABLES if k not in ("beyond", "beyond_ablations", "verdict", "one_run")
    )


def test_timing_is_the_median_per_step_of_the_gpu_runs(timing):
    runs = load_results(GPU_RESULTS).runs
    doit = runs[runs["method"] == "doit"]
    assert timing.per_step["doit"] == pytest.approx((doit["train_time_s"] / doit["steps"]).median())
    assert timing.runs["doit"] == 6 and timing.concurrent == 15
    assert any("NVIDIA H200" in line for line in timing.sources)


def test_cells_say_measured_extrapolated_or_not_measured(by_column, timing):
    mnist = by_column.loc[("Table 1", "mnist/resnet18")]
    assert mnist["basis"] == "measured per step"
    per_run = 100 * math.ceil(60_000 * 0.9 / 64)  # the paper's 100 epochs of 844 steps
    singles = sum(timing.per_step[m] * 3 for m in protocol.SINGLES)  # 3 lrs each
    fixed = sum(timing.per_step[m] for m in ("swats", "padam", "adabound", "agd", "doit"))
    assert mnist["run-hours (estimate)"] == pytest.approx(3 * per_run * (singles + fixed) / 3600)
    gpu = "GPU-hours, runs sharing a GPU as measured (estimate)"
    assert mnist[gpu] == pytest.approx(mnist["run-hours (estimate)"] / 15)
    assert by_column.loc[("Table 1", "cifar10/resnet18"), "basis"] == "extrapolated by step count from MNIST"
    assert by_column.loc[("Table 1", "usps/vit"), "basis"] == "not measured"
    assert math.isnan(by_column.loc[("Table 1", "usps/vit"), "run-hours (estimate)"])
    assert (
        "asgd, adamw, nadam, adamax, steplr, coslr: the median of the timed single optimizers"
        in (by_column.loc[("Table 4", "mnist/resnet18"), "basis"])
    )
    head = by_column.loc[("Table 6", "mnist/resnet18/head")]
    assert head["basis"] == "not measured" and head["runs"] == 30


def test_cpu_runs_time_nothing(finished_run):
    page = cost.render(load_results(finished_run.root), tables.load_paper())
    assert "No run of ResNet18 on MNIST on a GPU" in page
    assert "| measured per step" not in page and "| extrapolated" not in page


def test_the_tables_command_writes_the_cost_page(gpu_tables):
    page = (gpu_tables / "cost.md").read_text()
    assert page.startswith("# Cost of the paper's tables at the paper's settings (ESTIMATES)")
    assert "15 runs shared one GPU at a time" in page and "1,914-2,101 s" in page
    assert "(cost.md)" in (gpu_tables / "README.md").read_text()
