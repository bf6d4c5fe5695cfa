"""Optimizer paths on the 2-D toy functions (paper Figures 1, 4 and 7(a)) as result files.

    python -m runners.toys --scale paper|embedded --out DIR

writes ``DIR/<function>.json`` (strict JSON, ``SCHEMA``) per toy function of ``doit.toys``: its start,
minima, plot bounds, a contour grid, and every path of every figure that uses it. ``python -m analysis
figures --toys DIR`` draws the figures from these files only.

Figure 1: "three optimizers with varying runs (200 times with different random seeds and hyperparameter
settings)": each run draws its lr log-uniformly from the range given (ours). Figure 4: five optimizers
from one start. Figure 7(a): the single paths plus a ``doit.DOIT`` path switching among the same
optimizers every ``tau`` steps. Steps and lrs are not printed in the paper: ours.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

SCHEMA = 1
CONTOUR_POINTS = 150
FIGURES = ("fig1", "fig4", "fig7a")
PAPER = {
    "fig1": {
        "functions": ["rosenbrock", "himmelblau", "griewank", "ackley"],
        "optimizers": {"sgd": [1e-4, 1e-2], "sgdm": [1e-4, 1e-2], "adam": [1e-3, 1e-1]},
        "runs": 200,
        "steps": 200,
        "seed": 0,
    },
    "fig4": {
        "functions": ["rosenbrock", "himmelblau", "griewank", "ackley"],
        "optimizers": {"sgd": 1e-3, "sgdm": 1e-3, "adagrad": 0.1, "rmsprop": 1e-2, "adam": 5e-2},
        "steps": 200,
    },
    "fig7a": {
        "functions": ["rosenbrock", "himmelblau", "three_hump_camel"],
        "optimizers": {"sgd": 1e-3, "sgdm": 1e-3, "adam": 5e-2},
        "steps": 300,
        "doit": {"tau": 10, "n_ini": 6, "seed": 0},
    },
}
# Embedded: 20 instead of 200 runs per optimizer in Figure 1, fewer steps.
EMBEDDED = {
    "fig1": {**PAPER["fig1"], "runs": 20, "steps": 100},
    "fig4": {**PAPER["fig4"], "steps": 100},
    "fig7a": {**PAPER["fig7a"], "steps": 150},
}
SETTINGS = {"paper": PAPER, "embedded": EMBEDDED}


def _path_record(points: np.ndarray, **info) -> dict:
    """A path as strict JSON: the points up to the first non-finite one, whose step is ``diverged_step``."""
    bad = ~np.isfinite(points).all(axis=1)
    stop = int(np.argmax(bad)) if bad.any() else len(points)
    return {
        **info,
        "diverged_step": stop if bad.any() else None,
        "points": [[round(float(x), 6), round(float(y), 6)] for x, y in points[:stop]],
    }


def _single(toy, optimizer: str, lr: float, steps: int, **info) -> dict:
    from doit import optimizers
    from doit.toys import run_path

    points = run_path(toy.fn, lambda params: optimizers.create(optimizer, params, lr=lr), toy.start, steps)
    return _path_record(points, optimizer=optimizer, lr=lr, **info)


def _doit(toy, optimizers: dict, steps: int, tau: int, n_ini: int, seed: int) -> dict:
    """A ``doit.DOIT`` path switching among ``optimizers`` (name -> lr); ``switches``: step and configuration."""
    import doit
    from doit.toys import run_path

    grid = {name: {"lr": [lr]} for name, lr in optimizers.items()}
    made = []

    def factory(params):
        made.append(
            doit.DOIT(params, space=grid, tau=tau, n_ini=n_ini, omega_t=0.0, seed=seed, state=list(params))
        )
        return made[0]

    record = _path_record(run_path(toy.fn, factory, toy.start, steps), optimizer="doit", lr=None)
    record["switches"] = [{"step": int(r["step"]), "config": str(r["config"])} for r in made[0].log]
    return record


def _contour(toy, n: int = CONTOUR_POINTS) -> dict:
    (x0, x1), (y0, y1) = toy.bounds
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    z = toy.fn(torch.tensor(np.stack(np.meshgrid(xs, ys), -1))).numpy()
    return {
        "x": xs.round(6).tolist(),
        "y": ys.round(6).tolist(),
        "z": [[float(f"{v:.6g}") for v in row] for row in z],
    }


def figure_paths(figure: str, s: dict, toy) -> list[dict]:
    """Every path of ``figure`` (settings ``s``) on ``toy``."""
    if figure == "fig1":
        rng = np.random.default_rng(s["seed"])
        out = []
        for opt, (lo, hi) in s["optimizers"].items():
            for r in range(s["runs"]):
                out.append(
                    _single(
                        toy, opt, float(math.exp(rng.uniform(math.log(lo), math.log(hi)))), s["steps"], run=r
                    )
                )
        return out
    out = [_single(toy, opt, lr, s["steps"]) for opt, lr in s["optimizers"].items()]
    if figure == "fig7a":
        out.append(_doit(toy, s["optimizers"], s["steps"], **s["doit"]))
    return out


def run(settings: dict, out: Path, scale: str) -> list[Path]:
    """Compute every figure's paths and write one file per toy function; returns the paths."""
    from doit.toys import FUNCTIONS

    names = list(dict.fromkeys(f for fig in FIGURES for f in settings[fig]["functions"]))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        toy = FUNCTIONS[name]
        figures = {
            fig: {"panel": s["functions"].index(name), "paths": figure_paths(fig, s, toy)}
            for fig, s in settings.items()
            if name in s["functions"]
        }
        data = {
            "schema": SCHEMA,
            "scale": scale,
            "function": name,
            "start": list(toy.start),
            "minima": [list(m) for m in toy.minima],
            "bounds": [list(b) for b in toy.bounds],
            "contour": _contour(toy),
            "figures": figures,
        }
        path = out / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, allow_nan=False) + "\n")
        tmp.replace(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.toys", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        default="paper",
        choices=sorted(SETTINGS),
        help="paper: 200 runs per optimizer in Figure 1; embedded: 20 and fewer steps",
    )
    parser.add_argument("--out", default="outputs/toys", help="output directory (default: outputs/toys)")
    args = parser.parse_args(argv)
    written = run(SETTINGS[args.scale], Path(args.out), args.scale)
    print(f"{len(written)} toy-function files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
