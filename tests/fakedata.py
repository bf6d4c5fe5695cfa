"""Tiny on-disk datasets in the exact formats the real loaders read (no downloads in tests).

Images carry a class-dependent bright square so a few steps can learn something.
"""

from __future__ import annotations

import bz2
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

CLASSES = 10


def _images(n: int, channels: int, size: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (N, C, H, W) whose bright square's position encodes the label."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    x = rng.integers(0, 60, size=(n, channels, size, size), dtype=np.uint8)
    cell = max(size // 4, 1)
    for i, c in enumerate(labels):
        r, q = divmod(int(c) % 16, 4)
        x[i, :, r * cell : (r + 1) * cell, q * cell : (q + 1) * cell] = 230
    return x, labels.astype(np.uint8)


def _idx(path: Path, array: np.ndarray) -> None:
    """IDX file (LeCun's format): magic (0, 0, dtype 0x08 = ubyte, ndim), big-endian dims, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_mnist(root: Path, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """Uncompressed IDX files under ``root/MNIST/raw`` (what torchvision's MNIST reads)."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        x, y = _images(n, 1, 28, CLASSES, s)
        _idx(raw / f"{split}-images-idx3-ubyte", x[:, 0])
        _idx(raw / f"{split}-labels-idx1-ubyte", y)
    return Path(root)


def make_usps(root: Path, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """``usps.bz2`` / ``usps.t.bz2``: bzip2 libsvm lines ``label i:v ...``, labels 1..10, v in [-1, 1]."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, n, s in (("usps.bz2", n_train, seed), ("usps.t.bz2", n_test, seed + 1)):
        x, y = _images(n, 1, 16, CLASSES, s)
        values = x.reshape(n, -1).astype(np.float64) / 255.0 * 2.0 - 1.0
        lines = [
            f"{int(c) + 1} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in enumerate(row))
            for c, row in zip(y, values, strict=True)
        ]
        (root / name).write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))
    return root


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_cifar10(root: Path, n_per_batch: int = 40, seed: int = 0) -> dict[str, str]:
    """``cifar-10-batches-py`` pickles (5 train batches, test batch, meta); returns file -> md5."""
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        x, y = _images(n_per_batch, 3, 32, CLASSES, seed + k)
        entry = {
            "batch_label": name,
            "labels": [int(c) for c in y],
            "data": x.reshape(n_per_batch, -1),
            "filenames": ["f.png"] * n_per_batch,
        }
        (base / name).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {"label_names": [f"class{i}" for i in range(CLASSES)], "num_cases_per_batch": n_per_batch}
    (base / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {name: _md5(base / name) for name in names + ["batches.meta"]}


def make_stl10(root: Path, n_train: int = 40, n_test: int = 40, seed: int = 0) -> dict[str, str]:
    """``stl10_binary``: uint8 column-major 3x96x96 images, labels 1..10; returns file -> md5."""
    base = Path(root) / "stl10_binary"
    base.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = _images(n, 3, 96, CLASSES, s)
        (base / f"{split}_X.bin").write_bytes(np.ascontiguousarray(x.transpose(0, 1, 3, 2)).tobytes())
        (base / f"{split}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())
    (base / "unlabeled_X.bin").write_bytes(b"")
    (base / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(CLASSES)) + "\n")
    folds = np.arange(n_train).reshape(2, -1)
    (base / "fold_indices.txt").write_text("\n".join(" ".join(map(str, f)) for f in folds) + "\n")
    names = [
        "train_X.bin",
        "train_y.bin",
        "test_X.bin",
        "test_y.bin",
        "unlabeled_X.bin",
        "class_names.txt",
        "fold_indices.txt",
    ]
    return {name: _md5(base / name) for name in names}


def make_imagefolder(
    root: Path, classes: list[str], n_per_class: int = 3, size: int = 40, seed: int = 0
) -> Path:
    """``root/<class>/<i>.JPEG`` RGB images (the ImageFolder layout of ImageNet and ImageNet-A)."""
    from PIL import Image

    root = Path(root)
    x, y = _images(n_per_class * len(classes), 3, size, len(classes), seed)
    for i, (img, c) in enumerate(zip(x, y, strict=True)):
        folder = root / classes[int(c)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"img_{i}.JPEG")
    return root


WORDS = (
    "the cat sat on a mat dog ran in park bird flew over tree quick brown fox jumps lazy red "
    "blue car drove road man read book woman wrote letter"
).split()

_GLUE_COLUMNS = {
    "mrpc": ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"),
    "qqp": ("id", "qid1", "qid2", "question1", "question2", "is_duplicate"),
    "wnli": ("index", "sentence1", "sentence2", "label"),
}


def make_glue(root: Path, task: str, n_train: int = 48, n_dev: int = 24, seed: int = 0) -> Path:
    """``root/<TASK>/{train,dev}.tsv`` in the original GLUE column layout; label 1 = paraphrase
    (the second sentence repeats the first), 0 = unrelated words."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / task.upper()
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("dev", n_dev)):
        rows = ["\t".join(_GLUE_COLUMNS[task])]
        for i in range(n):
            label = i % 2
            a = " ".join(rng.choice(WORDS, size=6))
            b = a if label else " ".join(rng.choice(WORDS, size=6))
            fields = {
                "mrpc": (label, 10 * i, 10 * i + 1, a, b),
                "qqp": (i, 2 * i, 2 * i + 1, a, b, label),
                "wnli": (i, a, b, label),
            }[task]
            rows.append("\t".join(map(str, fields)))
        (folder / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return Path(root)


def make_tokenizer(folder: Path) -> Path:
    """A WordPiece tokenizer over ``WORDS`` that ``transformers.AutoTokenizer`` loads offline."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "BertTokenizer", "do_lower_case": true}'
    )
    return folder
