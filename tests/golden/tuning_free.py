"""Golden numbers for the tuning-free optimizers, from their authors' packages.

    pip install --target /tmp/ref schedulefree==1.4.1 dadaptation==3.2 prodigyopt==1.1.2
    PYTHONPATH=/tmp/ref python tests/golden/tuning_free.py > tests/golden/tuning_free.json

Each reference optimizer trains the same float64 softmax regression (``problem()``) for ``STEPS`` steps
at its authors' defaults; the JSON holds the final parameters (for schedule-free: at the averaged iterate,
after ``optimizer.eval()``) and the versions that produced them. ``tests/test_tuning_free.py`` trains
``doit.optimizers.create(name, ...)`` on the same problem and compares, with no network at test time.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys

import torch
import torch.nn.functional as F

STEPS = 30
# registry name -> (authors' package, class)
REFERENCES = {
    "schedulefree_adamw": ("schedulefree", "AdamWScheduleFree"),
    "schedulefree_sgd": ("schedulefree", "SGDScheduleFree"),
    "dadapt_adam": ("dadaptation", "DAdaptAdam"),
    "prodigy": ("prodigyopt", "Prodigy"),
}


def problem() -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Fresh parameters ``[W, b]`` and fixed data ``(x, y)`` of a 3-class softmax regression (float64)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    w = (0.1 * torch.randn(3, 5, generator=gen, dtype=torch.float64)).requires_grad_()
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    return [w, b], x, y


def train(optimizer_of) -> list[list[float]]:
    """Train the problem's parameters with ``optimizer_of(params)``; the final (evaluation) parameters."""
    params, x, y = problem()
    opt = optimizer_of(params)
    if hasattr(opt, "train"):
        opt.train()
    for _ in range(STEPS):
        opt.zero_grad()
        F.cross_entropy(x @ params[0].T + params[1], y).backward()
        opt.step()
    if hasattr(opt, "eval"):
        opt.eval()
    return [p.detach().flatten().tolist() for p in params]


def main() -> None:
    out = {"steps": STEPS, "python": sys.version.split()[0], "torch": torch.__version__, "optimizers": {}}
    for name, (package, cls) in REFERENCES.items():
        factory = getattr(importlib.import_module(package), cls)
        out["optimizers"][name] = {
            "reference": f"{package}=={importlib.metadata.version(package)} {cls}",
            "params": train(lambda p, factory=factory: factory(p)),
        }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
