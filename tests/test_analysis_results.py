"""analysis: loading (broken files skipped), protocol (best lr), statistics and table rendering."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from analysis import protocol, record, render, selection, stats, tables
from analysis.__main__ import main
from analysis.collect import load_results
from doit import optimizers

SWITCHING = ("doit", "random", "cyclical")
LRS = [0.1, 0.01, 0.001]
# DOIT's space (paper15): every optimizer at the lr grid, so no lr in it is "the" default of an optimizer
GRID15 = {o: {"lr": LRS} for o in ("sgd", "sgdm", "adagrad", "rmsprop", "adam")}


RUN = {
    "experiment": "table1_grid",
    "scale": "embedded",
    "dataset": "digits_transfer",
    "model": "cnn",
    "mode": "full",
    "seed": 0,
}
DOIT_RUN = {
    "space": "paper15",
    "tau": 10,
    "n_ini": 5,
    "n_components": 2,
    "compression": "pca",
    "initial": "weighted",
}


def record_of(
    *,
    method="sgd",
    lr=0.01,
    acc=90.0,
    status="complete",
    train_time=2.0,
    params=None,
    val_acc=None,
    space_grid=None,
    **run,
) -> record.Result:
    """A ``record.Result`` as the runner builds it: DOIT strategies carry ``run.space_grid``, the others
    ``hyper`` (the effective optimizer settings: registry defaults, then ``params``); ``run``: RunInfo fields."""
    switching = method in SWITCHING
    doit_run = {**DOIT_RUN, "space_grid": space_grid or GRID15, "schedule": "eq7"} if switching else {}
    run = record.RunInfo(**{**RUN, **doit_run, **run}, method=method, epochs=3, batch_size=32)
    hyper = None
    if not switching:
        defaults = {k: v for k, v in optimizers.info(method).defaults.items() if k != "lr"}
        hyper = record.Hyper(optimizer=method, lr=lr, params={**defaults, **(params or {})})
    diverged = status == "diverged"
    return record.Result(
        status=status,
        run=run,
        hyper=hyper,
        diverged_step=12 if diverged else None,
        metrics=record.Metrics(
            final_test_acc=acc,
            best_test_acc=None if acc is None else min(acc + 1, 100),
            final_train_acc=None if acc is None else min(acc + 2, 100),
            final_train_loss=0.1,
            val_acc=val_acc,
        ),
        timing=record.Timing(
            train_time_s=train_time,
            wall_time_s=train_time + 1,
            epochs_run=3,
            steps=30,
            transfer_time_s=0.5,
            controller_time_s=0.1,
            converged_epoch=2,
            converged_time_s=train_time / 2,
        ),
        doit=record.DoitSummary(n_switches=4, n_cycles=10, share={}, omega_t=0.0) if switching else None,
    )


def write_result(root, name, result: record.Result, curves: bool = True):
    """``root/name/result.json`` written by the record's own writer (``record.dumps``), and metrics.jsonl."""
    d = root / name
    d.mkdir(parents=True)
    (d / "result.json").write_text(record.dumps(result))
    acc = result.metrics.final_test_acc or 10.0
    if curves:
        (d / "metrics.jsonl").write_text(
            "\n".join(
                json.dumps({"epoch": e, "step": 10 * e, "train_loss": 1 / e, "test_acc": acc - 3 + e})
                for e in (1, 2, 3)
            )
        )
    return d


def make_result(root, name, **kw):
    return write_result(root, name, record_of(**kw))


