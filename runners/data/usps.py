"""USPS (Hull, 1994) through torchvision: 7,291 / 2,007 16x16 grey digits, 10 classes.

Files: ``usps.bz2`` and ``usps.t.bz2`` (bzip2 libsvm format) directly under ``dataset.root``.
"""

from __future__ import annotations

import torch
from torchvision.datasets import USPS

from runners.data import DataBundle
from runners.data.vision import image_bundle, open_torchvision


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    train, test = open_torchvision(
        lambda root, tr, dl: USPS(root, train=tr, download=dl), dataset_cfg, "usps.bz2 and usps.t.bz2"
    )
    pairs = [
        (torch.from_numpy(d.data).unsqueeze(1), torch.tensor(d.targets, dtype=torch.long))
        for d in (train, test)
    ]
    return image_bundle(*pairs, 10, dataset_cfg, model_cfg, batch_size, seed, device)
