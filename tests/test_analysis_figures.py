"""Every figure renders (PNG and PDF) from small synthetic inputs."""

from __future__ import annotations

import json

import pytest

from analysis import figures
from analysis.collect import load_results
from tests.test_analysis_results import fill_table1, make_result

TINY_TOYS = {
    "fig1": {"functions": ["rosenbrock", "ackley"], "optimizers": {"sgd": [1e-4, 1e-3], "adam": [1e-2, 1e-1]},
             "runs": 2, "steps": 5, "seed": 0},
    "fig4": {"functions": ["himmelblau"], "optimizers": {"sgd": 1e-3, "adam": 0.05}, "steps": 5},
    "fig7a": {"functions": ["three_hump_camel"], "optimizers": {"sgd": 1e-2, "adam": 0.05}, "steps": 12,
              "doit": {"tau": 3, "n_ini": 2, "seed": 0}},
}


def _files(paths):
    return sorted(p.name for p in paths)


def test_toy_settings_files_load():
    paper, embedded = figures.toy_settings("paper"), figures.toy_settings("embedded")
    assert paper["fig1"]["runs"] == 200 and embedded["fig1"]["runs"] == 20
    assert embedded["fig1"]["functions"] == paper["fig1"]["functions"]


def test_toy_figures(tmp_path):
    pytest.importorskip("doit.controller")
    out = figures.fig_toy_paths(TINY_TOYS, tmp_path) + figures.fig_interleaved(TINY_TOYS, tmp_path)
    assert _files(out) == ["fig1_toy_paths.pdf", "fig1_toy_paths.png", "fig4_directions.pdf",
                           "fig4_directions.png", "fig7a_interleaved.pdf", "fig7a_interleaved.png"]
    assert all(p.stat().st_size > 1000 for p in out)


def test_curves_switches_sensitivity_space_growth(tmp_path):
    res = tmp_path / "res"
    fill_table1(res)
    for seed in range(2):
        for method in ("doit", "sgdm"):
            d = make_result(res, f"case_{method}_{seed}", experiment="fig9_case", method=method, seed=seed,
                            lr=None if method == "doit" else 0.01)
            if method == "doit":
                (d / "switches.csv").write_text("cycle,step,config,phase,score,recovered\n0,0,sgd(lr=0.01),random,0.1,False\n"
                                                "1,10,sgdm(lr=0.01),gp,0.2,False\n2,20,sgd(lr=0.01),gp,0.1,False\n")
        for exp, key, values in (("fig10_n_ini", "n_ini", (2, 5)), ("fig10_tau", "tau", (5, 10))):
            for v in values:
                make_result(res, f"{exp}_{v}_{seed}", experiment=exp, method="doit", lr=None, seed=seed,
                            acc=90 + v / 10, extra_run={key: v})
        for i, grid in enumerate(({"sgd": {"lr": [0.01]}}, {"sgd": {"lr": [0.1, 0.01]}})):
            d = make_result(res, f"grow_{i}_{seed}", experiment="fig11_spaces", method="doit", lr=None, seed=seed,
                            extra_run={"space": f"s{i}"})
            result = json.loads((d / "result.json").read_text())
            result["config"]["space"] = {"name": f"s{i}", "grid": grid}
            (d / "result.json").write_text(json.dumps(result))
    runs = load_results(res).runs
    out = tmp_path / "out"
    written = (figures.fig_curves(runs, out, "embedded") + figures.fig_switches(runs, out)
               + figures.fig_sensitivity(runs, out) + figures.fig_space_growth(runs, out))
    assert _files(written) == sorted(f"{n}.{e}" for n in ("fig8_curves_embedded_digits_cnn", "fig9_switches_embedded",
                                                            "fig10_sensitivity_embedded", "fig11_space_growth_embedded")
                                     for e in ("png", "pdf"))


def test_in_grid():
    grid = {"sgd": {"lr": [0.1, 0.01], "weight_decay": [1e-3]}, "sgdm": {"lr": [0.01], "momentum": [0.9]}}
    base = {"momentum": 0.0, "weight_decay": 0.0, "alpha": 0.99}
    assert figures._in_grid("sgd", {**base, "lr": 0.1, "weight_decay": 1e-3}, grid)
    assert not figures._in_grid("sgd", {**base, "lr": 0.1}, grid)          # weight decay 0 is not in the grid
    assert figures._in_grid("sgdm", {**base, "lr": 0.01, "momentum": 0.9}, grid)
    assert not figures._in_grid("sgdm", {**base, "lr": 0.01, "momentum": 0.9, "alpha": 0.5}, grid)
    assert not figures._in_grid("adam", {**base, "lr": 0.01}, grid)