def fill_table1(root, doit_acc=(95.0, 95.5, 96.0)):
    """Embedded table 1, digits/cnn column: sgd best at lr 0.1, adam best at 0.001, DOIT best overall."""
    acc = {
        ("sgd", 0.1): 92.0,
        ("sgd", 0.01): 90.0,
        ("sgd", 0.001): 80.0,
        ("adam", 0.1): 70.0,
        ("adam", 0.01): 85.0,
        ("adam", 0.001): 93.0,
    }
    for (method, lr), seed in itertools.product(acc, range(3)):
        make_result(
            root, f"{method}_{lr}_{seed}", method=method, lr=lr, seed=seed, acc=acc[(method, lr)] + seed * 0.1
        )
    for seed, a in enumerate(doit_acc):
        make_result(
            root, f"doit_{seed}", experiment="table1_fixed", method="doit", seed=seed, acc=a, train_time=2.5
        )


def _reasons(col) -> dict:
    return {
        Path(p).parent.name if Path(p).name == "result.json" else Path(p).name: why for p, why in col.skipped
    }


def test_load_skips_broken_partial_foreign_and_duplicate_files(tmp_path):
    good = make_result(tmp_path / "a", "run1")
    bad = {
        "corrupted": "{not json",
        "empty": "",
        "foreign": json.dumps({"something": "else"}),
        "schema1": json.dumps({"schema": 1, "run": {}}),
        "partial": record.dumps(record_of()).replace('"complete"', '"running"'),
    }
    for name, text in bad.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(text)
    make_result(tmp_path / "f", "again")  # same identity as run1: a duplicate, the newer copy is kept
    col = load_results(tmp_path)
    assert len(col.runs) == 1 and col.runs.iloc[0]["path"] != str(good)
    why = _reasons(col)
    assert "not JSON" in why["corrupted"] and "not JSON" in why["empty"]
    assert "schema None" in why["foreign"] and "schema 1" in why["schema1"]
    assert "status: 'running' is not one of complete, diverged" in why["partial"]
    assert "duplicate run" in why["run1"]
    assert len(col.skipped) == 6


INVALID = [
    (
        lambda d: d["metrics"].update(final_test_acc=150.0),
        "metrics.final_test_acc: 150.0 is outside [0, 100]",
    ),
    (lambda d: d["metrics"].update(best_test_acc=-1), "metrics.best_test_acc: -1.0 is outside [0, 100]"),
    (
        lambda d: d["metrics"].update(final_test_acc="93.1"),
        "metrics.final_test_acc: expected a number, got str",
    ),
    (
        lambda d: d["metrics"].update(final_test_acc=True),
        "metrics.final_test_acc: expected a number, got bool",
    ),
    (lambda d: d.update(run=5), "run: expected an object, got int"),
    (lambda d: d.update(metrics="x"), "metrics: expected an object, got str"),
    (lambda d: d.update(hyper=[]), "hyper: expected an object, got list"),
    (lambda d: d["run"].update(seed="0"), "run.seed: expected an integer, got str"),
    (lambda d: d["run"].pop("dataset"), "run.dataset: missing"),
    (lambda d: d["run"].update(colour="red"), "run: unknown keys colour"),
    (lambda d: d["metrics"].update(final_test_acc=None), "final_test_acc: missing in a complete run"),
    (lambda d: d["run"].update(space_grid={"sgd": [0.1]}), "run.space_grid.sgd: expected an object"),
    (
        lambda d: d["run"].update(space_grid={"sgd": {"lr": "0.1"}}),
        "run.space_grid.sgd.lr: expected a non-empty",
    ),
    (lambda d: d.update(status="done"), "status: 'done' is not one of"),
    ([], "top level: expected an object, got list"),
]


def _write_invalid(root: Path, name: str, edit) -> None:
    data = record.to_dict(record_of())
    if callable(edit):
        edit(data)
    else:
        data = edit
    (root / name).mkdir(parents=True)
    (root / name / "result.json").write_text(json.dumps(data))


