"""The validation split (``dataset.val_size``) of every loader: carved from the training data only,
disjoint from train and test, stratified, seeded by ``dataset.split_seed`` (not the run seed), sized as
asked, absent with ``val_size=0``; a bad value is one line (exit 2); the runner records ``val_acc``."""

from __future__ import annotations

import json
from collections import Counter

import fakedata
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from sklearn.datasets import load_digits
from test_data_torchvision import dataset_cfg, model_cfg, patched_md5

from runners.cli import main
from runners.data import build_data, val_split
from runners.data.digits import split


def rows(batches) -> list[tuple[bytes, int]]:
    """One ``(example bytes, label)`` per example, in iteration order."""
    out = []
    for batch in batches:
        if isinstance(batch, dict):
            x = torch.cat([batch["input_ids"], batch["attention_mask"]], 1)
            y = batch["labels"]
        else:
            x, y = batch
        x = x.reshape(len(y), -1).numpy()
        out += [(x[i].tobytes(), int(y[i])) for i in range(len(y))]
    return out


def check_split(train, val, test, n_train: int, val_size: float = 0.1):
    """Disjoint (as examples), sized ``val_size`` of ``n_train``, stratified within one example per class."""
    assert len(train) + len(val) == n_train
    assert len(val) == int(np.ceil(val_size * n_train))
    assert not set(train) & set(val) and not set(val) & set(test) and not set(train) & set(test)
    everything = Counter(y for _, y in train) + Counter(y for _, y in val)
    got = Counter(y for _, y in val)
    for label, count in everything.items():
        assert abs(got[label] - val_size * count) <= 1, (label, got[label], count)


def fabricate(name, root):
    """Fabricated files big enough to stratify 10% (>= 1 validation example per class); n_train."""
    if name in ("mnist", "usps"):
        getattr(fakedata, f"make_{name}")(root, n_train=200, n_test=50)
        return {}, 200
    if name == "cifar10":
        return fakedata.make_cifar10(root, n_per_batch=20), 100  # 5 training batches of 20
    return fakedata.make_stl10(root, n_train=100, n_test=20), 100


@pytest.mark.parametrize("name", ["mnist", "usps", "cifar10", "stl10"])
def test_torchvision_loaders(tmp_path, name):
    sums, n_train = fabricate(name, tmp_path)
    with patched_md5(sums):
        a = build_data(dataset_cfg(name, tmp_path), model_cfg(), 16, 0, "cpu")
        b = build_data(dataset_cfg(name, tmp_path), model_cfg(), 16, 7, "cpu")  # another run seed
        off = build_data(dataset_cfg(name, tmp_path, val_size=0), model_cfg(), 16, 0, "cpu")
        other = build_data(dataset_cfg(name, tmp_path, split_seed=1), model_cfg(), 16, 0, "cpu")
    train, val, test = rows(a.train), rows(a.val), rows(a.test)
    check_split(train, val, test, n_train)
    assert rows(b.val) == val and rows(b.train) == train  # the run seed shuffles batches only
    assert off.val is None and len(rows(off.train)) == n_train
    assert rows(other.val) != val  # dataset.split_seed chooses the split


def test_digits_partition_and_pretraining_split(tmp_path):
    cfg = OmegaConf.load("conf/dataset/digits.yaml")
    a, b = build_data(cfg, None, 32, 0, "cpu"), build_data(cfg, None, 32, 3, "cpu")
    train, val, test = rows(a.train), rows(a.val), rows(a.test)
    x, y = load_digits(return_X_y=True)
    full = [((xi / 16.0).astype(np.float32).tobytes(), int(yi)) for xi, yi in zip(x, y, strict=True)]
    assert Counter(train) + Counter(val) + Counter(test) == Counter(full)  # a partition of the dataset
    assert len(test) == 360 and len(val) == 144 and len(train) == 1293
    got, total = Counter(y for _, y in val), Counter(y for _, y in train + val)
    assert all(abs(got[c] - 0.1 * total[c]) <= 1 for c in range(10))
    assert rows(b.val) == val and sorted(rows(b.train)) == sorted(train)
    # split() (also digits_pretrain's source data) still returns the whole training part
    x_tr, y_tr, x_te, _ = split(0.2, 0, None)
    assert len(y_tr) == 1437 and len(x_te) == 360
    transfer = build_data(OmegaConf.load("conf/dataset/digits_transfer.yaml"), None, 32, 0, "cpu")
    assert {y for _, y in rows(transfer.val)} == set(range(5))  # target classes only, never the source's
    off = build_data(OmegaConf.merge(cfg, {"val_size": 0}), None, 32, 0, "cpu")
    assert off.val is None and len(rows(off.train)) == 1437


def folder_rows(batches) -> list[int]:
    return list(batches.dataset.indices)


