"""Transferability before training (eq. 6): the scratch rule, a fixed omega_t, and the full estimate."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from doit.acquisition import transferability_weight
from doit.transferability import leep, logme, omega_p_probe
from runners.data import TensorBatches
from runners.transfer import estimate_transferability


class Net(nn.Module):
    def __init__(self, source: bool):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 5), nn.Tanh())
        self.fc = nn.Linear(5, 3)
        self.head_modules = ["fc"]
        if source:
            self.source_head = nn.Linear(5, 4).requires_grad_(False)

    def forward(self, x):
        return self.fc(self.body(x))


class Exploding(nn.Module):
    def forward(self, x):
        raise AssertionError("a model trained from scratch must not be evaluated")


def cfg(pretrained=True, omega_t=None, samples=50):
    return OmegaConf.create(
        {
            "seed": 3,
            "model": {"pretrained": pretrained},
            "method": {"omega_t": omega_t, "beta": 0.3, "transfer_samples": samples},
        }
    )


def data(n=80):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 3
    x = torch.randn(n, 6, generator=g) + y[:, None].float()
    return SimpleNamespace(train=TensorBatches((x, y), 16, shuffle=True, seed=1))


def test_scratch_rule_computes_nothing():
    out = estimate_transferability(Exploding(), data(), cfg(pretrained=False))
    assert out["omega_t"] == 0.0 and out["omega_p"] is None and out["logme"] is None and out["leep"] is None
    assert 0.0 <= out["time_s"] < 1.0


def test_fixed_omega_t_is_used_as_given():
    assert estimate_transferability(Exploding(), data(), cfg(omega_t=0.4))["omega_t"] == 0.4


@pytest.mark.parametrize("source", [True, False])
def test_estimate_matches_metrics_on_hand_made_features(source):
    torch.manual_seed(0)
    model, d = Net(source), data()
    model.train()
    out = estimate_transferability(model, d, cfg())
    assert model.training  # mode restored
    x, y = (torch.cat(t)[:50] for t in zip(*d.train.epoch(0), strict=True))
    with torch.no_grad():
        f = model.body(x).double().numpy()
        p = torch.softmax(model.source_head(model.body(x)), 1).double().numpy() if source else None
    labels = y.numpy()
    expect = {
        "omega_p": omega_p_probe(f, labels, seed=3),
        "logme": logme(f, labels),
        "leep": leep(p, labels) if source else None,
    }
    omega_d = [expect["logme"]] + ([expect["leep"]] if source else [])
    expect["omega_t"] = transferability_weight(expect["omega_p"], omega_d, 0.3)
    for key, value in expect.items():
        assert (out[key] is None) if value is None else np.isclose(out[key], value, rtol=1e-6), key
    assert 0.0 <= out["omega_t"] <= 1.0 and out["time_s"] > 0.0
