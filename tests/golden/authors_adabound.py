"""Golden numbers for AdaBound, from its authors' PyPI package (adabound 0.0.5, ``adabound/adabound.py``).

    pip install --no-deps --target /tmp/ref adabound==0.0.5
    PYTHONPATH=/tmp/ref python tests/golden/authors_adabound.py > tests/golden/authors_adabound.json

For each case of ``CASES`` the authors' ``AdaBound`` (their defaults: lr 1e-3, final_lr 0.1, gamma 1e-3)
trains the same float64 quadratic (``problem()``, ``train()``) for ``STEPS`` steps; the JSON holds the
final parameters and the versions that produced them. ``tests/test_optimizers.py`` trains
``doit.optimizers.create("adabound", ...)`` the same way and compares, with no network at test time.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import warnings

import torch

STEPS = 100
CASES = {"defaults": {}, "lr_l2": {"lr": 3e-3, "weight_decay": 5e-3}}


def problem() -> list[torch.nn.Parameter]:
    """Fresh float64 parameters of shapes (4, 3) and (3,), drawn from seed 0."""
    gen = torch.Generator().manual_seed(0)
    return [
        torch.nn.Parameter(torch.randn(shape, generator=gen, dtype=torch.float64)) for shape in [(4, 3), (3,)]
    ]


def train(opt, params, steps: int = STEPS) -> list[list[float]]:
    """``steps`` updates on a weighted quadratic whose centre moves with the step; the final parameters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the authors' code uses deprecated torch overloads
        for i in range(steps):
            opt.zero_grad()
            loss = sum(((p - 0.1 * (i % 3)) ** 2).sum() * (k + 1) for k, p in enumerate(params))
            loss.backward()
            opt.step()
    return [p.detach().flatten().tolist() for p in params]


def main() -> None:
    from adabound import AdaBound

    out = {
        "reference": f"adabound=={importlib.metadata.version('adabound')} AdaBound",
        "steps": STEPS,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cases": {},
    }
    for name, hyper in CASES.items():
        params = problem()
        out["cases"][name] = {"hyper": hyper, "params": train(AdaBound(params, **hyper), params)}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