@pytest.mark.parametrize(("edit", "reason"), INVALID)
def test_invalid_records_are_listed_with_the_field_and_skipped(tmp_path, edit, reason):
    make_result(tmp_path, "good", seed=1)
    _write_invalid(tmp_path, "bad", edit)
    col = load_results(tmp_path)
    assert len(col.runs) == 1
    assert reason in _reasons(col)["bad"], _reasons(col)["bad"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"schema": 2, "metrics": {"final_test_acc": NaN}}', "not strict JSON: bare NaN"),
        ('{"schema": 2, "metrics": {"final_test_acc": Infinity}}', "not strict JSON: bare Infinity"),
        ('{"schema": 2, "metrics": {"final_test_acc": 1e400}}', "is not finite"),
        ("[" * 100000 + "]" * 100000, "invalid record: unreadable: RecursionError"),
        ('"final_test_acc": 1' + "0" * 400, "invalid record: unreadable: OverflowError"),
        ('"seed": 1' + "0" * 5000, "invalid record: unreadable: ValueError: Exceeds the limit"),
        ('"dataset": "\\ud800"', "lone surrogate"),
    ],
)
def test_non_finite_and_pathological_json_is_listed(tmp_path, text, reason):
    data = record.to_dict(record_of())
    if "1e400" in text:
        text = json.dumps(data).replace('"final_test_acc": 90.0', '"final_test_acc": 1e400')
    elif not text.startswith(("{", "[")):  # replace one field of a valid record
        key = text.split(":")[0]
        text = re.sub(key + r": [^,]+", lambda _: text, json.dumps(data), count=1)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "result.json").write_text(text)
    col = load_results(tmp_path)
    assert col.runs.empty and reason in _reasons(col)["bad"]


def test_binary_fifo_and_link_loops_are_listed_never_hang(tmp_path):
    make_result(tmp_path, "good")
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "result.json").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\xff")
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "result.json").write_bytes('{"run": "é"}'.encode("latin-1"))
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "result.json")
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "result.json").symlink_to(tmp_path / "self" / "result.json")
    (tmp_path / "dangling").mkdir()
    (tmp_path / "dangling" / "result.json").symlink_to(tmp_path / "nowhere.json")
    (tmp_path / "good" / "loop").symlink_to(tmp_path)  # a directory link back to the root
    (tmp_path / "alias").symlink_to(tmp_path / "good")  # a second way into a directory
    signal.alarm(20)  # a blocking open of the FIFO would hang here
    try:
        col = load_results(tmp_path)
    finally:
        signal.alarm(0)
    assert len(col.runs) == 1
    reasons = {str(Path(p).relative_to(tmp_path)): why for p, why in col.skipped}
    assert reasons["binary/result.json"] == "binary file (NUL bytes)"
    assert reasons["latin1/result.json"].startswith("not UTF-8 text")
    assert reasons["fifo/result.json"] == "not a regular file (FIFO, device or socket)"
    assert reasons["self/result.json"].startswith("link loop")
    assert reasons["dangling/result.json"].startswith("broken link")
    assert "already searched" in reasons["good/loop"] and "already searched" in reasons["alias"]
    assert len(col.skipped) == 7


def test_a_linked_result_file_is_read(tmp_path):
    d = make_result(tmp_path / "elsewhere", "run")
    (tmp_path / "res" / "linked").mkdir(parents=True)
    (tmp_path / "res" / "linked" / "result.json").symlink_to(d / "result.json")
    col = load_results(tmp_path / "res")
    assert len(col.runs) == 1 and col.skipped == []


def test_rows_are_the_record_fields_and_config_is_never_read(tmp_path):
    result = record_of(method="sgdm", lr=0.1, params={"weight_decay": 1e-3})
    result.config = {"method": {"lr": 999.0, "hyper": {"momentum": 0.1}}, "space": {"name": "bogus"}}
    write_result(tmp_path, "run", result)
    row = load_results(tmp_path).runs.iloc[0]
    assert (row["lr"], row["optimizer"], row["status"]) == (0.1, "sgdm", "complete")
    assert json.loads(row["params"]) == {
        "momentum": 0.9,
        "dampening": 0,
        "weight_decay": 1e-3,
        "nesterov": False,
    }
    assert "config" not in row.index
    import dataclasses

    fields = {
        f.name
        for cls in (record.RunInfo, record.Hyper, record.Metrics, record.Timing, record.DoitSummary)
        for f in dataclasses.fields(cls)
    }
    assert fields <= set(row.index)


