"""MNIST, USPS, CIFAR10, STL10 through their real torchvision loaders on fabricated on-disk copies.

CIFAR10 and STL10: torchvision checks md5 sums even with download=False; the loaders keep that check,
so these tests replace the expected sums by those of the fabricated files (``patched_md5``).
"""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import fakedata
import pytest
import torch
from omegaconf import OmegaConf
from torchvision.datasets import CIFAR10, STL10

from runners.data import build_data
from runners.schema import ConfigError


def dataset_cfg(name, root, **kw):
    cfg = OmegaConf.load(f"conf/dataset/{name}.yaml")
    cfg.root, cfg.download = str(root), False
    cfg.merge_with(kw)
    return cfg


def model_cfg(**kw):
    return OmegaConf.create({"pretrained": False, "in_channels": None, "image_size": None, **kw})


@contextmanager
def patched_md5(sums):
    with (
        mock.patch.object(
            CIFAR10, "train_list", [[f"data_batch_{i}", sums.get(f"data_batch_{i}")] for i in range(1, 6)]
        ),
        mock.patch.object(CIFAR10, "test_list", [["test_batch", sums.get("test_batch")]]),
        mock.patch.dict(CIFAR10.meta, {"md5": sums.get("batches.meta")}),
        mock.patch.object(STL10, "train_list", [[n, sums.get(n)] for n, _ in STL10.train_list]),
        mock.patch.object(STL10, "test_list", [[n, sums.get(n)] for n, _ in STL10.test_list]),
    ):
        yield


@pytest.mark.parametrize(
    "name,make,n_train,n_test,shape",
    [
        ("mnist", fakedata.make_mnist, 200, 100, (1, 28, 28)),
        ("usps", fakedata.make_usps, 200, 100, (1, 16, 16)),
    ],
)
def test_grey_digits(tmp_path, name, make, n_train, n_test, shape):
    make(tmp_path)
    data = build_data(dataset_cfg(name, tmp_path), model_cfg(), 32, 0, "cpu")
    assert (data.num_classes, data.task, data.input_shape, data.metrics) == (10, "image", shape, ["acc"])
    xs, ys = zip(*data.train.epoch(0), strict=True)
    n_val = sum(len(y) for _, y in data.val)  # dataset.val_size (0.1) of the training files
    assert n_val == n_train // 10 and sum(len(y) for y in ys) == n_train - n_val
    assert sum(len(y) for _, y in data.test) == n_test
    x = torch.cat(xs)
    assert x.dtype == torch.float32 and abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    assert sorted(torch.cat(ys).unique().tolist()) == list(range(10))


def test_usps_labels_shift_to_zero(tmp_path):
    fakedata.make_usps(tmp_path, n_train=20, n_test=10)
    first = (tmp_path / "usps.bz2").read_bytes()
    import bz2

    label_file = int(bz2.decompress(first).split(b" ", 1)[0])
    data = build_data(dataset_cfg("usps", tmp_path), model_cfg(), 20, 0, "cpu")
    assert int(next(iter(data.train))[1][0]) == label_file - 1


def test_grey_to_three_channels_and_resize_for_pretrained(tmp_path):
    fakedata.make_mnist(tmp_path, n_train=20, n_test=10)
    data = build_data(
        dataset_cfg("mnist", tmp_path), model_cfg(pretrained=True, in_channels=3, image_size=64), 8, 0, "cpu"
    )
    x, _ = next(iter(data.train))
    assert x.shape == (8, 3, 64, 64) and data.input_shape == (3, 64, 64)
    assert torch.allclose(x[:, 0] * 0.229 + 0.485, x[:, 1] * 0.224 + 0.456, atol=1e-5)  # grey repeated


@pytest.mark.parametrize(
    "name,make,shape",
    [
        ("cifar10", fakedata.make_cifar10, (3, 32, 32)),
        ("stl10", fakedata.make_stl10, (3, 96, 96)),
    ],
)
def test_colour_sets_with_md5_check(tmp_path, name, make, shape):
    sums = make(tmp_path)
    with pytest.raises(ConfigError, match="dataset.root"):  # the real sums reject fabricated files
        build_data(dataset_cfg(name, tmp_path), model_cfg(), 16, 0, "cpu")
    with patched_md5(sums):
        data = build_data(dataset_cfg(name, tmp_path), model_cfg(), 16, 0, "cpu")
    assert data.input_shape == shape and data.num_classes == 10
    x, y = next(iter(data.test))
    assert x.shape[1:] == shape and y.dtype == torch.long and 0 <= int(y.min()) and int(y.max()) <= 9


