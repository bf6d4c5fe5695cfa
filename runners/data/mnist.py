"""MNIST (LeCun et al., 1998) through torchvision: 60,000 / 10,000 28x28 grey digits, 10 classes.

Files: ``dataset.root`` (default ``$MNIST_ROOT``, else ``$DOIT_DATA``, else ``data``) is either
torchvision's layout (uncompressed IDX files under ``<root>/MNIST/raw``; torchvision downloads them there
when ``dataset.download`` is true) or a folder holding the four gzipped IDX files themselves (as
``../shared/data/mnist`` on this project's machines). The latter are decompressed once into
``$DOIT_CACHE/mnist/MNIST/raw`` and checked against MNIST's published md5 sums before torchvision reads
them (their gzip wrappers differ from torchvision's, so its own download check would refuse them).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

from omegaconf import OmegaConf
from torchvision.datasets import MNIST

from runners.data import DataBundle, cache_dir
from runners.data.vision import image_bundle, open_torchvision
from runners.results import atomic
from runners.schema import config_error

# md5 of each decompressed file (the MNIST database's; ../shared/data/mnist/README.md lists the same)
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_gzipped(source: Path, dest: Path | None = None) -> Path:
    """Decompress the four ``<name>.gz`` of ``source`` into ``<dest>/MNIST/raw`` (once; md5-checked) and
    return ``dest``, a root torchvision's ``MNIST`` reads."""
    dest = cache_dir() / "mnist" if dest is None else dest
    raw = dest / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, md5 in MD5.items():
        target = raw / name
        if target.is_file() and _md5(target) == md5:
            continue
        with gzip.open(source / f"{name}.gz", "rb") as src, atomic(target, binary=True) as dst:
            shutil.copyfileobj(src, dst)
        if _md5(target) != md5:
            target.unlink()
            raise config_error(
                "dataset.root", f"{source / name}.gz does not decompress to MNIST's {name} (md5)"
            )
    return dest


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    root = Path(str(dataset_cfg.root)).expanduser()
    if not (root / "MNIST" / "raw").is_dir() and all((root / f"{n}.gz").is_file() for n in MD5):
        dataset_cfg = OmegaConf.merge(dataset_cfg, {"root": str(stage_gzipped(root))})
    train, test = open_torchvision(
        lambda root, tr, dl: MNIST(root, train=tr, download=dl), dataset_cfg, "MNIST/raw/*-ubyte"
    )
    pairs = [(d.data.unsqueeze(1), d.targets.long()) for d in (train, test)]
    return image_bundle(*pairs, 10, dataset_cfg, model_cfg, batch_size, seed, device)