def test_load_empty_root(tmp_path):
    col = load_results(tmp_path)
    assert col.runs.empty and col.skipped == []


def test_tables_and_figures_on_a_root_with_only_broken_files(tmp_path):
    (tmp_path / "res" / "junk").mkdir(parents=True)
    (tmp_path / "res" / "junk" / "result.json").write_text("{")
    assert main(["tables", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "out")]) == 0
    assert "not JSON" in (tmp_path / "out" / "README.md").read_text()
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
    cell = selection.match_rows(runs, spec, row, column, "embedded")
    picked, lr, split = selection.best_lr(cell)
    assert (lr, split, len(picked)) == (0.1, "final_test_acc", 3)
    cell = cell.copy()
    cell["val_acc"] = np.where(cell["lr"] == 0.001, 99.0, 50.0)
    assert selection.best_lr(cell)[1:] == (0.001, "val_acc")


def test_best_baseline_is_picked_on_validation_and_reported_on_test(tmp_path):
    fill_table1(tmp_path)  # on test, Adam (93.1) is the best baseline ...
    runs = load_results(tmp_path).runs
    runs["val_acc"] = np.where((runs["method"] == "sgd") & (runs["lr"] == 0.1), 99.0, 50.0)
    built = tables.build(protocol.TABLES["table1"], runs, tables.load_paper(), "embedded")
    diff = built.diffs.iloc[0]  # ... on validation it is SGD, whose test accuracy the difference uses
    assert (diff["against"], diff["picked on"]) == ("best baseline: SGD", "val_acc")
    assert diff["diff (pp)"] == pytest.approx(95.5 - 92.1)


def test_build_table_aggregates_compares_and_lists_missing_runs(tmp_path):
    fill_table1(tmp_path)
    built = tables.build(
        protocol.TABLES["table1"], load_results(tmp_path).runs, tables.load_paper(), "embedded"
    )
    cells = built.cells.set_index(["row", "column"])
    sgd = cells.loc[("SGD", "digits_transfer/cnn [paper: usps/resnet18]")]
    assert sgd["lr"] == 0.1 and sgd["n"] == 3
    assert sgd["mean"] == pytest.approx(92.1)
    assert sgd["paper"] == "96.1 ± 0.24"  # the paper's usps/ResNet18 cell beside our digits/CNN column
    assert cells.loc[("SGDM", "digits_transfer/cnn [paper: usps/resnet18]")]["ours"] == "—"
    diff = built.diffs.iloc[0]
    assert (diff["ours"], diff["against"]) == ("DOIT (ours)", "best baseline: Adam")
    assert diff["diff (pp)"] == pytest.approx(95.5 - 93.1)
    assert diff["Welch p"] == pytest.approx(
        sps.ttest_ind([95, 95.5, 96], [93, 93.1, 93.2], equal_var=False).pvalue
    )
    assert any(
        "experiment=table1_grid scale=embedded" in c and "method=sgdm" in c and "lr=0.1" in c
        for c in built.missing
    )
    # 5 seeds at the embedded scale: the cnn cell has seeds 0-2 of each lr, the mlp cell none
    sgd_cnn = [c for c in built.missing if "model=cnn" in c and "method=sgd " in c]
    assert len(sgd_cnn) == 3 and all(c.endswith(" seed=3,4") for c in sgd_cnn)
    assert any(
        "model=mlp" in c and "method=sgd " in c and "-m " in c and c.endswith("seed=0,1,2,3,4")
        for c in built.missing
    )
    extra = built.extras.iloc[0]
    # sgd and adam at their registry default lrs (0.01, 0.001), not DOIT's 3-lr grid (GRID15)
    assert extra["K defaults"] == 2
    assert extra["best of K"] == "Adam" and extra["best-of-K acc"] == pytest.approx(93.1)


