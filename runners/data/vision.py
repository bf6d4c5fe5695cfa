"""Shared pieces of the image datasets: per-batch transforms on the device and the bundle builder.

Small datasets stay as uint8 tensors on the device; each batch is converted there: to float in
[0, 1], grey to 3 channels when the model wants 3 (``model.in_channels``), resized to
``model.image_size`` (ImageNet-pretrained models; null keeps the native size), then normalised with
ImageNet statistics for pretrained models, else with the training set's per-channel statistics.
``image_bundle`` keeps ``dataset.train_size`` training examples (``subset``), then carves the validation split out of the training pair (``runners.data.val_split``;
the statistics are those of what remains for training).
"""

from __future__ import annotations

import tarfile
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

from runners.data import DataBundle, TensorBatches, val_split
from runners.schema import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def not_found(dataset_cfg, looked: str, how: str) -> ConfigError:
    """The one-line error for a dataset missing on disk."""
    return ConfigError(f"dataset.root: {dataset_cfg.name} not found (looked for {looked}); {how}")


class ImageTransform:
    """uint8 (N, C, H, W) batch -> normalised float batch of ``channels`` x ``size`` x ``size``."""

    def __init__(self, mean, std, channels: int, size: int | None):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.channels, self.size = channels, size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255.0)
        if x.shape[1] == 1 and self.channels == 3:
            x = x.expand(-1, 3, -1, -1)
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


class ImageBatches(TensorBatches):
    """``TensorBatches`` over uint8 images whose batches pass through an ``ImageTransform``."""

    def __init__(
        self, images, labels, transform: ImageTransform, batch_size: int, shuffle: bool, seed: int, device
    ):
        super().__init__((images, labels), batch_size, shuffle=shuffle, seed=seed, device=device)
        self.transform = transform

    def _batch(self, index):
        x, y = super()._batch(index)
        return self.transform(x), y


def image_transform(train_images: torch.Tensor, model_cfg) -> ImageTransform:
    """The transform for ``model_cfg`` given the training images (uint8, N x C x H x W)."""
    channels = int(model_cfg.get("in_channels") or train_images.shape[1])
    size = model_cfg.get("image_size")
    if model_cfg.get("pretrained", False) and model_cfg.get("builder") == "small":
        mean, std = (0.0,), (1.0,)  # pre-trained on digits in [0, 1] (runners/models/digits_pretrain.py)
    elif model_cfg.get("pretrained", False):
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        x = train_images.float().div(255.0)
        mean = x.mean(dim=(0, 2, 3)).tolist()
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()
        if channels == 3 and len(mean) == 1:
            mean, std = mean * 3, std * 3
    return ImageTransform(mean, std, channels, int(size) if size else None)


def subset(dataset_cfg, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``dataset.train_size`` examples of a stratified shuffle seeded by ``dataset.split_seed``
    (all of them when it is null)."""
    size = dataset_cfg.get("train_size")
    if size is None or size >= len(labels):
        return images, labels
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(
        np.arange(len(labels)),
        train_size=int(size),
        stratify=labels.numpy(),
        random_state=int(dataset_cfg.get("split_seed", 0)),
    )
    keep = torch.from_numpy(np.sort(keep))
    return images[keep], labels[keep]


def image_bundle(
    train, test, num_classes: int, dataset_cfg, model_cfg, batch_size: int, seed: int, device
) -> DataBundle:
    """A ``DataBundle`` of in-memory ``(uint8 images, int64 labels)`` pairs for train and test (and val
    carved from train)."""
    train = subset(dataset_cfg, *train)
    val = None
    carved = val_split(dataset_cfg, train[1])
    if carved is not None:
        tr, va = (torch.from_numpy(i) for i in carved)
        val, train = (train[0][va], train[1][va]), (train[0][tr], train[1][tr])
    transform = image_transform(train[0], model_cfg)
    eval_bs = int(dataset_cfg.get("eval_batch_size", 512))
    train_b = ImageBatches(*train, transform, batch_size, shuffle=True, seed=seed, device=device)
    test_b = ImageBatches(*test, transform, eval_bs, shuffle=False, seed=seed, device=device)
    val_b = (
        None
        if val is None
        else ImageBatches(*val, transform, eval_bs, shuffle=False, seed=seed, device=device)
    )
    shape = tuple(transform(train[0][:1]).shape[1:])
    return DataBundle(
        train=train_b,
        test=test_b,
        num_classes=num_classes,
        task="image",
        input_shape=shape,
        metrics=["acc"],
        val=val_b,
    )


def open_torchvision(factory, dataset_cfg, looked: str):
    """``factory(root, download)`` for train and test, with a missing dataset as one ``ConfigError`` line.

    A failed download (no network, a proxy page instead of the archive, a truncated archive) ends as
    one line saying where the files were looked for and how to point ``dataset.root`` at a copy.
    """
    from pathlib import Path

    root = Path(str(dataset_cfg.root)).expanduser()
    download = bool(dataset_cfg.get("download", True))
    try:
        return factory(str(root), True, download), factory(str(root), False, download)
    except (RuntimeError, OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as err:
        if download:
            how = (
                f"downloading it failed ({type(err).__name__}: no network?); download it on a machine with "
                f"internet (this command there, or torchvision) and pass dataset.root=/path/to/the/copy "
                f"(or set DOIT_DATA=/path/to/the/copy)"
            )
        else:
            how = f"set dataset.download=true (needs internet) or copy the files there ({type(err).__name__})"
        raise not_found(dataset_cfg, str(root.absolute() / looked), how) from None
