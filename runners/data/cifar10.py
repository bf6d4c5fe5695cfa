"""CIFAR10 (Krizhevsky, 2009) through torchvision: 50,000 / 10,000 32x32 colour images, 10 classes.

Files: the python pickles under ``dataset.root/cifar-10-batches-py``. torchvision verifies their md5
sums even with ``download=false``; this loader keeps that check (a corrupt copy is an error).
"""

from __future__ import annotations

import torch
from torchvision.datasets import CIFAR10

from runners.data import DataBundle
from runners.data.vision import image_bundle, open_torchvision


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    train, test = open_torchvision(
        lambda root, tr, dl: CIFAR10(root, train=tr, download=dl),
        dataset_cfg,
        "cifar-10-batches-py/ with md5-verified batches",
    )
    pairs = [
        (torch.from_numpy(d.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(d.targets, dtype=torch.long))
        for d in (train, test)
    ]
    return image_bundle(*pairs, 10, dataset_cfg, model_cfg, batch_size, seed, device)
