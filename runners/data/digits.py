"""scikit-learn's bundled digits (1,797 8x8 images, 10 classes): the embedded, offline dataset.

Stratified train/test split with a fixed seed (``dataset.test_size``, ``dataset.split_seed``), then
the validation split carved from the (class-filtered) training part (``dataset.val_size``, same seed;
``split`` itself returns the whole training part: pre-training on the source classes uses it);
pixels scaled from 0..16 to [0, 1]; everything stays in memory as tensors. ``dataset.classes`` keeps
a subset of the digits, relabelled 0..k-1 in the order given: the embedded transfer setting trains
on digits 5-9 a model pre-trained on digits 0-4 (``runners.models.small``, the analogue of
ImageNet -> USPS).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from runners.data import DataBundle, TensorBatches, val_split


def split(test_size: float, split_seed: int, classes=None):
    """``(x_train, y_train, x_test, y_test)`` tensors (x: N x 1 x 8 x 8 in [0, 1]) of ``classes`` (all if None)."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, stratify=y, random_state=split_seed)
    if classes is not None:
        keep = [int(c) for c in classes]
        relabel = np.full(10, -1)
        relabel[keep] = np.arange(len(keep))
        tr, te = np.isin(y_tr, keep), np.isin(y_te, keep)
        x_tr, y_tr, x_te, y_te = x_tr[tr], relabel[y_tr[tr]], x_te[te], relabel[y_te[te]]

    def tensors(a, b):
        return torch.tensor(a, dtype=torch.float32).div_(16.0).reshape(-1, 1, 8, 8), torch.tensor(b)

    return (*tensors(x_tr, y_tr), *tensors(x_te, y_te))


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    classes = dataset_cfg.get("classes")
    x_tr, y_tr, x_te, y_te = split(
        float(dataset_cfg.get("test_size", 0.2)),
        int(dataset_cfg.get("split_seed", 0)),
        None if classes is None else list(classes),
    )
    eval_bs = int(dataset_cfg.get("eval_batch_size", 512))
    val = None
    carved = val_split(dataset_cfg, y_tr)
    if carved is not None:
        tr, va = (torch.from_numpy(i) for i in carved)
        val = TensorBatches((x_tr[va], y_tr[va]), eval_bs, shuffle=False, device=device)
        x_tr, y_tr = x_tr[tr], y_tr[tr]
    return DataBundle(
        train=TensorBatches((x_tr, y_tr), batch_size, shuffle=True, seed=seed, device=device),
        test=TensorBatches((x_te, y_te), eval_bs, shuffle=False, device=device),
        val=val,
        num_classes=10 if classes is None else len(classes),
        task="image",
        input_shape=(1, 8, 8),
        metrics=["acc"],
    )
