"""STL10 (Coates et al., 2011) through torchvision: 5,000 / 8,000 96x96 colour images, 10 classes.

Files: the binaries under ``dataset.root/stl10_binary``. torchvision verifies their md5 sums even
with ``download=false``; this loader keeps that check. The unlabeled split is not used.
"""

from __future__ import annotations

import torch
from torchvision.datasets import STL10

from runners.data import DataBundle
from runners.data.vision import image_bundle, open_torchvision


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    train, test = open_torchvision(
        lambda root, tr, dl: STL10(root, split="train" if tr else "test", download=dl),
        dataset_cfg,
        "stl10_binary/ with md5-verified binaries",
    )
    pairs = [(torch.from_numpy(d.data), torch.from_numpy(d.labels.astype("int64"))) for d in (train, test)]
    return image_bundle(*pairs, 10, dataset_cfg, model_cfg, batch_size, seed, device)
