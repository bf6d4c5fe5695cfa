"""ImageNet / ImageNet-A from fabricated ImageFolder trees through the real loader (DataLoader path)."""

from __future__ import annotations

import fakedata
import pytest
import torch
from omegaconf import OmegaConf

from runners.data import build_data
from runners.data.imagefolder import IMAGENET_A_INDICES
from runners.schema import ConfigError

MODEL = OmegaConf.create({"pretrained": True, "image_size": 32})


def cfg(name, root, **kw):
    c = OmegaConf.load(f"conf/dataset/{name}.yaml")
    c.root, c.workers = str(root), 0
    c.merge_with(kw)
    return c


def test_imagenet_train_val_folders(tmp_path):
    wnids = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]
    fakedata.make_imagefolder(tmp_path / "train", wnids, n_per_class=3)
    fakedata.make_imagefolder(tmp_path / "val", wnids, n_per_class=2, seed=1)
    data = build_data(cfg("imagenet", tmp_path), MODEL, 4, 0, "cpu")
    assert data.num_classes == 5 and data.metrics == ["acc"] and data.input_shape == (3, 32, 32)
    assert len(data.train) == 4 and sum(len(y) for _, y in data.test) == 10
    first = [y.tolist() for _, y in data.train.epoch(1)]
    assert first == [y.tolist() for _, y in data.train.epoch(1)]  # order depends on (seed, epoch) only
    resumed = [y.tolist() for _, y in data.train.epoch(1, start=2)]
    assert resumed == first[2:]


def test_imagenet_a_maps_onto_imagenet_indices(tmp_path):
    assert len(IMAGENET_A_INDICES) == 200 and list(IMAGENET_A_INDICES) == sorted(set(IMAGENET_A_INDICES))
    wnids = [f"n{i:08d}" for i in range(200)]
    fakedata.make_imagefolder(tmp_path, wnids, n_per_class=2, size=8)
    data = build_data(cfg("imagenet_a", tmp_path, test_fraction=0.5), MODEL, 64, 0, "cpu")
    assert data.num_classes == 1000
    labels = torch.cat([y for _, y in data.test])
    assert len(labels) == 200 and set(labels.tolist()) == set(IMAGENET_A_INDICES)  # stratified: one per class


def test_imagenet_a_needs_its_200_classes(tmp_path):
    fakedata.make_imagefolder(tmp_path, ["a", "b"], n_per_class=2, size=8)
    with pytest.raises(ConfigError, match="label_space"):
        build_data(cfg("imagenet_a", tmp_path), MODEL, 4, 0, "cpu")


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        build_data(cfg("imagenet", tmp_path / "nowhere"), MODEL, 4, 0, "cpu")
    assert "\n" not in str(err.value) and "nowhere" in str(err.value)
