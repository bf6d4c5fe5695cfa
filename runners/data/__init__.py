"""Datasets for the runner: ``build_data`` dispatches by name to one module per dataset.

Extension point: a dataset is a YAML under ``conf/dataset/`` with ``name`` and ``loader`` (a key of
``LOADERS``, e.g. ``loader: mnist``; a config never imports any other module); that module defines

    build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle

and raises ``runners.schema.ConfigError`` for user errors (missing files: name ``dataset.root``).
A new loader module is one line in ``LOADERS``; its keys go into a schema of ``runners.schema``.

Batches: ``DataBundle.train`` / ``test`` / ``val`` implement ``Batches``: ``len()`` batches per pass,
``epoch(e, start=0)`` yields the batches of pass ``e`` from batch ``start`` on, in an order that depends
only on (seed, e) (so a resumed run skips exactly the consumed batches), and plain iteration gives the
unshuffled order (evaluation). A batch is ``(x, y)`` for images or a dict of tensors with a ``labels``
key for text. ``TensorBatches`` keeps whole tensors in (device) memory: no DataLoader workers.

Validation: every loader carves ``DataBundle.val`` out of its training data with ``val_split``
(``dataset.val_size``, a fraction of the training data, 0: none), stratified by label and seeded by
``dataset.split_seed`` (never the run seed: every method and seed of a table sees the same split).
The test set is never touched. Model selection reads ``val_*``; DOIT and transferability see only
``train``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from runners.schema import config_error, registered

# loader name -> module (``loader: runners.data.<name>`` is accepted for the same modules)
LOADERS = {
    name: f"runners.data.{name}"
    for name in ("digits", "mnist", "usps", "stl10", "cifar10", "imagefolder", "glue")
}
# split fractions that must lie strictly between 0 and 1
_FRACTIONS = ("test_size", "test_fraction")
# the validation fraction when a config has no ``val_size`` (the schema's default, runners/schema.py)
DEFAULT_VAL_SIZE = 0.1


class Batches(Protocol):
    def __len__(self) -> int: ...

    def epoch(self, epoch: int, start: int = 0) -> Iterator: ...

    def __iter__(self) -> Iterator: ...


@dataclass
class DataBundle:
    """What a dataset module returns (docs/architecture.md)."""

    train: Batches
    test: Batches
    num_classes: int
    task: str = "image"  # "image" | "text"
    input_shape: tuple = ()
    metrics: list[str] = field(default_factory=lambda: ["acc"])  # "acc", "f1", "acc1", "acc3", "acc5"
    val: Batches | None = None


def cache_dir() -> Path:
    """Files the suite derives once and reuses (pre-trained digits weights, staged MNIST): ``$DOIT_CACHE``,
    default ``~/.cache/doit-repro``."""
    return Path(os.environ.get("DOIT_CACHE", Path.home() / ".cache" / "doit-repro")).expanduser()


def shuffle_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator that orders pass ``epoch``: seeded by (seed, epoch) only."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


class TensorBatches:
    """Mini-batches over in-memory tensors (a tuple ``(x, y)`` or a dict with ``labels``)."""

    def __init__(
        self, tensors, batch_size: int, shuffle: bool, seed: int = 0, device="cpu", drop_last: bool = False
    ):
        self.is_dict = isinstance(tensors, dict)
        items = tensors if self.is_dict else dict(enumerate(tensors))
        self.tensors = {k: v.to(device) for k, v in items.items()}
        self.n = len(next(iter(self.tensors.values())))
        self.batch_size, self.shuffle, self.seed, self.drop_last = (
            int(batch_size),
            shuffle,
            int(seed),
            drop_last,
        )

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _batch(self, index):
        part = {
            k: (v[index] if isinstance(index, torch.Tensor) else v[index[0] : index[1]])
            for k, v in self.tensors.items()
        }
        return part if self.is_dict else tuple(part[k] for k in sorted(part))

    def epoch(self, epoch: int, start: int = 0) -> Iterator:
        order = None
        if self.shuffle:
            order = torch.randperm(self.n, generator=shuffle_generator(self.seed, epoch))
            order = order.to(next(iter(self.tensors.values())).device)
        for b in range(start, len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, self.n)
            yield self._batch((lo, hi) if order is None else order[lo:hi])

    def __iter__(self) -> Iterator:
        for b in range(len(self)):
            yield self._batch((b * self.batch_size, min((b + 1) * self.batch_size, self.n)))


def val_split(dataset_cfg, labels) -> tuple[np.ndarray, np.ndarray] | None:
    """``(train indices, validation indices)`` (sorted) of a training set with ``labels``, or None.

    None when ``dataset.val_size`` is 0. The validation part is ``dataset.val_size`` of the training
    data, stratified by label, seeded by ``dataset.split_seed`` only. A set too small to stratify
    (fewer validation examples than classes, or a class with one example: only fabricated test data)
    gets the same-sized seeded split without stratification.
    """
    from sklearn.model_selection import train_test_split

    size = dataset_cfg.get("val_size", DEFAULT_VAL_SIZE)
    if not size:
        return None
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    index, seed = np.arange(len(labels)), int(dataset_cfg.get("split_seed", 0))
    try:
        train, val = train_test_split(index, test_size=float(size), stratify=labels, random_state=seed)
    except ValueError:
        try:
            train, val = train_test_split(index, test_size=float(size), random_state=seed)
        except ValueError:
            raise config_error(
                "dataset.val_size", f"{size} of {len(labels)} training examples leaves an empty split"
            ) from None
    return np.sort(train), np.sort(val)


def check_dataset(dataset_cfg) -> None:
    """The dataset keys' ranges and paths, before anything is loaded (``ConfigError`` naming the key)."""

    registered("dataset.loader", dataset_cfg.loader, LOADERS)
    for key in _FRACTIONS:
        value = dataset_cfg.get(key)
        if value is not None and not 0 < value < 1:
            raise config_error(f"dataset.{key}", f"must lie strictly between 0 and 1, got {value!r}")
    val_size = dataset_cfg.get("val_size")
    if val_size is not None and not (val_size == 0 or 0 < val_size < 1):
        raise config_error(
            "dataset.val_size",
            f"must be 0 (no validation split) or lie strictly between 0 and 1, got {val_size!r}",
        )
    for key in ("eval_batch_size", "max_length", "train_size"):
        if dataset_cfg.get(key) is not None and dataset_cfg[key] < 1:
            raise config_error(f"dataset.{key}", f"must be >= 1, got {dataset_cfg[key]!r}")
    if dataset_cfg.get("workers") is not None and dataset_cfg.workers < 0:
        raise config_error("dataset.workers", f"must be >= 0, got {dataset_cfg.workers!r}")
    root = dataset_cfg.get("root")
    if (
        root is not None
        and not dataset_cfg.get("download", False)
        and not Path(str(root)).expanduser().exists()
    ):
        raise config_error(
            "dataset.root",
            f"path {str(root)!r} does not exist; point dataset.root= at the directory "
            f"holding the {dataset_cfg.name} files",
        )


def build_data(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    """The ``build`` of the module ``LOADERS[dataset_cfg.loader]``."""
    import importlib

    return importlib.import_module(registered("dataset.loader", dataset_cfg.loader, LOADERS)).build(
        dataset_cfg, model_cfg, batch_size, seed, device
    )