def test_stl10_reads_column_major_images(tmp_path):
    sums = fakedata.make_stl10(tmp_path, n_train=10, n_test=10)
    with patched_md5(sums):
        data = build_data(dataset_cfg("stl10", tmp_path), model_cfg(pretrained=True), 10, 0, "cpu")
    x, y = next(iter(data.train))
    # fabricated images carry a bright square at row r = (label % 16) // 4, column q = label % 4
    img = x[0].mean(0)
    cell = 96 // 4
    r, q = divmod(int(y[0]), 4)
    assert img[r * cell : (r + 1) * cell, q * cell : (q + 1) * cell].mean() > img.mean() + 1.0


@pytest.mark.parametrize("name", ["mnist", "usps", "cifar10", "stl10"])
def test_missing_dataset_is_one_line(tmp_path, name):
    with pytest.raises(ConfigError) as err:
        build_data(dataset_cfg(name, tmp_path), model_cfg(), 16, 0, "cpu")
    text = str(err.value)
    assert "\n" not in text and str(tmp_path) in text and "dataset.download=true" in text


@pytest.mark.parametrize(
    "error",
    [
        OSError("[Errno -3] Temporary failure in name resolution"),
        RuntimeError("File not found or corrupted."),
    ],
)
def test_failed_download_is_one_line_pointing_at_dataset_root(tmp_path, error):
    """Offline with download=true (the README's headline command): one line on how to point dataset.root at a copy."""
    import urllib.error

    raised = urllib.error.URLError(error) if isinstance(error, OSError) else error
    with mock.patch.object(CIFAR10, "download", side_effect=raised), pytest.raises(ConfigError) as err:
        build_data(dataset_cfg("cifar10", tmp_path, download=True), model_cfg(), 16, 0, "cpu")
    text = str(err.value)
    assert "\n" not in text and text.startswith("dataset.root: cifar10 not found")
    assert str(tmp_path / "cifar-10-batches-py") in text and "dataset.root=/path/to/the/copy" in text


def test_headline_vit_cifar10_doit_trains_with_the_data_present(tmp_path, capsys):
    """`python -m runners.train model=vit dataset=cifar10 method=doit` with a (fabricated) copy of CIFAR10 at
    dataset.root trains; ViT shrunk (model.tiny=true, 32 px, random weights) so a step is fast."""
    from runners.cli import main

    sums = fakedata.make_cifar10(tmp_path / "data", n_per_batch=16)
    out = tmp_path / "run"
    argv = [
        "model=vit",
        "dataset=cifar10",
        "method=doit",
        f"dataset.root={tmp_path / 'data'}",
        "dataset.download=false",
        "model.tiny=true",
        "model.pretrained=false",
        "model.image_size=32",
        "epochs=1",
        "batch_size=16",
        "method.tau=2",
        "method.n_ini=1",
        "plot=false",
        "progress=off",
        f"hydra.run.dir={out}",
    ]
    with patched_md5(sums):
        code = main(argv)
    assert code == 0, capsys.readouterr().err
    assert (out / "result.json").is_file()
    import json

    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "complete" and result["timing"]["steps"] == 5, result["timing"]


def test_train_size_keeps_a_stratified_subset_before_the_validation_split(tmp_path):
    fakedata.make_mnist(tmp_path, n_train=200, n_test=10)
    full = build_data(dataset_cfg("mnist", tmp_path), model_cfg(), 8, 0, "cpu")
    small = build_data(dataset_cfg("mnist", tmp_path, train_size=100), model_cfg(), 8, 0, "cpu")
    assert (full.train.n, full.val.n) == (180, 20) and (small.train.n, small.val.n) == (90, 10)
    labels = torch.cat([small.train.tensors[1], small.val.tensors[1]])
    assert torch.bincount(labels).tolist() == [10] * 10  # fakedata: 20 per class, half kept of each


def test_small_model_pretrained_on_digits_sees_unnormalised_pixels(tmp_path):
    fakedata.make_mnist(tmp_path, n_train=20, n_test=10)
    data = build_data(
        dataset_cfg("mnist", tmp_path), model_cfg(pretrained=True, builder="small"), 8, 0, "cpu"
    )
    x, _ = next(iter(data.train))
    assert x.shape == (8, 1, 28, 28) and x.min() >= 0 and x.max() <= 1  # the digits source's [0, 1] scale


def test_a_folder_of_gzipped_mnist_files_that_are_not_mnist_is_one_line(tmp_path, monkeypatch):
    import gzip

    from runners.data import mnist

    monkeypatch.setenv("DOIT_CACHE", str(tmp_path / "cache"))
    for name in mnist.MD5:
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(ConfigError, match=r"^dataset.root: .*train-images-idx3-ubyte.gz does not decompress"):
        build_data(dataset_cfg("mnist", tmp_path), model_cfg(), 8, 0, "cpu")
    assert not list((tmp_path / "cache" / "mnist" / "MNIST" / "raw").iterdir())  # nothing half-staged kept
