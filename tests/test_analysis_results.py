"""analysis: loading (broken files skipped), protocol (best lr), statistics and table rendering."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis import protocol, stats, tables
from analysis.__main__ import main
from analysis.collect import load_results


def make_result(root, name, *, experiment="table1_grid", scale="embedded", dataset="digits", model="cnn",
                mode="full", method="sgd", lr=0.01, seed=0, acc=90.0, status="complete", ablation="none",
                train_time=2.0, extra_run=None):
    run = {"experiment": experiment, "scale": scale, "dataset": dataset, "model": model, "mode": mode,
           "method": method, "optimizer": method if method not in ("doit", "random", "cyclical") else None,
           "lr": lr, "space": "paper5" if method == "doit" else None, "ablation": ablation, "variant": None,
           "seed": seed, "tau": 10, "n_ini": 5, "n_components": 2, "compression": "pca", "epochs": 3,
           "batch_size": 32, **(extra_run or {})}
    result = {"schema": 1, "status": status, "run": run,
              "metrics": {"final_test_acc": acc, "best_test_acc": acc + 1, "final_train_acc": acc + 2,
                          "final_train_loss": 0.1, "test_f1": None, "test_acc3": None, "test_acc5": None,
                          "val_acc": None},
              "timing": {"train_time_s": train_time, "wall_time_s": train_time + 1, "transfer_time_s": 0.5,
                         "controller_time_s": 0.1, "converged_epoch": 2, "converged_time_s": train_time / 2,
                         "target_acc": None, "time_to_target_s": None, "epochs_run": 3, "steps": 30},
              "doit": {"n_switches": 4, "n_cycles": 10, "share": {}, "omega_t": 0.0} if method == "doit" else None,
              "config": {"method": {"name": method, "lr": lr, "hyper": {}, "schedule": "eq7", "initial": "weighted"},
                         "space": {"name": "paper5", "grid": {"sgd": {"lr": [0.01]}}}}}
    d = root / name
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps(result))
    (d / "metrics.jsonl").write_text("\n".join(json.dumps({"epoch": e, "step": 10 * e, "train_loss": 1 / e,
                                                            "test_acc": acc - 3 + e}) for e in (1, 2, 3)))
    return d


def fill_table1(root, doit_acc=(95.0, 95.5, 96.0)):
    """Embedded table 1, digits/cnn column: sgd best at lr 0.1, adam best at 0.001, DOIT best overall."""
    acc = {("sgd", 0.1): 92.0, ("sgd", 0.01): 90.0, ("sgd", 0.001): 80.0, ("adam", 0.1): 70.0,
           ("adam", 0.01): 85.0, ("adam", 0.001): 93.0}
    for (method, lr), seed in itertools.product(acc, range(3)):
        make_result(root, f"{method}_{lr}_{seed}", method=method, lr=lr, seed=seed, acc=acc[(method, lr)] + seed * 0.1)
    for seed, a in enumerate(doit_acc):
        make_result(root, f"doit_{seed}", experiment="table1_fixed", method="doit", lr=None, seed=seed, acc=a,
                    train_time=2.5)


def test_load_skips_broken_partial_foreign_and_duplicate_files(tmp_path):
    good = make_result(tmp_path / "a", "run1")
    make_result(tmp_path / "b", "partial", status="running")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "result.json").write_text("{not json")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "result.json").write_text(json.dumps({"something": "else"}))
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "result.json").write_text(json.dumps({"schema": 2, "run": {}}))
    make_result(tmp_path / "f", "again")  # same identity as run1: a duplicate, the newer copy is kept
    col = load_results(tmp_path)
    assert len(col.runs) == 1
    reasons = " ".join(why for _, why in col.skipped)
    for word in ("partial", "corrupted", "foreign file: no 'run'", "schema 2", "duplicate"):
        assert word in reasons
    assert len(col.skipped) == 5
    assert col.runs.iloc[0]["path"] != str(good)


def test_load_empty_root(tmp_path):
    col = load_results(tmp_path)
    assert col.runs.empty and col.skipped == []


def test_tables_and_figures_on_a_root_with_only_broken_files(tmp_path):
    (tmp_path / "res" / "junk").mkdir(parents=True)
    (tmp_path / "res" / "junk" / "result.json").write_text("{")
    assert main(["tables", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "out")]) == 0
    assert "corrupted" in (tmp_path / "out" / "README.md").read_text()
    from analysis import figures  # the data-driven figures draw nothing, and do not fail, without runs

    runs = load_results(tmp_path / "res").runs
    assert figures.fig_curves(runs, tmp_path, "embedded") + figures.fig_switches(runs, tmp_path) == []
    assert figures.fig_sensitivity(runs, tmp_path) + figures.fig_space_growth(runs, tmp_path) == []


def test_best_lr_selects_on_test_without_validation_and_on_val_when_present(tmp_path):
    fill_table1(tmp_path)
    runs = load_results(tmp_path).runs
    spec = protocol.TABLES["table1"]
    column = spec.columns_at("embedded")[0]
    row = next(r for r in spec.rows if r.key == "sgd")
    cell = protocol.match_rows(runs, spec, row, column, "embedded")
    picked, lr, split = protocol.best_lr(cell)
    assert (lr, split, len(picked)) == (0.1, "final_test_acc", 3)
    cell = cell.copy()
    cell["val_acc"] = np.where(cell["lr"] == 0.001, 99.0, 50.0)
    assert protocol.best_lr(cell)[1:] == (0.001, "val_acc")


def test_build_table_aggregates_compares_and_lists_missing_runs(tmp_path):
    fill_table1(tmp_path)
    built = tables.build(protocol.TABLES["table1"], load_results(tmp_path).runs, tables.load_paper(), "embedded")
    cells = built.cells.set_index(["row", "column"])
    sgd = cells.loc[("SGD", "digits/cnn [paper: usps/resnet18]")]
    assert sgd["lr"] == 0.1 and sgd["n"] == 3
    assert sgd["mean"] == pytest.approx(92.1)
    assert sgd["paper"] == "96.1 ± 0.24"  # the paper's usps/ResNet18 cell beside our digits/CNN column
    assert cells.loc[("SGDM", "digits/cnn [paper: usps/resnet18]")]["ours"] == "—"
    diff = built.diffs.iloc[0]
    assert diff["best baseline"] == "Adam"
    assert diff["DOIT - best (pp)"] == pytest.approx(95.5 - 93.1)
    assert diff["Welch p"] == pytest.approx(sps.ttest_ind([95, 95.5, 96], [93, 93.1, 93.2], equal_var=False).pvalue)
    assert any("experiment=table1_grid_embedded" in c and "method=sgdm" in c and "lr=0.1" in c
               for c in built.missing)
    assert not any("model=cnn" in c and "method=sgd " in c for c in built.missing)  # complete cell
    assert any("model=mlp" in c and "method=sgd " in c and "-m " in c and "seed=0,1,2" in c for c in built.missing)
    extra = built.extras.iloc[0]
    assert extra["K defaults"] == 2  # sgd and adam at their default lrs (0.01, 0.001)
    assert extra["best of K"] == "Adam"


def test_write_renders_markdown_latex_csv(tmp_path):
    fill_table1(tmp_path / "res")
    built = tables.build(protocol.TABLES["table1"], load_results(tmp_path / "res").runs, tables.load_paper(),
                         "embedded")
    paths = tables.write(built, tmp_path / "out")
    md, tex = paths[0].read_text(), paths[1].read_text()
    assert "| row |" in md and "TEST split" in md and "Missing runs" in md
    assert "\\toprule" in tex and "\\bottomrule" in tex and "$\\pm$" in tex
    assert "paper" in paths[2].read_text().splitlines()[0]


def test_cli_tables_never_fails_on_broken_files(tmp_path, capsys):
    fill_table1(tmp_path / "res")
    (tmp_path / "res" / "junk").mkdir()
    (tmp_path / "res" / "junk" / "result.json").write_text("")
    assert main(["tables", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "junk" in err
    index = (tmp_path / "out" / "README.md").read_text()
    assert "table1_embedded.md" in index and "corrupted" in index


def test_cli_missing_results_dir_is_one_line_error(tmp_path, capsys):
    assert main(["tables", "--results", str(tmp_path / "nope")]) == 2
    assert "--results" in capsys.readouterr().err


def test_summarize_and_compare_match_numpy_and_scipy():
    s = stats.summarize([1.0, 2.0, None, float("nan"), 4.0])
    assert (s.mean, s.std, s.n) == (pytest.approx(7 / 3), pytest.approx(np.std([1, 2, 4], ddof=1)), 3)
    assert math.isnan(stats.summarize([5.0]).std)
    c = stats.compare([1.0, 2.0, 3.0], [0.0, 0.5, 0.4])
    # Welch by hand: t = 1.7 / sqrt(1/3 + 0.07/3) = 2.8466, Welch-Satterthwaite df = 2.2786,
    # two-sided p = I_{df/(df+t^2)}(df/2, 1/2) (regularized incomplete beta) = 0.08999
    assert c.p_value == pytest.approx(0.08999, abs=1e-4)
    assert c.ci_low <= c.diff <= c.ci_high
    assert math.isnan(stats.compare([1.0], [2.0, 3.0]).p_value)


def test_expected_best_of_matches_enumeration():
    values = [3.0, 1.0, 4.0, 1.5, 9.0]
    for m in range(1, 6):
        brute = np.mean([max(c) for c in itertools.combinations(values, m)])
        assert stats.expected_best_of(values, m) == pytest.approx(brute)
