"""Candidate space: Candidate, expand, hyper_vector, label."""

import dataclasses
import math

import numpy as np
import pytest

from doit.space import Candidate, expand, hyper_vector, label

GRID = {
    "sgd": {"lr": [0.1, 0.01]},
    "sgdm": {"lr": [0.01], "momentum": [0.5, 0.9]},
    "adam": {"weight_decay": [0.0, 1e-4], "lr": [0.001]},
}


def test_config_sorts_hyper_and_is_frozen():
    config = Candidate("sgdm", (("momentum", 0.9), ("lr", 0.01)))
    assert config.hyper == (("lr", 0.01), ("momentum", 0.9))
    assert config == Candidate("sgdm", (("lr", 0.01), ("momentum", 0.9)))
    assert config.lr == 0.01
    assert config.as_dict() == {"lr": 0.01, "momentum": 0.9}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.optimizer = "adam"
    assert len({config, Candidate("sgdm", (("lr", 0.01), ("momentum", 0.9)))}) == 1


def test_expand_grid_cartesian_product_in_given_order():
    labels = [label(c) for c in expand(GRID)]
    assert labels == [
        "sgd(lr=0.1)",
        "sgd(lr=0.01)",
        "sgdm(lr=0.01,momentum=0.5)",
        "sgdm(lr=0.01,momentum=0.9)",
        "adam(lr=0.001,weight_decay=0.0)",
        "adam(lr=0.001,weight_decay=0.0001)",
    ]


def test_expand_accepts_expanded_lists_and_scalars():
    configs = expand(GRID)
    assert expand(configs) == configs
    dicts = [{"optimizer": c.optimizer, **c.as_dict()} for c in configs]
    assert expand(dicts) == configs
    assert expand({"adam": {"lr": 0.001}}) == [Candidate("adam", (("lr", 0.001),))]
    assert expand({"adam": {"lr": [np.float64(0.001)]}})[0].hyper == (("lr", 0.001),)


def test_expand_accepts_omegaconf_containers():
    omegaconf = pytest.importorskip("omegaconf")
    assert expand(omegaconf.OmegaConf.create(GRID)) == expand(GRID)


def test_tuple_values_hash_and_label():
    config = expand({"adam": {"lr": [0.001], "betas": [[0.9, 0.999]]}})[0]
    assert config.as_dict()["betas"] == (0.9, 0.999)
    assert label(config) == "adam(betas=(0.9,0.999),lr=0.001)"
    np.testing.assert_allclose(hyper_vector(config), [0.9, 0.999, -3.0])


def test_hyper_vector_golden():
    # sorted keys: alpha (raw), lr (log10), momentum (raw), weight_decay (log10; 0 -> log10 1e-6 = -6)
    config = Candidate("rmsprop", (("lr", 0.01), ("alpha", 0.9), ("weight_decay", 0.0), ("momentum", 0.5)))
    np.testing.assert_allclose(hyper_vector(config), [0.9, -2.0, 0.5, -6.0], atol=1e-12)
    decayed = Candidate("adam", (("lr", 3e-4), ("weight_decay", 1e-2)))
    np.testing.assert_allclose(hyper_vector(decayed), [math.log10(3e-4), -2.0], atol=1e-12)
    assert hyper_vector(decayed).dtype == np.float64


def test_label_is_stable():
    assert label(Candidate("adam", (("lr", 0.001),))) == "adam(lr=0.001)"
    assert label(Candidate("sgdm", (("momentum", 0.9), ("lr", 0.01)))) == "sgdm(lr=0.01,momentum=0.9)"
    assert label(Candidate("sgd", (("lr", 1e-5), ("nesterov", True)))) == "sgd(lr=1e-05,nesterov=True)"


@pytest.mark.parametrize(
    "grid, match",
    [
        ({}, "empty"),
        ([], "empty"),
        ({"adam": {"lr": []}}, "empty list"),
        ({"adam": {"lr": [0.0]}}, "adam.lr=0.0 must be a positive"),
        ({"adam": {"lr": [-1e-3]}}, "positive"),
        ({"adam": {"lr": [float("nan")]}}, "positive"),
        ({"adam": {"betas": [[0.9, 0.99]]}}, "needs an lr"),
        ({"adam": {"lr": [0.1], "weight_decay": [-1.0]}}, "weight_decay"),
        ({"adam": {"lr": [0.1, 0.1]}}, "twice"),
        ({"adam": [0.1]}, "must map"),
        ([{"lr": 0.1}], "optimizer"),
        ("adam", "must be a dict"),
    ],
)
def test_expand_rejects_bad_spaces(grid, match):
    with pytest.raises(ValueError, match=match):
        expand(grid)


def test_hyper_vector_rejects_strings():
    with pytest.raises(ValueError, match="not numeric"):
        hyper_vector(Candidate("adam", (("lr", 0.1), ("mode", "fast"))))
