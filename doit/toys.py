"""2-D test functions for the optimizer-path figures (paper Figures 1, 4 and 7(a)).

Each function takes a tensor whose last dimension is 2 (one point, or a grid for contour plots) and
is differentiable with torch autograd. ``FUNCTIONS`` maps a name to a ``ToyFunction`` with the global
minima, the start point used for the figures and the plot bounds.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

Point = tuple[float, float]


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """``(1 - x)^2 + 100 (y - x^2)^2``; global minimum 0 at (1, 1)."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def himmelblau(p: torch.Tensor) -> torch.Tensor:
    """``(x^2 + y - 11)^2 + (x + y^2 - 7)^2``; four global minima of value 0."""
    x, y = p[..., 0], p[..., 1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def griewank(p: torch.Tensor) -> torch.Tensor:
    """``1 + (x^2 + y^2) / 4000 - cos(x) cos(y / sqrt(2))``; global minimum 0 at (0, 0)."""
    x, y = p[..., 0], p[..., 1]
    return 1 + (x**2 + y**2) / 4000 - torch.cos(x) * torch.cos(y / math.sqrt(2))


def ackley(p: torch.Tensor) -> torch.Tensor:
    """``-20 exp(-0.2 sqrt((x^2 + y^2) / 2)) - exp((cos 2 pi x + cos 2 pi y) / 2) + e + 20``; minimum 0 at 0.

    The radius uses ``torch.linalg.vector_norm``, whose gradient at the origin is 0 (a subgradient).
    """
    radius = torch.linalg.vector_norm(p, dim=-1) / math.sqrt(2)
    waves = (torch.cos(2 * math.pi * p[..., 0]) + torch.cos(2 * math.pi * p[..., 1])) / 2
    return -20 * torch.exp(-0.2 * radius) - torch.exp(waves) + math.e + 20


def three_hump_camel(p: torch.Tensor) -> torch.Tensor:
    """``2 x^2 - 1.05 x^4 + x^6 / 6 + x y + y^2``; global minimum 0 at (0, 0)."""
    x, y = p[..., 0], p[..., 1]
    return 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2


@dataclass(frozen=True)
class ToyFunction:
    """A test function with its global ``minima``, figure ``start`` point and plot ``bounds`` ((x0, x1), (y0, y1))."""

    fn: Callable[[torch.Tensor], torch.Tensor]
    minima: tuple[Point, ...]
    start: Point
    bounds: tuple[Point, Point]


FUNCTIONS: dict[str, ToyFunction] = {
    "rosenbrock": ToyFunction(rosenbrock, ((1.0, 1.0),), (-1.5, 2.0), ((-2.0, 2.0), (-1.0, 3.0))),
    "himmelblau": ToyFunction(
        himmelblau,
        (
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.2831859912861696),
            (3.5844283403304917, -1.8481265269644036),
        ),
        (0.0, 0.0),
        ((-5.0, 5.0), (-5.0, 5.0)),
    ),
    "griewank": ToyFunction(griewank, ((0.0, 0.0),), (-5.0, 5.0), ((-8.0, 8.0), (-8.0, 8.0))),
    "ackley": ToyFunction(ackley, ((0.0, 0.0),), (-2.5, 2.0), ((-4.0, 4.0), (-4.0, 4.0))),
    "three_hump_camel": ToyFunction(three_hump_camel, ((0.0, 0.0),), (-1.5, 1.5), ((-2.5, 2.5), (-2.5, 2.5))),
}


def run_path(
    fn: Callable[[torch.Tensor], torch.Tensor],
    optimizer_factory: Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer],
    start: Point,
    steps: int,
) -> np.ndarray:
    """Minimise ``fn`` from ``start`` for ``steps`` updates; returns the ``(steps + 1, 2)`` visited points.

    ``optimizer_factory`` receives ``[point]`` (a float64 leaf tensor). An optimizer whose ``step``
    takes a ``loss`` keyword (``doit.DOIT``) gets the loss at the current point.
    """
    if steps < 0:
        raise ValueError(f"steps={steps!r} must be >= 0")
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_factory([point])
    wants_loss = "loss" in inspect.signature(optimizer.step).parameters
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss = fn(point)
        loss.backward()
        if wants_loss:
            optimizer.step(loss=loss.detach())
        else:
            optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path).numpy()
