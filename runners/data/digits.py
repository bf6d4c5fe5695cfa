"""scikit-learn's bundled digits (1,797 8x8 images, 10 classes): the embedded, offline dataset.

Stratified train/test split with a fixed seed (``dataset.test_size``, ``dataset.split_seed``);
pixels scaled from 0..16 to [0, 1]; everything stays in memory as tensors.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from runners.data import DataBundle, TensorBatches


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=float(dataset_cfg.get("test_size", 0.2)),
                                              stratify=y, random_state=int(dataset_cfg.get("split_seed", 0)))

    def tensors(a, b):
        return torch.tensor(a, dtype=torch.float32).div_(16.0).reshape(-1, 1, 8, 8), torch.tensor(b)

    eval_bs = int(dataset_cfg.get("eval_batch_size", 512))
    return DataBundle(train=TensorBatches(tensors(x_tr, y_tr), batch_size, shuffle=True, seed=seed, device=device),
                      test=TensorBatches(tensors(x_te, y_te), eval_bs, shuffle=False, device=device),
                      num_classes=10, task="image", input_shape=(1, 8, 8), metrics=["acc"])
