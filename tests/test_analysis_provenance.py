"""Issue 18.4: result folders from other machines carry their provenance (results/<name>/provenance.json),
tables print it (and each run's recorded env) in their caption, several result roots render together, and
the verdict table sets every method beside the single optimizer picked on validation and the paper."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis import protocol, provenance, render, tables
from analysis.__main__ import main
from analysis.collect import load_results
from analysis.labels import label
from tests.conftest import REPO

GPU_RESULTS = REPO / "results" / "h200-resnet18-mnist-3ep"


@pytest.fixture
def cpu_run(finished_run) -> Path:
    """One run the runner wrote here (its env records device cpu), in a folder of its own: the session's."""
    return finished_run.root


def test_the_gpu_folder_describes_every_run():
    col = load_results(GPU_RESULTS)
    assert len(col.runs) == 75 and col.skipped == []
    (key,) = col.runs["provenance"].unique()
    assert key == f"{GPU_RESULTS}/provenance.json"
    found = col.provenance[key]
    assert found.device == "cuda: NVIDIA H200" and found.concurrent_runs == 15
    assert found.commit.startswith("3bc8a8d")
    assert col.runs["device"].isna().all()  # written before env existed: the device comes from the file
    assert {provenance.device(r, col.provenance) for _, r in col.runs.iterrows()} == {"cuda: NVIDIA H200"}
    assert "commit 3bc8a8d" in (GPU_RESULTS / "README.md").read_text()


def test_a_recorded_env_wins_over_a_provenance_file(cpu_run, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(cpu_run, root)
    (root / "folder" / "provenance.json").write_text(
        json.dumps({"device": "cuda: X", "hardware": "a GPU box"})
    )
    col = load_results(root)
    run = col.runs.iloc[0]
    assert run["provenance"] == f"{root}/folder/provenance.json"
    assert provenance.device(run, col.provenance) == "cpu"
    lines = provenance.describe(col.runs, col.provenance)
    assert lines[0] == "device recorded by 1 of 1 runs: cpu (1 run)"
    assert any("a GPU box" in line for line in lines)


@pytest.mark.parametrize(
    "text, why",
    [
        ("{", "invalid provenance file"),
        ('{"device": "cpu"}', "hardware: expected a string"),
        ('{"device": "cpu", "hardware": "h", "gpus": 2}', "unknown keys gpus"),
        ('{"device": "cpu", "hardware": "h", "concurrent_runs": 0}', "concurrent_runs"),
    ],
)
def test_a_bad_provenance_file_is_listed_not_fatal(cpu_run, tmp_path, text, why):
    root = tmp_path / "copy"
    shutil.copytree(cpu_run, root)
    (root / "provenance.json").write_text(text)
    col = load_results(root)
    assert len(col.runs) == 1 and col.runs["provenance"].isna().all()
    assert [p for p, _ in col.skipped] == [f"{root}/provenance.json"] and why in col.skipped[0][1]


def test_several_roots_render_together(cpu_run, tmp_path):
    col = load_results(GPU_RESULTS, cpu_run)
    assert len(col.runs) == 76
    assert (
        main(["tables", "--results", str(GPU_RESULTS), "--results", str(cpu_run), "--out", str(tmp_path)])
        == 0
    )
    assert f"results: {GPU_RESULTS}, {cpu_run}; 76 runs" in (tmp_path / "README.md").read_text()


@pytest.fixture(scope="module")
def verdict():
    col = load_results(GPU_RESULTS)
    (built,) = tables.build_all(protocol.VERDICT, col.runs, tables.load_paper(), "gpu", files=col.provenance)
    return built


def test_the_verdict_rows_and_the_papers_numbers(verdict):
    wide = verdict.wide
    assert list(wide.index) == [
        protocol.VERDICT.best_label,
        "Adam",
        "SWATS",
        "Padam",
        "AdaBound",
        "AGD",
        "DOIT (ours)",
        "random",
        "cyclical",
        "DOIT, one lr per optimizer",
        "DOIT+ (beyond the paper)",
        "DOIT+2 (round 2: warm-up on the most conservative candidate)",
        "bandit (discounted UCB + backtracking)",
    ]
    paper = wide[("mnist/resnet18", "test acc (%)", "paper")]
    assert paper["DOIT (ours)"] == "99.51 ± 0.01" and paper["random"] == "98.33 ± 0.46"  # Tables 1 and 7
    assert paper[protocol.VERDICT.best_label] == "99.47 ± 0.05 (SGDM, the best on test)"
    best = verdict.cells[verdict.cells["row"] == protocol.VERDICT.best_label].iloc[0]
    assert best["n"] == 3 and best["selected_on"] == "val_acc" and "lr " in best["ours"]


def test_the_verdict_compares_every_row_with_the_picked_single(verdict):
    diffs = verdict.diffs
    assert set(diffs["against"].str.startswith("best baseline: ")) == {True}
    ran = [label(k) for k in protocol.VERDICT.contenders if k != "doit_plus2"]  # DOIT+2 did not run there
    assert list(diffs["ours"]) == [label("doit"), *ran]
    assert (diffs["runs per seed behind them"] == 15).all()


def test_the_verdict_has_the_doit_plus2_runs_of_beyond_fixed():
    """results/cpu-mnist-15ep: DOIT+2 ran as ``experiment=beyond_fixed method=doit_plus2``, on 5 seeds."""
    col = load_results(REPO / "results" / "cpu-mnist-15ep")
    (built,) = tables.build_all(
        protocol.VERDICT, col.runs, tables.load_paper(), "mnist", files=col.provenance
    )
    cells = built.cells.set_index("row")
    assert cells.loc[label("doit_plus2"), "n"] == 5 and cells.loc[label("doit_plus"), "n"] == 5
    assert label("doit_plus2") in set(built.diffs["ours"])
    assert "epochs 15 (paper: 100)" in render.caption(built)


def test_the_verdict_caption_says_what_ran_and_where(verdict):
    caption = render.caption(verdict)
    assert "epochs 3 (paper: 100); from scratch (paper: pre-trained)" in caption
    (line,) = verdict.provenance
    assert line.startswith(f"75 runs described by {GPU_RESULTS}/provenance.json: one NVIDIA H200 GPU")
    assert "15 runs at a time" in line and "commit 3bc8a8d" in line
