"""ImageNet and ImageNet-A (Hendrycks et al., 2021) from ImageFolder trees, streamed by a DataLoader.

ImageNet: ``dataset.root/<train_dir>/<wnid>/*.JPEG`` and ``dataset.root/<test_dir>/<wnid>/*.JPEG``
(the validation set sorted into class folders), classes in sorted-wnid order (= the usual ImageNet
indices). ImageNet-A: one tree ``dataset.root/<wnid>/*.jpg`` of 200 classes, split into train and
test by a stratified, seeded ``dataset.test_fraction``; with ``dataset.label_space: imagenet1k`` its
200 classes are mapped onto their 1,000-class ImageNet indices (the official list below) and the
model gets a 1,000-way head, so top-1/3/5 accuracy are those of Table 5.
Validation: ``dataset.val_size`` of the training part (ImageNet's train folder; ImageNet-A's 80%
after the unchanged train/test split), stratified, seeded by ``dataset.split_seed``; indices only.
Images: resize to ``image_size * 256 / 224``, centre crop ``image_size``, ImageNet normalisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Subset
from torchvision import transforms
from torchvision.datasets import ImageFolder

from runners.data import DataBundle, shuffle_generator, val_split
from runners.data.vision import IMAGENET_MEAN, IMAGENET_STD, not_found
from runners.schema import ConfigError

# ImageNet-1k indices of ImageNet-A's 200 classes, in sorted-wnid order (hendrycks/natural-adv-examples).
IMAGENET_A_INDICES = (
    6,
    11,
    13,
    15,
    17,
    22,
    23,
    27,
    30,
    37,
    39,
    42,
    47,
    50,
    57,
    70,
    71,
    76,
    79,
    89,
    90,
    94,
    96,
    97,
    99,
    105,
    107,
    108,
    110,
    113,
    124,
    125,
    130,
    132,
    143,
    144,
    150,
    151,
    207,
    234,
    235,
    254,
    277,
    283,
    287,
    291,
    295,
    298,
    301,
    306,
    307,
    308,
    309,
    310,
    311,
    313,
    314,
    315,
    317,
    319,
    323,
    324,
    326,
    327,
    330,
    334,
    335,
    336,
    347,
    361,
    363,
    372,
    378,
    386,
    397,
    400,
    401,
    402,
    404,
    407,
    411,
    416,
    417,
    420,
    425,
    428,
    430,
    437,
    438,
    445,
    456,
    457,
    461,
    462,
    470,
    472,
    483,
    486,
    488,
    492,
    496,
    514,
    516,
    528,
    530,
    539,
    542,
    543,
    549,
    552,
    557,
    561,
    562,
    569,
    572,
    573,
    575,
    579,
    589,
    606,
    607,
    609,
    614,
    626,
    627,
    640,
    641,
    642,
    643,
    658,
    668,
    677,
    682,
    684,
    687,
    701,
    704,
    719,
    736,
    746,
    749,
    752,
    758,
    763,
    765,
    768,
    773,
    774,
    776,
    779,
    780,
    786,
    792,
    797,
    802,
    803,
    804,
    813,
    815,
    820,
    823,
    831,
    833,
    835,
    839,
    845,
    847,
    850,
    859,
    862,
    870,
    879,
    880,
    888,
    890,
    897,
    900,
    907,
    913,
    924,
    932,
    933,
    934,
    937,
    943,
    945,
    947,
    951,
    954,
    956,
    957,
    959,
    971,
    972,
    980,
    981,
    984,
    986,
    987,
    988,
)


class LoaderBatches:
    """``Batches`` over a map-style dataset through a DataLoader with workers (order from (seed, epoch))."""

    def __init__(self, dataset, batch_size: int, shuffle: bool, seed: int, device, workers: int):
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, int(batch_size), shuffle, int(seed)
        self.device, self.workers = torch.device(device), int(workers)

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def _run(self, order: list[int]):
        loader = DataLoader(
            Subset(self.dataset, order),
            batch_size=self.batch_size,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
        )
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def epoch(self, epoch: int, start: int = 0):
        n = len(self.dataset)
        order = (
            torch.randperm(n, generator=shuffle_generator(self.seed, epoch))
            if self.shuffle
            else torch.arange(n)
        )
        return self._run(order[start * self.batch_size :].tolist())

    def __iter__(self):
        return self._run(list(range(len(self.dataset))))


def _folder(dataset_cfg, path: Path, transform, target_transform=None) -> ImageFolder:
    try:
        return ImageFolder(str(path), transform=transform, target_transform=target_transform)
    except (FileNotFoundError, OSError) as err:
        raise not_found(
            dataset_cfg,
            f"class folders of images under {path}",
            f"download it (see docs/paper-settings.md) and point dataset.root= at it ({type(err).__name__})",
        ) from None


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    size = int(model_cfg.get("image_size") or dataset_cfg.get("image_size", 224))
    tf = transforms.Compose(
        [
            transforms.Resize(size * 256 // 224),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    root = Path(str(dataset_cfg.root)).expanduser()
    space = dataset_cfg.get("label_space", "folders")
    if dataset_cfg.get("test_dir"):
        full, test = (_folder(dataset_cfg, root / dataset_cfg[k], tf) for k in ("train_dir", "test_dir"))
        if full.classes != test.classes:
            raise ConfigError(
                f"dataset.test_dir: its class folders differ from those of {root / dataset_cfg.train_dir}"
            )
        num_classes = len(full.classes)
        idx_train = list(range(len(full)))
    else:
        full = _folder(dataset_cfg, root, tf)
        if space == "imagenet1k":
            if len(full.classes) != len(IMAGENET_A_INDICES):
                raise ConfigError(
                    f"dataset.label_space=imagenet1k expects ImageNet-A's 200 class folders under "
                    f"{root}, found {len(full.classes)}; use label_space=folders"
                )
            full.target_transform = IMAGENET_A_INDICES.__getitem__
            num_classes = 1000
        else:
            num_classes = len(full.classes)
        idx_train, idx_test = train_test_split(
            list(range(len(full))),
            test_size=float(dataset_cfg.test_fraction),
            stratify=full.targets,
            random_state=int(dataset_cfg.get("split_seed", 0)),
        )
        test = Subset(full, idx_test)
    val = None
    carved = val_split(dataset_cfg, [full.targets[i] for i in idx_train])
    if carved is not None:
        val = Subset(full, [idx_train[i] for i in carved[1]])
        idx_train = [idx_train[i] for i in carved[0]]
    train = Subset(full, idx_train)
    workers = int(dataset_cfg.get("workers", 4))
    eval_bs = int(dataset_cfg.get("eval_batch_size", 256))
    metrics = ["acc1", "acc3", "acc5"] if num_classes > 5 else ["acc"]
    return DataBundle(
        train=LoaderBatches(train, batch_size, True, seed, device, workers),
        test=LoaderBatches(test, eval_bs, False, seed, device, workers),
        val=None if val is None else LoaderBatches(val, eval_bs, False, seed, device, workers),
        num_classes=num_classes,
        task="image",
        input_shape=(3, size, size),
        metrics=metrics,
    )