def test_imagenet_folders(tmp_path):
    wnids = [f"n{i:08d}" for i in range(5)]
    fakedata.make_imagefolder(tmp_path / "train", wnids, n_per_class=10, size=8)
    fakedata.make_imagefolder(tmp_path / "val", wnids, n_per_class=2, size=8, seed=1)
    cfg = OmegaConf.load("conf/dataset/imagenet.yaml")
    cfg.root, cfg.workers = str(tmp_path), 0
    model = OmegaConf.create({"pretrained": True, "image_size": 8})
    a, b = build_data(cfg, model, 4, 0, "cpu"), build_data(cfg, model, 4, 9, "cpu")
    train, val = folder_rows(a.train), folder_rows(a.val)
    targets = a.train.dataset.dataset.targets
    assert len(val) == 5 and not set(train) & set(val) and len(train) + len(val) == 50
    assert sorted(targets[i] for i in val) == list(range(5))  # stratified: one per class
    assert folder_rows(b.val) == val
    assert a.val.dataset.dataset is a.train.dataset.dataset is not a.test.dataset  # test: its own folder
    assert sum(len(y) for _, y in a.val) == 5


def test_imagenet_a_split_keeps_the_test_set(tmp_path):
    fakedata.make_imagefolder(tmp_path, [f"c{i}" for i in range(5)], n_per_class=20, size=8)
    cfg = OmegaConf.load("conf/dataset/imagenet_a.yaml")
    cfg.root, cfg.workers, cfg.label_space = str(tmp_path), 0, "folders"
    model = OmegaConf.create({"pretrained": True, "image_size": 8})
    a = build_data(cfg, model, 4, 0, "cpu")
    off = build_data(OmegaConf.merge(cfg, {"val_size": 0}), model, 4, 0, "cpu")
    train, val, test = folder_rows(a.train), folder_rows(a.val), folder_rows(a.test)
    assert test == folder_rows(off.test) and len(test) == 20  # the 80/20 split is unchanged
    assert sorted(train + val) == sorted(folder_rows(off.train)) and len(val) == 8
    assert not set(val) & set(test) and not set(val) & set(train)
    targets = a.train.dataset.dataset.targets
    assert all(1 <= n <= 2 for n in Counter(targets[i] for i in val).values())  # 8 of 80 over 5 classes


def test_glue(tmp_path):
    pytest.importorskip("transformers")
    fakedata.make_glue(tmp_path, "mrpc", n_train=40, n_dev=10)
    cfg = OmegaConf.load("conf/dataset/mrpc.yaml")
    cfg.root, cfg.download = str(tmp_path), False
    model = OmegaConf.create({"tokenizer": str(fakedata.make_tokenizer(tmp_path / "tok")), "hf_name": None})
    a, b = build_data(cfg, model, 4, 0, "cpu"), build_data(cfg, model, 4, 5, "cpu")
    train, val, test = rows(a.train), rows(a.val), rows(a.test)
    check_split(train, val, test, 40)
    assert rows(b.val) == val
    assert build_data(OmegaConf.merge(cfg, {"val_size": 0}), model, 4, 0, "cpu").val is None


def test_val_split_helper_falls_back_without_enough_examples_per_class():
    cfg = OmegaConf.create({"val_size": 0.1, "split_seed": 0})
    tr, va = val_split(cfg, np.arange(20) % 10)  # 2 validation examples < 10 classes: unstratified
    assert len(va) == 2 and sorted([*tr, *va]) == list(range(20))
    assert val_split(OmegaConf.create({"val_size": 0}), [0, 1]) is None


@pytest.mark.parametrize("value", ["1.5", "-0.1", "1"])
def test_bad_val_size_is_one_line_exit_2(tmp_path, capsys, value):
    code = main(
        [f"hydra.run.dir={tmp_path / 'run'}", "epochs=1", "progress=off", f"dataset.val_size={value}"]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: dataset.val_size:"), lines


def test_runner_records_val_acc(tmp_path, one_thread):
    args = ["epochs=1", "progress=off", "plot=false"]
    assert main([f"hydra.run.dir={tmp_path / 'a'}", *args]) == 0
    result = json.loads((tmp_path / "a" / "result.json").read_text())["metrics"]
    rows_ = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= result["val_acc"] <= 100 and result["best_val_acc"] == result["val_acc"]
    assert rows_[-1]["val_acc"] == result["val_acc"] and "val_loss" in rows_[-1]
    assert main([f"hydra.run.dir={tmp_path / 'b'}", *args, "dataset.val_size=0"]) == 0
    off = json.loads((tmp_path / "b" / "result.json").read_text())["metrics"]
    assert off["val_acc"] is None and off["best_val_acc"] is None