def test_best_of_k_defaults_use_the_registry_default_lr(tmp_path):
    """RMSprop's registry default is 0.01 (PyTorch's): its lr-0.01 runs are the default, not 0.001."""
    assert tables.default_lrs() == {
        "sgd": 0.01,
        "sgdm": 0.01,
        "adagrad": 0.01,
        "rmsprop": 0.01,
        "adam": 0.001,
    }
    for lr, seed in itertools.product(LRS, range(3)):
        make_result(tmp_path, f"rms_{lr}_{seed}", method="rmsprop", lr=lr, seed=seed, acc=80.0 + 10 * lr)
    for seed in range(3):
        make_result(tmp_path, f"doit_{seed}", experiment="table1_fixed", method="doit", seed=seed, acc=95.0)
    built = tables.build(
        protocol.TABLES["table1"], load_results(tmp_path).runs, tables.load_paper(), "embedded"
    )
    extra = built.extras.iloc[0]
    assert (extra["K defaults"], extra["best of K"]) == (1, "RMSprop")
    assert extra["best-of-K acc"] == pytest.approx(80.1)  # lr 0.01; the best lr (0.1) would be 81


def test_write_renders_markdown_latex_csv(tmp_path):
    fill_table1(tmp_path / "res")
    built = tables.build(
        protocol.TABLES["table1"], load_results(tmp_path / "res").runs, tables.load_paper(), "embedded"
    )
    paths = render.write(built, tmp_path / "out")
    md, tex = paths[0].read_text(), paths[1].read_text()
    assert "| row |" in md and "TEST split" in md and "Missing runs" in md
    assert "\\toprule" in tex and "\\bottomrule" in tex and "$\\pm$" in tex
    assert "selected on: final\\_test\\_acc" in tex and "--select-on auto" in tex
    head, *rows = paths[2].read_text().splitlines()
    assert "paper" in head and "selected_on" in head and any("final_test_acc" in r for r in rows)


