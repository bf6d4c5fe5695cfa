"""Golden numbers for AGD, from its authors' code (atorch 0.2.5, ``atorch/optimizers/agd.py``).

    pip download atorch==0.2.5 --no-deps --only-binary=:all: -d /tmp/ref
    python tests/golden/authors_agd.py /tmp/ref/atorch-0.2.5-py3-none-any.whl > tests/golden/authors_agd.json

The authors' AGD class is read out of the wheel on its own (the file imports only ``typing`` and ``torch``;
nothing of atorch is installed). For each case of ``CASES`` (and ``param_groups``) it trains the same
float64 network (``net_and_data()``) for ``STEPS`` steps; the JSON holds every step's training loss, the
parameters after the first step and at the end, and the versions that produced them.
``tests/test_agd.py`` trains ``doit.agd.AGD`` the same way and compares, with no network at test time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

WHEEL = "atorch==0.2.5"
REFERENCE_PATH = "atorch/optimizers/agd.py"
STEPS = 100
# float64 throughout: in float32 the two implementations' different (equally valid) rounding grows
# through the small gradient-difference denominator to ~1e-5 within 100 steps. The authors' code keeps its
# step count in a default-dtype tensor, so its bias corrections follow the default dtype: float64 too.
DTYPE = torch.float64

CASES = {
    "defaults": {},
    "lr_betas_delta": {"lr": 1e-2, "betas": (0.8, 0.99), "delta": 1e-3},
    "sgd_regime": {"lr": 5e-3, "delta": 0.5},
    "adaptive_regime": {"lr": 2e-3, "delta": 1e-10},
    "decoupled_wd": {"lr": 1e-2, "weight_decay": 0.1},
    "coupled_wd": {"lr": 1e-2, "weight_decay": 0.05, "weight_decouple": False},
    "fixed_decay": {"weight_decay": 1e-3, "fixed_decay": True},
    "amsgrad": {"lr": 1e-2, "amsgrad": True, "betas": (0.9, 0.99)},
    "clip": {"lr": 1e-2, "clip": 0.5, "delta": 1e-8},
}


def net_and_data(seed: int = 0):
    """A fixed 6-16-3 tanh network and 100 labelled points (float64 under ``DTYPE`` as the default)."""
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    x = torch.randn(100, 6, generator=gen)
    y = torch.randint(0, 3, (100,), generator=gen)
    return net, x, y


def step(net, opt, x, y, i: int) -> float:
    """One update on the ``i``-th batch of 20; the batch loss before it."""
    batch = slice((i * 20) % 100, (i * 20) % 100 + 20)
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(x[batch]), y[batch])
    loss.backward()
    opt.step()
    return loss.item()


def flat(net) -> list[float]:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()]).tolist()


def param_groups(net) -> list[dict]:
    """Two groups: the first layer with its own lr and delta, the last at the optimizer's values."""
    return [{"params": net[0].parameters(), "lr": 3e-3, "delta": 1e-4}, {"params": net[2].parameters()}]


# name -> (seed, how to build the optimizer from (AGD class, net))
RUNS = {
    **{
        name: (0, lambda cls, net, hyper=hyper: cls(net.parameters(), **hyper))
        for name, hyper in CASES.items()
    },
    "param_groups": (1, lambda cls, net: cls(param_groups(net), weight_decay=0.01)),
}


def train(agd_class, name: str) -> dict:
    """Run ``RUNS[name]`` with ``agd_class``: every step's loss, the parameters after step 1 and at the end."""
    seed, build = RUNS[name]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)
    try:
        net, x, y = net_and_data(seed)
        opt = build(agd_class, net)
        losses, first = [], None
        for i in range(STEPS):
            losses.append(step(net, opt, x, y, i))
            if i == 0:
                first = flat(net)
        return {"losses": losses, "after_first_step": first, "final": flat(net)}
    finally:
        torch.set_default_dtype(previous)


def load_reference(wheel: Path):
    """The authors' AGD class, read out of the atorch wheel."""
    source = Path(tempfile.mkdtemp()) / "reference_agd.py"
    with zipfile.ZipFile(wheel) as archive:
        source.write_bytes(archive.read(REFERENCE_PATH))
    spec = importlib.util.spec_from_file_location("atorch_reference_agd", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AGD


def main(wheel: str) -> None:
    path = Path(wheel)
    reference = load_reference(path)
    out = {
        "reference": f"{WHEEL} {REFERENCE_PATH} AGD",
        "wheel": {"name": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
        "steps": STEPS,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "runs": {name: train(reference, name) for name in RUNS},
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
