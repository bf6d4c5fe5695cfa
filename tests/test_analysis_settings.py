"""Issue 18.3: a table says what ran. Its caption lists every recorded setting that differs from the
experiment's paper setting, and runs of different settings never share a cell (one table per settings
group; one row per tau / n_ini). On files the real runner wrote (tiny runs) and the GPU runs in results/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis import labels, protocol, render, settings, tables
from analysis.__main__ import main
from analysis.collect import load_results
from tests.conftest import REPO, run_main

GPU_RESULTS = REPO / "results" / "h200-resnet18-mnist-3ep"
EMBEDDED = ["scale=embedded", "model=cnn", "seed=0", "progress=off", "plot=false"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Adam at epochs 1 and 2 (one Table 1 cell), DOIT at tau 5 and 10 (another), all written by the runner."""
    root = tmp_path_factory.mktemp("mixed")
    for name, args in (
        ("epochs", ["experiment=table1_grid", "method=adam", "lr=0.01", "epochs=1,2"]),
        ("tau", ["experiment=table1_fixed", "method=doit", "epochs=1", "method.tau=5,10"]),
    ):
        done = run_main(
            [
                "-m",
                *EMBEDDED,
                *args,
                f"hydra.sweep.dir={root}",
                f"hydra.sweep.subdir={name}_${{hydra.job.num}}",
            ]
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return root


def _adam_cells(built: tables.BuiltTable):
    cells = built.cells
    return cells[(cells["row"] == "Adam") & (cells["n"] > 0)]


def test_runs_of_different_epochs_never_share_a_cell(mixed):
    runs = load_results(mixed).runs
    spec = protocol.TABLES["table1"]
    with pytest.raises(ValueError, match="settings groups"):
        tables.build(spec, runs, tables.load_paper(), "embedded")
    built = tables.build_all(spec, runs, tables.load_paper(), "embedded")
    assert [b.setting["epochs"] for b in built] == [1, 2]
    assert [len(_adam_cells(b)) for b in built] == [1, 1]
    assert all(_adam_cells(b)["n"].tolist() == [1] for b in built)
    assert [b.stem for b in built] == ["table1_embedded_epochs-1", "table1_embedded_epochs-2"]
    first = render.caption(built[0])
    assert "epochs 1 (paper: 100)" in first and "batch size 32 (paper: 64)" in first
    assert "differ in epochs" in first and "epochs 2 (table1_embedded_epochs-2.md)" in first


def test_the_cli_writes_one_table_per_settings_group(mixed, tmp_path):
    assert main(["tables", "--results", str(mixed), "--out", str(tmp_path), "--scale", "embedded"]) == 0
    index = (tmp_path / "README.md").read_text()
    assert "(embedded, epochs 1)](table1_embedded_epochs-1.md)" in index
    assert "(embedded, epochs 2)](table1_embedded_epochs-2.md)" in index
    assert "epochs 2 (paper: 100)" in (tmp_path / "table1_embedded_epochs-2.md").read_text()


def test_a_cell_of_two_taus_shows_a_row_per_tau(mixed):
    runs = load_results(mixed).runs
    runs = runs[runs["epochs"] == 1]
    (built,) = tables.build_all(protocol.TABLES["table1"], runs, tables.load_paper(), "embedded")
    rows = [r for r in built.wide.index if r.startswith("DOIT")]
    assert rows == ["DOIT (ours) [tau 5, n_ini 5]", "DOIT (ours) [tau 10, n_ini 5]"]
    doit = built.cells[built.cells["row"].isin(rows) & (built.cells["n"] > 0)]
    assert doit["n"].tolist() == [1, 1]
    assert built.split_rows == ["DOIT (ours)"]
    caption = render.caption(built)
    assert "tau 5 (paper: 25; rows: DOIT (ours) [tau 5, n_ini 5])" in caption
    assert "n_ini 5 (paper: 50; rows:" in caption


def test_runner_records_give_the_settings_analysis_compares(mixed):
    run = load_results(mixed).runs.iloc[0]
    assert set(settings.of(run)) == set(settings.SETTINGS)
    assert settings.of(run)["pretrained"] is True and settings.of(run)["train_size"] is None


def test_deviations_name_the_rows_they_hold_for():
    paper = {"epochs": 100, "batch_size": 64, "pretrained": True, "train_size": None, "tau": 25, "n_ini": 50}
    single = dict(paper, epochs=3, tau=None, n_ini=None)
    doit = dict(paper, epochs=3, pretrained=False, n_ini=5)
    out = settings.deviations([("Adam", single, dict(paper, tau=None, n_ini=None)), ("DOIT", doit, paper)])
    assert out == [
        "epochs 3 (paper: 100)",
        "from scratch (paper: pre-trained; rows: DOIT)",
        "n_ini 5 (paper: 50; rows: DOIT)",
    ]
    assert settings.overrides({"epochs": 3, "pretrained": False, "tau": None}, paper) == (
        "epochs=3 model.pretrained=false"
    )


def test_gpu_runs_say_three_epochs_from_scratch(gpu_tables):
    md = (gpu_tables / "table1_gpu.md").read_text()
    caption = md.split("\n\n")[1]
    assert caption.startswith("Scale: gpu")
    assert "epochs 3 (paper: 100)" in caption and "from scratch (paper: pre-trained)" in caption
    missing = (gpu_tables / "one_run_gpu.md").read_text()  # the one-run methods: not in these 75 runs
    assert "python -m runners.train -m experiment=one_run scale=gpu dataset=mnist model=resnet18" in missing


def test_a_gpu_scale_column_exists_for_mnist_resnet18():
    assert "gpu" in protocol.SEEDS and "GPU" in labels.SCALE_NOTES["gpu"]
    for table in ("table1", "table7", "verdict", "one_run"):
        assert ("mnist", "resnet18", "full") in [
            c.runs["gpu"] for c in protocol.TABLES[table].columns_at("gpu")
        ]


def test_figure_8_draws_one_figure_per_settings_group(mixed, tmp_path):
    from analysis import figures

    written = figures.fig_curves(load_results(mixed).runs, tmp_path, "embedded")
    names = sorted(p.name for p in written if p.suffix == ".png")
    assert names == [
        "fig8_curves_embedded_digits_transfer_cnn_epochs-1.png",
        "fig8_curves_embedded_digits_transfer_cnn_epochs-2.png",
    ]


def test_seeds_outside_the_tables_protocol_are_named(tmp_path):
    """Read as the scale they recorded (paper), DOIT+ and the bandit ran on seeds 0-2, not the beyond
    table's 100-102."""
    copy = tmp_path / "gpu"
    shutil.copytree(GPU_RESULTS, copy)
    known = json.loads((copy / "provenance.json").read_text())
    del known["scale"]
    (copy / "provenance.json").write_text(json.dumps(known))
    runs = load_results(copy).runs
    assert set(runs["scale"]) == {"paper"}
    (built,) = tables.build_all(protocol.BEYOND, runs, tables.load_paper(), "paper")
    assert "seeds 0, 1, 2 (this table's: 100, 101, 102)" in render.caption(built)
    (verdict,) = tables.build_all(protocol.VERDICT, runs, tables.load_paper(), "paper")
    assert "seeds" not in " ".join(verdict.deviations)
