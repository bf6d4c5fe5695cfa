"""Toy functions: minima, gradients, start values, and optimizer paths."""

import math

import numpy as np
import pytest
import torch

from doit.toys import FUNCTIONS, ToyFunction, run_path

NAMES = ["rosenbrock", "himmelblau", "griewank", "ackley", "three_hump_camel"]


def test_functions_exported():
    assert sorted(FUNCTIONS) == sorted(NAMES)
    assert all(isinstance(toy, ToyFunction) for toy in FUNCTIONS.values())
    assert len(FUNCTIONS["himmelblau"].minima) == 4


@pytest.mark.parametrize("name", NAMES)
def test_value_and_gradient_vanish_at_every_minimum(name):
    toy = FUNCTIONS[name]
    for minimum in toy.minima:
        point = torch.tensor(minimum, dtype=torch.float64, requires_grad=True)
        value = toy.fn(point)
        value.backward()
        assert value.item() == pytest.approx(0.0, abs=1e-12)
        assert torch.all(point.grad.abs() < 1e-9), (name, minimum, point.grad)


@pytest.mark.parametrize("name", NAMES)
def test_minima_are_global_on_the_plot_grid(name):
    toy = FUNCTIONS[name]
    (x0, x1), (y0, y1) = toy.bounds
    xs, ys = torch.meshgrid(
        torch.linspace(x0, x1, 301, dtype=torch.float64),
        torch.linspace(y0, y1, 301, dtype=torch.float64),
        indexing="ij",
    )
    values = toy.fn(torch.stack([xs, ys], dim=-1))
    assert values.shape == (301, 301)
    assert values.min().item() >= -1e-12
    for mx, my in toy.minima:
        assert x0 < mx < x1 and y0 < my < y1
    assert x0 < toy.start[0] < x1 and y0 < toy.start[1] < y1


def test_start_values_by_hand():
    # rosenbrock(-1.5, 2) = (1 + 1.5)^2 + 100 (2 - 2.25)^2 = 6.25 + 6.25
    # himmelblau(0, 0) = 11^2 + 7^2
    # griewank(-5, 5) = 1 + 50 / 4000 - cos(-5) cos(5 / sqrt 2)
    # ackley(-2.5, 2): cos(-5 pi) + cos(4 pi) = 0, so -20 exp(-0.2 sqrt(10.25 / 2)) - e^0 + e + 20
    # three_hump_camel(-1.5, 1.5) = 2 * 2.25 - 1.05 * 5.0625 + 11.390625 / 6 - 2.25 + 2.25
    expected = {
        "rosenbrock": 12.5,
        "himmelblau": 170.0,
        "griewank": 1 + 50 / 4000 - math.cos(-5) * math.cos(5 / math.sqrt(2)),
        "ackley": -20 * math.exp(-0.2 * math.sqrt(10.25 / 2)) - 1 + math.e + 20,
        "three_hump_camel": 4.5 - 5.315625 + 1.8984375,
    }
    for name, value in expected.items():
        toy = FUNCTIONS[name]
        assert toy.fn(torch.tensor(toy.start, dtype=torch.float64)).item() == pytest.approx(value, abs=1e-12)


def test_run_path_first_sgd_step_by_hand():
    # grad rosenbrock(-1.5, 2) = (-2 (1 - x) - 400 x (y - x^2), 200 (y - x^2)) = (-5 - 150, -50)
    path = run_path(FUNCTIONS["rosenbrock"].fn, lambda p: torch.optim.SGD(p, lr=1e-3), (-1.5, 2.0), 3)
    assert isinstance(path, np.ndarray) and path.shape == (4, 2)
    np.testing.assert_allclose(path[0], [-1.5, 2.0])
    np.testing.assert_allclose(path[1], [-1.5 + 0.155, 2.0 + 0.05], atol=1e-12)


def test_run_path_adam_reaches_a_himmelblau_minimum():
    toy = FUNCTIONS["himmelblau"]
    path = run_path(toy.fn, lambda p: torch.optim.Adam(p, lr=0.1), toy.start, 400)
    distances = [np.hypot(*(path[-1] - np.array(m))) for m in toy.minima]
    assert min(distances) < 1e-3


class LossRecorder(torch.optim.SGD):
    """An optimizer whose step takes the loss, as doit.DOIT does."""

    def __init__(self, params):
        super().__init__(params, lr=1e-3)
        self.losses = []

    def step(self, closure=None, loss=None):
        self.losses.append(float(loss))
        return super().step(closure)


def test_run_path_passes_loss_to_optimizers_that_take_it():
    recorders = []

    def factory(params):
        recorders.append(LossRecorder(params))
        return recorders[0]

    run_path(FUNCTIONS["rosenbrock"].fn, factory, (-1.5, 2.0), 2)
    assert recorders[0].losses[0] == pytest.approx(12.5)
    assert len(recorders[0].losses) == 2
