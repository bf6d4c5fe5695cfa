"""The tuning-free optimizers of the registry against their authors' packages (golden numbers), and the
runner's evaluation at a schedule-free optimizer's averaged iterate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from doit import optimizers

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from tuning_free import problem, train  # noqa: E402

RECORDED = json.loads((GOLDEN / "tuning_free.json").read_text())
# pytorch_optimizer's D-Adaptation Adam and Prodigy agree with their authors' packages to about 1e-5
# (relative) after 30 float64 steps, not to rounding (an order of operations; not traced further); the
# schedule-free pair agrees to rounding.
RTOL = {"dadapt_adam": 1e-4, "prodigy": 1e-4}


@pytest.mark.parametrize("name", sorted(RECORDED["optimizers"]))
def test_registry_optimizer_matches_its_authors_package(name):
    expected = RECORDED["optimizers"][name]["params"]
    got = train(lambda params: optimizers.create(name, params))
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(
            torch.tensor(g, dtype=torch.float64),
            torch.tensor(e, dtype=torch.float64),
            rtol=RTOL.get(name, 1e-9),
            atol=1e-12,
        )


def test_golden_parameters_moved_from_the_start():
    """The comparison means something: every reference moved the parameters away from their start."""
    start = [p.detach().flatten() for p in problem()[0]]
    for name, entry in RECORDED["optimizers"].items():
        moved = max(
            float((torch.tensor(p) - s).abs().max()) for p, s in zip(entry["params"], start, strict=True)
        )
        assert moved > 1e-3, name


def test_schedule_free_runs_are_evaluated_at_the_averaged_iterate(tmp_path):
    """The run's final test accuracy is the model's at x (optimizer.eval()), and training resumes at y."""
    from runners.evaluation import averaged_iterate
    from runners.train import compose, run

    cfg, choices = compose(["method=schedulefree_adamw", "epochs=2", "progress=off", "plot=false"])
    result = run(cfg, tmp_path, choices)
    assert result.hyper.optimizer == "schedulefree_adamw" and result.hyper.lr == 0.0025

    params = [torch.nn.Parameter(torch.ones(2))]
    opt = optimizers.create("schedulefree_sgd", params)
    for g in (1.0, -3.0, 2.0):
        params[0].grad = torch.full((2,), g)
        opt.step()
    y = params[0].detach().clone()
    model = torch.nn.Linear(2, 2)
    with averaged_iterate(opt, model, [], lambda: torch.autocast("cpu", enabled=False)):
        x = params[0].detach().clone()
    assert not torch.equal(x, y)  # evaluated elsewhere than the training iterate ...
    assert torch.equal(params[0].detach(), y)  # ... and put back afterwards
