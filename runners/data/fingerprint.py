"""What a run trained and evaluated on, kept in ``checkpoint.pt``: a resumed run refuses data that changed.

Per split (train, val, test): a BLAKE2 digest with the number of examples and bytes. In-memory batches
(``TensorBatches``: every small dataset) hash their tensors; streamed ImageFolder batches hash their file
list with each file's size and modification time (no image is read). A file replaced, truncated, added or
removed under ``dataset.root`` between a run and its resume changes the digest of the splits it feeds.
"""

from __future__ import annotations

import hashlib
import os

import torch

from runners.schema import ConfigError


def _tensors(batches) -> tuple[hashlib.blake2b, int, int]:
    digest, size = hashlib.blake2b(digest_size=16), 0
    for key in sorted(batches.tensors, key=str):
        t = batches.tensors[key].detach().contiguous().cpu()
        digest.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
        size += t.numel() * t.element_size()
    return digest, batches.n, size


def _samples(batches) -> list | None:
    """The ``(path, label)`` pairs a streamed split reads (an ImageFolder or a ``Subset`` of one), or None."""
    dataset = getattr(batches, "dataset", None)
    indices = getattr(dataset, "indices", None)
    folder = dataset.dataset if indices is not None else dataset
    samples = getattr(folder, "samples", None)
    if samples is None:
        return None
    return [samples[i] for i in indices] if indices is not None else list(samples)


def _files(samples: list) -> tuple[hashlib.blake2b, int, int]:
    digest, size = hashlib.blake2b(digest_size=16), 0
    for path, label in samples:
        st = os.stat(path)
        digest.update(f"{path}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        size += st.st_size
    return digest, len(samples), size


def _split(batches) -> dict | None:
    if hasattr(batches, "tensors"):
        digest, n, size = _tensors(batches)
    elif (samples := _samples(batches)) is not None:
        digest, n, size = _files(samples)
    else:
        return None
    return {"digest": digest.hexdigest(), "examples": int(n), "bytes": int(size)}


def fingerprint(data) -> dict:
    """``{split: {"digest", "examples", "bytes"}}`` of a ``DataBundle``'s train, val and test batches."""
    splits = {"train": data.train, "val": data.val, "test": data.test}
    return {name: found for name, b in splits.items() if b is not None and (found := _split(b)) is not None}


def _change(name: str, old: dict | None, new: dict | None) -> str:
    def size(entry: dict | None) -> str:
        return "none" if entry is None else f"{entry['examples']:,} examples, {entry['bytes']:,} bytes"

    if size(old) == size(new):
        return f"{name}: other contents of the same size ({size(new)})"
    return f"{name}: {size(old)} before, {size(new)} now"


def check_unchanged(stored: dict | None, current: dict, dataset_cfg, checkpoint: os.PathLike) -> None:
    """``ConfigError`` naming ``dataset.root`` when ``current`` differs from the fingerprint ``stored`` in
    ``checkpoint`` (None: the checkpoint holds no fingerprint, not checked)."""
    if stored is None or stored == current:
        return
    changed = [
        _change(name, stored.get(name), current.get(name))
        for name in ("train", "val", "test")
        if stored.get(name) != current.get(name)
    ]
    root = dataset_cfg.get("root")
    where = (
        f"the {dataset_cfg.name} data under {root}" if root is not None else f"the {dataset_cfg.name} data"
    )
    raise ConfigError(
        f"{'dataset.root' if root is not None else 'dataset'}: {where} changed since {checkpoint} was written "
        f"({'; '.join(changed)}); restore the files the run started with, or rerun with resume=false to "
        "start over on the new data"
    )