def test_cli_tables_never_fails_on_broken_files(tmp_path, capsys):
    fill_table1(tmp_path / "res")
    (tmp_path / "res" / "junk").mkdir()
    (tmp_path / "res" / "junk" / "result.json").write_text("")
    for i, (edit, _) in enumerate(INVALID):  # every invalid record of the loader's test, listed and skipped
        _write_invalid(tmp_path / "res", f"bad{i}", edit)
    make_result(tmp_path / "res", "adhoc", experiment=None, method="adam", status="diverged", acc=None)
    for seed in range(2):  # a table whose only runs diverged is still written
        make_result(
            tmp_path / "res",
            f"t7_{seed}",
            experiment="table7_strategies",
            method="random",
            seed=seed,
            status="diverged",
            acc=None,
        )
    assert main(["tables", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "junk" in err
    assert all(f"bad{i}/result.json" in err for i in range(len(INVALID))), err
    index = (tmp_path / "out" / "README.md").read_text()
    assert "table1_embedded.md" in index and "not JSON" in index and "--select-on auto" in index
    assert "24 runs, 3 of them diverged" in index
    assert "- experiment=- scale=embedded dataset=digits_transfer model=cnn method=adam: 1" in index
    assert "table7_embedded.md" in index
    assert "diverged (n=2)" in (tmp_path / "out" / "table7_embedded.md").read_text()


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


def _sgd_cell(runs):
    spec = protocol.TABLES["table1"]
    row = next(r for r in spec.rows if r.key == "sgd")
    return selection.match_rows(runs, spec, row, spec.columns_at("embedded")[0], "embedded")


def test_diverged_runs_never_average_and_never_win_the_lr_pick(tmp_path):
    fill_table1(tmp_path)
    for seed in range(3):  # lr 1.0 diverged in one seed with a high last accuracy, and a 10% in another
        make_result(
            tmp_path,
            f"sgd_1.0_{seed}",
            method="sgd",
            lr=1.0,
            seed=seed,
            acc=(99.0, 10.0, 99.5)[seed],
            status="diverged" if seed < 2 else "complete",
        )
    for seed in range(3):  # lr 0.5: every seed diverged
        make_result(tmp_path, f"sgd_0.5_{seed}", method="sgd", lr=0.5, seed=seed, acc=None, status="diverged")
    runs = load_results(tmp_path).runs
    assert (runs["status"] == "diverged").sum() == 5  # valid records: loaded, never dropped
    picked, lr, split = selection.best_lr(_sgd_cell(runs))
    assert (lr, split, len(picked)) == (0.1, "final_test_acc", 3)
    built = tables.build(protocol.TABLES["table1"], runs, tables.load_paper(), "embedded")
    sgd = built.cells.set_index(["row", "column"]).loc[("SGD", "digits_transfer/cnn [paper: usps/resnet18]")]
    assert sgd["mean"] == pytest.approx(92.1) and sgd["diverged"] == 0


def test_a_cell_whose_runs_all_diverged_says_so(tmp_path):
    for seed in range(3):
        make_result(
            tmp_path,
            f"doit_{seed}",
            experiment="table1_fixed",
            method="doit",
            seed=seed,
            acc=10.0 if seed else None,
            status="diverged",
        )
    make_result(tmp_path, "sgd_partly", method="sgd", lr=0.1, seed=0, acc=91.0)
    make_result(tmp_path, "sgd_partly_1", method="sgd", lr=0.1, seed=1, acc=10.0, status="diverged")
    built = tables.build(
        protocol.TABLES["table1"], load_results(tmp_path).runs, tables.load_paper(), "embedded"
    )
    cells = built.cells.set_index(["row", "column"])
    col = "digits_transfer/cnn [paper: usps/resnet18]"
    assert cells.loc[("DOIT (ours)", col)]["ours"] == "diverged (n=3)"
    assert cells.loc[("SGD", col)]["ours"] == "91.00 (n=1); diverged: 1"
    assert built.diffs.empty  # no complete DOIT run: no comparison
    md = render.write(built, tmp_path / "out")[0].read_text()
    assert "diverged (n=3)" in md and "91.00 (n=1); diverged: 1" in md


@pytest.mark.parametrize(
    ("select_on", "lr", "split"),
    [("auto", 0.001, "val_acc"), ("val", 0.001, "val_acc"), ("test", 0.1, "final_test_acc")],
)
def test_select_on_val_by_default_and_test_on_request(tmp_path, select_on, lr, split):
    for lr_, seed in itertools.product((0.1, 0.001), range(2)):
        make_result(
            tmp_path,
            f"sgd_{lr_}_{seed}",
            method="sgd",
            lr=lr_,
            seed=seed,
            acc=92.0 if lr_ == 0.1 else 80.0,
            val_acc=50.0 if lr_ == 0.1 else 99.0,
        )
    runs = load_results(tmp_path).runs
    assert selection.best_lr(_sgd_cell(runs), select_on)[1:] == (lr, split)
    built = tables.build(protocol.TABLES["table1"], runs, tables.load_paper(), "embedded", select_on)
    note = render.selection_note(built)
    assert f"selected on: {split}" in note and f"--select-on {select_on}" in note
    assert ("TEST split" in note) == (split == "final_test_acc")


def test_select_on_val_without_validation_falls_back_to_test_and_says_so(tmp_path):
    fill_table1(tmp_path)
    built = tables.build(
        protocol.TABLES["table1"], load_results(tmp_path).runs, tables.load_paper(), "embedded", "val"
    )
    assert "selected on: final_test_acc (TEST split" in render.selection_note(built)
    assert "--select-on val" in render.selection_note(built)
