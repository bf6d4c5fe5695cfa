"""Every figure renders (PNG and PDF) from result files (the toy runner's files, result.json records), and
draws what they hold: each saved matplotlib Figure is caught at ``Figure.savefig`` (the ``drawn`` fixture)
and its panels' titles, series labels and data are checked against the files."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest

from analysis import figures, labels
from analysis.__main__ import main
from analysis.collect import load_results
from runners import toys
from tests.conftest import REPO
from tests.test_analysis_results import fill_table1, make_result, record_of, write_result

TINY_TOYS = {
    "fig1": {
        "functions": ["rosenbrock", "ackley"],
        "optimizers": {"sgd": [1e-4, 1e-3], "adam": [1e-2, 1e-1]},
        "runs": 2,
        "steps": 5,
        "seed": 0,
    },
    "fig4": {"functions": ["himmelblau"], "optimizers": {"sgd": 1e-3, "adam": 0.05}, "steps": 5},
    "fig7a": {
        "functions": ["three_hump_camel"],
        "optimizers": {"sgd": 1e-2, "adam": 0.05},
        "steps": 12,
        "doit": {"tau": 3, "n_ini": 2, "seed": 0},
    },
}
TOY_FILES = [
    "fig1_toy_paths.pdf",
    "fig1_toy_paths.png",
    "fig4_directions.pdf",
    "fig4_directions.png",
    "fig7a_interleaved.pdf",
    "fig7a_interleaved.png",
]


def _files(paths):
    return sorted(p.name for p in paths)


@pytest.fixture
def drawn(monkeypatch) -> dict[str, matplotlib.figure.Figure]:
    """File name -> the Figure saved under it, caught at ``Figure.savefig`` (which then saves as usual)."""
    saved = {}
    real = matplotlib.figure.Figure.savefig

    def record(fig, fname, *args, **kwargs):
        saved[Path(fname).name] = fig
        return real(fig, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return saved


def _series(ax) -> list[tuple[str, np.ndarray]]:
    """``(label, points)`` of every drawn line of more than one point (paths, curves), in drawing order."""
    return [
        (line.get_label(), np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
        for line in ax.get_lines()
        if len(line.get_xdata()) > 1
    ]


def _toy(toy_dir, function: str) -> dict:
    return json.loads((toy_dir / f"{function}.json").read_text())


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    pytest.importorskip("doit.controller")
    out = tmp_path_factory.mktemp("toys")
    toys.run(TINY_TOYS, out, "embedded")
    return out


def test_toy_figures_from_the_runner_files(toy_dir, tmp_path, drawn):
    loaded, skipped = figures.load_toys(toy_dir)
    assert skipped == [] and len(loaded) == 4
    out = figures.fig_toy_paths(loaded, tmp_path) + figures.fig_interleaved(loaded, tmp_path)
    assert _files(out) == TOY_FILES and sorted(drawn) == TOY_FILES
    assert all(p.stat().st_size > 1000 for p in out)
    # one panel per function of the figure, in the runner's panel order, each path as the file holds it
    for figure, functions in (
        ("fig1_toy_paths", ["rosenbrock", "ackley"]),
        ("fig4_directions", ["himmelblau"]),
        ("fig7a_interleaved", ["three_hump_camel"]),
    ):
        fig = drawn[f"{figure}.png"]
        assert drawn[f"{figure}.pdf"] is fig
        assert [ax.get_title() for ax in fig.axes] == functions
        key = figure.split("_")[0]
        for ax, function in zip(fig.axes, functions, strict=True):
            toy = _toy(toy_dir, function)
            (x0, x1), (y0, y1) = toy["bounds"]
            assert ax.get_xlim() == (x0, x1) and ax.get_ylim() == (y0, y1)
            paths = toy["figures"][key]["paths"]
            series = _series(ax)
            assert len(series) == len(paths), (figure, function)
            for (_, xy), path in zip(series, paths, strict=True):
                np.testing.assert_allclose(xy, np.array(path["points"], dtype=float))
    fig1 = drawn["fig1_toy_paths.png"].axes[0]
    # two runs per optimizer (lrs drawn per run), one legend entry per optimizer
    assert [label for label, _ in _series(fig1) if not label.startswith("_")] == ["SGD", "Adam"]
    assert [label for label, _ in _series(drawn["fig4_directions.png"].axes[0])] == [
        "SGD (lr=0.001)",
        "Adam (lr=0.05)",
    ]
    fig7a = drawn["fig7a_interleaved.png"].axes[0]
    assert [label for label, _ in _series(fig7a)] == ["SGD (lr=0.01)", "Adam (lr=0.05)", "DOIT (interleaved)"]
    doit = next(
        p for p in _toy(toy_dir, "three_hump_camel")["figures"]["fig7a"]["paths"] if p["optimizer"] == "doit"
    )
    # a dot per switch where DOIT was at that step, coloured by the optimizer it switched to
    dots = [line for line in fig7a.get_lines() if line.get_marker() == "o" and line.get_color() != "k"]
    switches = doit["switches"]
    assert len(switches) >= 2 and len(dots) == len(switches)
    for dot, switch in zip(dots, switches, strict=True):
        assert [dot.get_xdata()[0], dot.get_ydata()[0]] == pytest.approx(doit["points"][switch["step"]])
        assert dot.get_color() == figures.color(switch["config"].split("(")[0])


def test_broken_toy_files_are_listed_and_the_rest_drawn(toy_dir, tmp_path):
    d = tmp_path / "toys"
    d.mkdir()
    for f in toy_dir.glob("*.json"):
        (d / f.name).write_text(f.read_text())
    (d / "ackley.json").write_bytes(b"\0\1\2")
    data = json.loads((d / "rosenbrock.json").read_text())
    data["figures"]["fig1"]["paths"][0]["points"][1] = ["x", 1]
    (d / "rosenbrock.json").write_text(json.dumps(data))
    (d / "himmelblau.json").write_text((d / "himmelblau.json").read_text().replace("0.0", "NaN", 1))
    data = json.loads((d / "three_hump_camel.json").read_text())
    (d / "tiny.json").write_text(json.dumps({**data, "contour": {"x": [0], "y": [0], "z": [[0]]}}))
    os.mkfifo(d / "fifo.json")
    loaded, skipped = figures.load_toys(d)
    assert [t["function"] for t in loaded] == ["three_hump_camel"]
    why = {p.split("/")[-1]: w for p, w in skipped}
    assert "binary" in why["ackley.json"] and "NaN" in why["himmelblau.json"]
    assert "could not convert" in why["rosenbrock.json"] and "smaller than 2 x 2" in why["tiny.json"]
    assert "not a regular file" in why["fifo.json"]
    assert _files(figures.fig_toy_paths(loaded, tmp_path) + figures.fig_interleaved(loaded, tmp_path)) == [
        "fig7a_interleaved.pdf",
        "fig7a_interleaved.png",
    ]
    assert figures.load_toys(tmp_path / "none")[1][0][1].startswith(
        "no toy results (run: python -m runners.toys"
    )


def _fig11_runs(res):
    """DOIT on two growing spaces; single-optimizer runs matched to them by their effective ``hyper``."""
    grids = ({"sgd": {"lr": [0.01]}}, {"sgd": {"lr": [0.1, 0.01], "weight_decay": [1e-3]}})
    for seed, (i, grid) in itertools.product(range(2), enumerate(grids)):
        kw = {
            "experiment": "fig11_spaces",
            "method": "doit",
            "seed": seed,
            "space": f"s{i}",
            "space_grid": grid,
        }
        make_result(res, f"grow_{i}_{seed}", **kw)


def test_curves_switches_sensitivity_space_growth(tmp_path, drawn):
    res = tmp_path / "res"
    fill_table1(res)
    for seed in range(2):
        for method in ("doit", "sgdm"):
            d = make_result(
                res,
                f"case_{method}_{seed}",
                experiment="fig9_case",
                method=method,
                seed=seed,
                lr=0.01,
            )
            if method == "doit":
                (d / "switches.csv").write_text(
                    "cycle,step,config,phase,score,recovered\n0,0,sgd(lr=0.01),random,0.1,False\n"
                    "1,10,sgdm(lr=0.01),gp,0.2,False\n2,20,sgd(lr=0.01),gp,0.1,False\n"
                )
        for exp, key, values in (("fig10_n_ini", "n_ini", (2, 5)), ("fig10_tau", "tau", (5, 10))):
            for v in values:
                make_result(
                    res,
                    f"{exp}_{v}_{seed}",
                    experiment=exp,
                    method="doit",
                    seed=seed,
                    acc=90 + v / 10,
                    **{key: v},
                )
    _fig11_runs(res)
    runs = load_results(res).runs
    out = tmp_path / "out"
    written = (
        figures.fig_curves(runs, out, "embedded")
        + figures.fig_switches(runs, out)
        + figures.fig_sensitivity(runs, out)
        + figures.fig_space_growth(runs, out)
    )
    assert _files(written) == sorted(
        f"{n}.{e}"
        for n in (
            "fig8_curves_embedded_digits_transfer_cnn",
            "fig9_switches_embedded",
            "fig10_sensitivity_embedded",
            "fig11_space_growth_embedded",
        )
        for e in ("png", "pdf")
    )
    # Figure 8: each method at its best lr (SGD 0.1, Adam 0.001 in fill_table1), mean of 3 seeds per epoch;
    # write_result's curves: train loss 1/epoch, test accuracy final - 3 + epoch
    loss, acc = drawn["fig8_curves_embedded_digits_transfer_cnn.png"].axes
    assert loss.get_title().startswith("digits_transfer/cnn") and loss.get_yscale() == "log"
    assert acc.get_title() == "best lr picked on: final_test_acc"
    finals = {"SGD": 92.1, "Adam": 93.1, "DOIT (ours)": 95.5}
    assert [label for label, _ in _series(acc)] == list(finals)
    for (label, xy), (_, lxy) in zip(_series(acc), _series(loss), strict=True):
        np.testing.assert_allclose(xy, [[1, finals[label] - 2], [2, finals[label] - 1], [3, finals[label]]])
        np.testing.assert_allclose(lxy, [[1, 1], [2, 1 / 2], [3, 1 / 3]])
    # Figure 9: DOIT's and the vanilla run's training loss over steps, and one bar per switch cycle
    curves, timeline = drawn["fig9_switches_embedded.png"].axes
    assert curves.get_title() == "switch timeline (embedded, seed 0)"
    assert [label for label, _ in _series(curves)] == ["DOIT (doit)", "vanilla (sgdm)"]
    np.testing.assert_allclose(_series(curves)[0][1], [[10, 1], [20, 1 / 2], [30, 1 / 3]])
    bars = [c.get_paths()[0].get_extents() for c in timeline.collections]
    assert [(b.x0, b.x1) for b in bars] == [(0, 10), (10, 20), (20, 30)]  # the last one a median cycle long
    colours = [tuple(c.get_facecolor()[0]) for c in timeline.collections]
    assert colours[0] == colours[2] != colours[1]  # sgd, sgdm, sgd
    assert [t.get_text() for t in timeline.get_legend().get_texts()] == ["sgd(lr=0.01)", "sgdm(lr=0.01)"]
    # Figure 10: mean final accuracy per swept value; the panels without runs say so
    panels = {ax.get_title(): ax for ax in drawn["fig10_sensitivity_embedded.png"].axes}
    assert [t.get_text() for t in panels["(a) initial selection"].texts] == ["no complete runs"]
    for title, means in (("(b) n_ini", [90.2, 90.5]), ("(c) tau", [90.5, 91.0])):
        assert _series(panels[title])[0][1][:, 1] == pytest.approx(means), title
    # Figure 11: DOIT per space and the best single optimizer inside it (none in s1: weight decay 1e-3)
    (growth,) = drawn["fig11_space_growth_embedded.png"].axes
    assert growth.get_title() == "digits_transfer/cnn (embedded)"
    assert [t.get_text() for t in growth.get_xticklabels()] == ["s0", "s1"]
    best = dict(_series(growth))["best single optimizer in the space"][:, 1]
    assert best[0] == pytest.approx(90.1) and np.isnan(best[1])


def test_binary_and_garbled_run_files_are_listed_not_fatal(tmp_path):
    res = tmp_path / "res"
    fill_table1(res)
    (res / "sgd_0.1_0" / "metrics.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\0\xff\xfe")
    (res / "sgd_0.1_1" / "metrics.jsonl").write_text(
        '{"epoch": 1, "train_loss": "x", "test_acc": 1}\n5\n{"epoch"'
    )
    d = make_result(res, "case", experiment="fig9_case", method="doit", lr=None)
    (d / "switches.csv").write_bytes(b"\0\0\0")
    skipped = []
    runs = load_results(res).runs
    assert figures.fig_curves(runs, tmp_path, "embedded", skipped)
    assert figures.fig_switches(runs, tmp_path, skipped) == []
    why = {"/".join(p.split("/")[-2:]): w for p, w in skipped}
    assert why["sgd_0.1_0/metrics.jsonl"] == "binary file (NUL bytes)"
    assert why["sgd_0.1_1/metrics.jsonl"] == "2 unreadable line(s) left out"
    assert why["case/switches.csv"] == "binary file (NUL bytes)"


def test_figures_command_lists_what_it_skipped(toy_dir, tmp_path, capsys):
    res = tmp_path / "res"
    fill_table1(res)
    (res / "sgd_0.1_0" / "metrics.jsonl").write_bytes(b"\0")
    write_result(res, "diverged", record_of(method="sgd", lr=1.0, acc=None, status="diverged"))
    assert (
        main(["figures", "--results", str(res), "--out", str(tmp_path / "out"), "--toys", str(toy_dir)]) == 0
    )
    err = capsys.readouterr().err
    assert "metrics.jsonl: binary file" in err
    assert {p.name for p in (tmp_path / "out").iterdir()} >= set(TOY_FILES)


def test_in_grid_reads_the_effective_hyperparameters():
    grid = {
        "sgd": {"lr": [0.1, 0.01], "weight_decay": [1e-3]},
        "sgdm": {"lr": [0.01], "momentum": [0.9]},
        "adam": {"lr": [0.001]},
    }
    sgd = {"momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False}
    assert figures._in_grid("sgd", {**sgd, "lr": 0.1, "weight_decay": 1e-3}, grid)
    assert not figures._in_grid("sgd", {**sgd, "lr": 0.1}, grid)  # weight decay 0 is not in the grid
    assert not figures._in_grid("sgd", {**sgd, "lr": 0.1, "weight_decay": 1e-3, "nesterov": True}, grid)
    assert figures._in_grid("sgdm", {**sgd, "lr": 0.01, "momentum": 0.9}, grid)
    assert not figures._in_grid("sgdm", {**sgd, "lr": 0.01, "momentum": 0.5}, grid)
    adam = {
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "weight_decay": 0,
        "amsgrad": False,
        "decoupled_weight_decay": False,
    }
    assert figures._in_grid("adam", {**adam, "lr": 0.001}, grid)
    assert not figures._in_grid("adam", {**adam, "lr": 0.001, "betas": [0.5, 0.999]}, grid)
    assert not figures._in_grid("rmsprop", {"lr": 0.01}, grid)


def test_space_growth_matches_runs_by_hyper(tmp_path):
    res = tmp_path / "res"
    _fig11_runs(res)
    for lr, wd, acc in ((0.1, 1e-3, 97.0), (0.1, 0.0, 99.0), (0.01, 0.0, 91.0)):
        make_result(res, f"sgd_{lr}_{wd}", method="sgd", lr=lr, acc=acc, params={"weight_decay": wd})
    runs = load_results(res).runs
    drawn = {}
    real = figures.plt.Axes.plot

    def spy(ax, *args, **kw):
        if kw.get("label") == "best single optimizer in the space":
            drawn["best"] = list(args[1])
        return real(ax, *args, **kw)

    figures.plt.Axes.plot = spy
    try:
        figures.fig_space_growth(runs, tmp_path / "out")
    finally:
        figures.plt.Axes.plot = real
    assert drawn["best"] == [91.0, 97.0]  # 99 (weight decay 0) lies in neither space


def test_the_verdict_curves_shade_the_range_over_seeds(drawn, tmp_path):
    """results/cpu-mnist-15ep (runner-written): Adam at its lr, DOIT, DOIT+, DOIT+2 per epoch, each the mean
    of its seeds with their min-max range shaded."""
    root = REPO / "results" / "cpu-mnist-15ep"
    written = figures.fig_verdict_curves(load_results(root).runs, tmp_path, "mnist")
    assert _files(written) == ["verdict_curves_mnist_mnist_cnn.pdf", "verdict_curves_mnist_mnist_cnn.png"]
    _, acc = drawn["verdict_curves_mnist_mnist_cnn.png"].axes
    names = ["Adam", "DOIT (ours)", "DOIT+ (beyond the paper)", labels.label("doit_plus2")]
    assert [name for name, _ in _series(acc)] == names
    per_seed = [
        [json.loads(line)["test_acc"] for line in path.read_text().splitlines() if "test_acc" in line]
        for path in sorted(root.glob("sweeps/beyond_fixed_mnist/*method=doit_plus2,*/metrics.jsonl"))
    ]
    accs = np.array(per_seed)
    assert accs.shape == (5, 15)
    np.testing.assert_allclose(dict(_series(acc))[names[3]][:, 1], accs.mean(axis=0))
    band = acc.collections[3].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(accs.min()) and band.max() == pytest.approx(accs.max())
