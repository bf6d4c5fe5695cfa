"""Every method, ablation and space option composed with the real config and run in-process for a few steps."""

from __future__ import annotations

import pytest
from conftest import FAST, compose_train, needs

from analysis.record import loads
from runners.config import group_options
from runners.train import run

DOIT_FAST = ["method.tau=5", "method.n_ini=2"]  # past the cold start within one epoch (41 steps)
DOIT_METHODS = {"doit", "random", "cyclical", "doit_plus", "doit_plus2", "bandit"}


def _run(overrides, tmp_path):
    cfg, choices = compose_train([*FAST, *overrides])
    result = run(cfg, tmp_path, choices)
    assert loads((tmp_path / "result.json").read_text()) == result and result.status == "complete"
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    return result


@pytest.mark.parametrize("method", group_options("method"))
def test_every_method_runs(method, tmp_path):
    extra = DOIT_FAST if method in DOIT_METHODS else []
    result = _run([f"method={method}", *extra], tmp_path)
    assert result.run.method == method
    assert result.timing.steps == 41  # ceil(1,293 / 32): digits training minus its validation split
    assert 0.0 <= result.metrics.final_test_acc <= 100.0
    if method in DOIT_METHODS:
        rows = (tmp_path / "switches.csv").read_text().splitlines()[1:]
        # 41 steps in cycles of tau: 9 cycles, one fewer for each cycle rolled back (its update is skipped);
        # DOIT+2's warm-up cuts a rising cycle short, so a rolled-back cycle of its may cost fewer steps
        recovered = result.doit.recovered_cycles
        assert result.doit.n_cycles == len(rows)
        if method == "doit_plus2":
            assert 9 - recovered <= len(rows) <= 9
        else:
            assert len(rows) == 9 - recovered
        steps = [int(r.split(",")[1]) for r in rows]
        assert steps == sorted(steps) and steps[0] == 0 and steps[-1] < 41
        assert result.hyper is None and result.run.space == "paper15" and "adam" in result.run.space_grid
    else:
        assert result.doit is None and result.hyper.lr > 0 and result.run.space_grid is None
        assert not (tmp_path / "switches.csv").exists()


ABLATIONS = [pytest.param(a, marks=pytest.mark.slow) if a == "umap" else a for a in group_options("ablation")]


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_every_ablation_runs(ablation, tmp_path):
    if ablation == "umap":
        needs("umap", "umap", "umap-learn")
    # umap (numba: 10-25 s to compile) needs a few snapshots to fit: a longer cold start
    extra = ["method.tau=5", "method.n_ini=6"] if ablation == "umap" else DOIT_FAST
    result = _run([f"ablation={ablation}", *extra], tmp_path)
    assert result.run.ablation == ablation
    if ablation == "no_transfer":
        assert result.run.schedule == "no_transfer"


@pytest.mark.parametrize("space", group_options("space"))
def test_every_space_runs(space, tmp_path):
    cfg, _ = compose_train([f"space={space}"])
    n = sum(len(list(_product(h))) for h in cfg.space.grid.values())
    result = _run([f"space={space}", *DOIT_FAST], tmp_path)
    assert result.run.space == space
    assert len(result.doit.share) == n


def _product(hyper):
    import itertools

    return itertools.product(*hyper.values())


def test_space_sizes_follow_figure_11():
    sizes = []
    for space in ["paper15", "fig11_1", "fig11_2", "fig11_3", "fig11_4", "fig11_5", "extended"]:
        cfg, _ = compose_train([f"space={space}"])
        sizes.append(sum(len(list(_product(h))) for h in cfg.space.grid.values()))
    assert sizes == [15, 21, 33, 39, 45, 81, 87]


def test_scheduler_over_any_optimizer_and_overrides(tmp_path):
    result = _run(
        [
            "method=steplr",
            "method.optimizer=adam",
            "lr=0.01",
            "+method.hyper.weight_decay=1e-4",
            "model=mlp",
            "batch_size=64",
        ],
        tmp_path,
    )
    assert (result.hyper.optimizer, result.hyper.lr, result.hyper.scheduler) == ("adam", 0.01, "steplr")
    assert result.hyper.params["weight_decay"] == 1e-4 and result.hyper.params["betas"] == [0.9, 0.999]
    assert result.timing.steps == 21 and result.run.model == "mlp"


def test_one_learning_rate_source():
    from runners.methods import effective_hyper

    cases = {
        ("method=adam",): 0.001,
        ("method=adam", "method.lr=0.05"): 0.05,
        ("method=adam", "method.lr=0.05", "lr=0.2"): 0.2,
        ("method=padam",): 0.1,
    }
    for overrides, lr in cases.items():
        cfg, _ = compose_train(list(overrides))
        assert effective_hyper(cfg).lr == lr, overrides
