"""Datasets for the runner: ``build_data`` dispatches by name to one module per dataset.

Extension point: a dataset is a YAML under ``conf/dataset/`` with ``name`` and ``loader`` (a module
path, e.g. ``loader: runners.data.mnist``); that module defines

    build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle

and raises ``runners.schema.ConfigError`` for user errors (missing files: name ``dataset.root``).
Nothing here needs editing to add a dataset.

Batches: ``DataBundle.train`` / ``test`` / ``val`` implement ``Batches``: ``len()`` batches per pass,
``epoch(e, start=0)`` yields the batches of pass ``e`` from batch ``start`` on, in an order that depends
only on (seed, e) (so a resumed run skips exactly the consumed batches), and plain iteration gives the
unshuffled order (evaluation). A batch is ``(x, y)`` for images or a dict of tensors with a ``labels``
key for text. ``TensorBatches`` keeps whole tensors in (device) memory: no DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch

from runners.schema import import_named


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


def shuffle_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator that orders pass ``epoch``: seeded by (seed, epoch) only."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


class TensorBatches:
    """Mini-batches over in-memory tensors (a tuple ``(x, y)`` or a dict with ``labels``)."""

    def __init__(self, tensors, batch_size: int, shuffle: bool, seed: int = 0, device="cpu",
                 drop_last: bool = False):
        self.is_dict = isinstance(tensors, dict)
        items = tensors if self.is_dict else dict(enumerate(tensors))
        self.tensors = {k: v.to(device) for k, v in items.items()}
        self.n = len(next(iter(self.tensors.values())))
        self.batch_size, self.shuffle, self.seed, self.drop_last = int(batch_size), shuffle, int(seed), drop_last

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _batch(self, index):
        part = {k: (v[index] if isinstance(index, torch.Tensor) else v[index[0]:index[1]])
                for k, v in self.tensors.items()}
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


def build_data(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    """Import ``dataset_cfg.loader`` and call its ``build``."""
    module = import_named("dataset.loader", dataset_cfg.get("loader"), "runners.data.digits")
    return module.build(dataset_cfg, model_cfg, batch_size, seed, device)
