"""The runner's config schema: one dataclass per config group, registered in Hydra's ConfigStore.

Every YAML of a group starts from its group's schema (``defaults: [base_<family>, _self_]``, Hydra 1.3's
"Structured Config schema for config groups"), and ``conf/train.yaml`` from ``base_train``; OmegaConf then
rejects unknown keys and wrong types while composing. Allowed values are the ``doit`` enums, not copies.
Range checks are not here: they live once, in the code that owns the value (mostly ``doit``).
``ConfigError`` is the one exception for a user error anywhere in the runner (one line naming the key).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from analysis.experiments import register_resolvers
from doit import Acquirer, Compression, Initial, Schedule, Score, Spread, Strategy  # allowed values: doit

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


class ConfigError(ValueError):
    """A config problem the user can fix; ``str(err)`` is one line: ``<key>: <problem>[; valid: ...]``."""


def config_error(key: str, message: str, valid: Iterable | None = None) -> ConfigError:
    """``ConfigError('<key>: <message>; valid: a, b, c')``."""
    text = f"{key}: {message}"
    if valid is not None:
        text += "; valid: " + ", ".join(str(v) for v in valid)
    return ConfigError(text)


def registered(key: str, name, registry: dict[str, str]) -> str:
    """The module ``registry`` names for ``name`` (``runners.<package>.<name>`` accepted too), else one line."""
    module = registry.get(str(name).rpartition(".")[2] if str(name).startswith("runners.") else str(name))
    if module is None or (str(name).startswith("runners.") and module != str(name)):
        raise config_error(key, f"unknown {key.rpartition('.')[2]} {name!r}", registry)
    return module


MethodKind = enum.StrEnum("MethodKind", {v: v for v in ("doit", "single", "scheduled", "hybrid")})
Mode = enum.StrEnum("Mode", {v: v for v in ("full", "head", "lora")})
Progress = enum.StrEnum("Progress", {v: v for v in ("auto", "bar", "log", "off")})
Scale = enum.StrEnum("Scale", {v: v for v in ("embedded", "mnist", "paper", "gpu")})


# ------------------------------------------------------------------------------------------- dataset
@dataclass
class DatasetConfig:
    name: str = MISSING
    loader: str = MISSING  # a key of runners.data.LOADERS
    eval_batch_size: int = 512
    # validation split carved from the training data: a fraction in (0, 1) (0: none), stratified by
    # label, seeded by split_seed (not the run seed: every method of a table sees the same split)
    val_size: float = 0.1
    split_seed: int = 0  # seeds every split of the dataset (train/test where the loader makes one, val)


@dataclass
class DigitsDataset(DatasetConfig):
    test_size: float = 0.2  # stratified split of scikit-learn's digits (seeded by split_seed)
    classes: list[int] | None = None  # a subset of the digits, relabelled 0..k-1 (null: all ten)


@dataclass
class TorchvisionDataset(DatasetConfig):
    root: str = MISSING
    download: bool = True
    # a stratified subset of this many training examples (seeded by split_seed), before the validation
    # split; null: the whole training set
    train_size: int | None = None


@dataclass
class ImageFolderDataset(DatasetConfig):
    root: str = MISSING
    train_dir: str = "train"
    test_dir: str | None = None  # null: a stratified split of root by test_fraction
    test_fraction: float = 0.2
    label_space: str = "folders"  # folders | imagenet1k
    workers: int = 4
    image_size: int = 224


@dataclass
class GlueDataset(DatasetConfig):
    task: str = MISSING
    root: str = MISSING
    download: bool = True
    max_length: int = 128
    hf_path: str = "nyu-mll/glue"


# --------------------------------------------------------------------------------------------- model
@dataclass
class ModelConfig:
    name: str = MISSING
    builder: str = MISSING  # a key of runners.models.BUILDERS
    arch: str = MISSING
    pretrained: bool = (
        False  # the small models: pre-trained on digits source_classes (dataset=digits_transfer)
    )


@dataclass
class SmallModel(ModelConfig):
    channels: list[int] | None = None  # cnn: the two conv widths
    hidden: Any = None  # cnn: an int; mlp: a list of ints
    source_classes: list[int] = field(
        default_factory=lambda: [0, 1, 2, 3, 4]
    )  # pretrained: digits trained on
    pretrain_epochs: int = 10


@dataclass
class TorchvisionModel(ModelConfig):
    tiny: bool = False  # tests: a small random network of the same family
    in_channels: int = 3  # grey images are repeated to 3 channels
    image_size: int | None = None  # null: the dataset's native size; 224: ImageNet resolution
    # pretrained=true and the ImageNet weights not cached: "error" (one line) or "scratch" (one line, then
    # train from random weights; result.json records run.pretrained false)
    weights_missing: str = "error"


@dataclass
class LoraConfig:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] | None = None


@dataclass
class TextModel(ModelConfig):
    hf_name: str = MISSING
    tokenizer: str | None = None  # null: hf_name's
    tiny: bool = False
    pool: str = "first"  # first | mean | last
    dtype: str = "float32"
    lora: LoraConfig = field(default_factory=LoraConfig)


# -------------------------------------------------------------------------------------------- method
@dataclass
class MethodConfig:
    """One schema for every method kind: experiments set DOIT's ``tau``/``n_ini`` once for a sweep that
    mixes DOIT with single optimizers, so DOIT keys may appear (unread) under a single optimizer."""

    name: str = MISSING
    kind: MethodKind = MISSING
    # single, scheduled, hybrid
    optimizer: str | None = None  # a name of doit.optimizers
    lr: float | None = None  # null: the top-level lr, else the registry default
    hyper: dict[str, Any] = field(default_factory=dict)  # other optimizer keywords; null: registry default
    scheduler: str | None = None  # scheduled: steplr | cosine
    scheduler_kw: dict[str, Any] | None = None
    # DOIT strategies (doit, random, cyclical): the keyword arguments of doit.DOIT
    strategy: Strategy | None = None
    tau: int | None = None
    n_ini: int | None = None
    initial: Initial | None = None
    alpha: float | None = None
    spread: Spread | None = None
    w_min: float | None = None
    beta: float | None = None
    schedule: Schedule | None = None
    halving_period: int | None = None  # n of eq. 7 in cycles; null: one epoch's worth of cycles
    compression: Compression | None = None
    n_components: int | None = None
    state_layers: list[str] | None = None  # patterns of the surrogate input's parameters; null: the head
    inherit: bool | None = None
    nan_guard: bool | None = None
    explode_factor: float | None = None
    transfer_samples: int | None = None
    omega_t: float | None = None  # null: estimated before training (runners/transfer.py)
    # beyond the paper (DOIT+, method=doit_plus; bandit): off in method=doit
    score: Score | None = None
    rollback_rise: float | None = None  # undo a cycle whose mean loss exceeds this x its start level
    acquirer: Acquirer | None = None
    context: bool | None = None
    gamma: float | None = None


@dataclass
class SpaceConfig:
    name: str = MISSING
    grid: dict[str, dict[str, list[Any]]] = MISSING  # optimizer -> hyperparameter -> values


# ----------------------------------------------------------------------------------------------- run
@dataclass
class ConvergenceConfig:
    """The paper's convergence rule (section 5.1): |change of the epoch training loss| < ``tol`` for
    ``patience`` consecutive epochs."""

    tol: float = 1e-4
    patience: int = 10
    stop: bool = False  # stop training when the rule triggers (PEFT tables), else only record it


@dataclass
class TrainConfig:
    """The top-level keys of ``conf/train.yaml``, with their defaults (the YAML sets only what differs)."""

    dataset: DatasetConfig = MISSING
    model: ModelConfig = MISSING
    method: MethodConfig = MISSING
    space: SpaceConfig = MISSING
    seed: int = 0
    epochs: int = 30
    batch_size: int = 32
    lr: float | None = None  # single/hybrid/scheduled methods: overrides method.lr
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = False  # mixed precision (GPU only)
    # torch's fused optimizer kernels where they exist (SGD, SGDM, Adam, AdamW, Adagrad; DOIT's candidates
    # too): the same algorithms with other rounding, off by default so that runs repeat the committed results
    fused: bool = False
    threads: int | None = 1  # torch CPU threads (small models run fastest on one; null: torch's default)
    mode: Mode = Mode.full
    scale: Scale = Scale.embedded  # recorded in result.json; set by experiments and conf/scale/
    experiment_name: str | None = None  # set by experiment configs; recorded in result.json
    variant: str | None = None  # free-form tag for sweeps (e.g. "tau=10"), recorded in result.json
    target_acc: float | None = None  # time to this test accuracy (%) is recorded when reached
    convergence: ConvergenceConfig = field(default_factory=ConvergenceConfig)
    checkpoint_every_steps: int = 0  # also checkpoint every N steps (0: off)
    checkpoint_every_s: float = (
        30.0  # epoch-end checkpoints at most this often (the last epoch and USR2 always)
    )
    progress: Progress = Progress.auto  # auto (a bar on a terminal, log lines otherwise) | bar | log | off
    plot: bool = True  # write the run figure
    resume: bool = True  # false: move an earlier run's files in the run dir aside and start fresh
    scales: dict[str, dict[str, Any]] | None = None  # experiments: swept values per scale


SCHEMAS = {
    "dataset": {
        "base_digits": DigitsDataset,
        "base_torchvision": TorchvisionDataset,
        "base_imagefolder": ImageFolderDataset,
        "base_glue": GlueDataset,
    },
    "model": {"base_small": SmallModel, "base_torchvision": TorchvisionModel, "base_text": TextModel},
    "method": {"base_method": MethodConfig},
    "space": {"base_space": SpaceConfig},
}


def register() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent): ``base_train`` and ``<group>/base_*``; and
    register the resolvers through which ``conf/`` reads ``conf/protocol.yaml``."""
    register_resolvers()
    store = ConfigStore.instance()
    store.store(name="base_train", node=TrainConfig)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=group, name=name, node=node)


register()
