"""MNIST (LeCun et al., 1998) through torchvision: 60,000 / 10,000 28x28 grey digits, 10 classes.

Files: uncompressed IDX files under ``dataset.root/MNIST/raw`` (torchvision downloads them when
``dataset.download`` is true).
"""

from __future__ import annotations

from torchvision.datasets import MNIST

from runners.data import DataBundle
from runners.data.vision import image_bundle, open_torchvision


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    train, test = open_torchvision(
        lambda root, tr, dl: MNIST(root, train=tr, download=dl), dataset_cfg, "MNIST/raw/*-ubyte"
    )
    pairs = [(d.data.unsqueeze(1), d.targets.long()) for d in (train, test)]
    return image_bundle(*pairs, 10, dataset_cfg, model_cfg, batch_size, seed, device)
