"""The paper's evaluation protocol: which runs fill which table cell, and best-lr selection.

Each table (paper section 5 and Appendices C-D) is a ``TableSpec``: rows (methods) come from the
sweep of one experiment config (``experiment=<experiment> [scale=embedded]``), columns are
(dataset, model, mode) per scale. Appendix C.1: single optimizers are tried at lr in
[0.1, 0.01, 0.001] and the best is reported; the paper does not say on which split the best lr is
picked. We pick on ``val_acc`` when every candidate run has one (``--select-on auto``, the
default), else on the final test accuracy (``--select-on test``: what the paper's tables imply;
optimistic); every rendered table states the split it was picked on. A run with status "diverged"
never counts towards a mean and never wins a pick: an lr with fewer diverged seeds always ranks first.

DOIT's candidates are the paper's 15 (space ``paper15``: the five single optimizers at the same lr grid,
Section 5.1, "the original HP space" of Appendix D); Table 7 adds a row for DOIT over one lr per
optimizer (space ``one_lr``, an ablation). The paper fine-tunes pre-trained models in every table; the
embedded columns are the pre-trained analogue (``digits_transfer`` with ``model.pretrained=true``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

# per scale (conf/train.yaml scales.*.seeds; conf/scale/): the scales a table can have columns at
SEEDS = {"paper": (0, 1, 2), "embedded": (0, 1, 2, 3, 4), "mnist": (0, 1, 2), "gpu": (0, 1, 2)}
# what each scale's columns are (every table caption says it, and below it every recorded setting that
# differs from the experiment's paper setting: analysis.settings)
SCALE_NOTES = {
    "paper": "the experiment configs' paper settings unless the runs overrode them",
    "gpu": "ResNet18 on the real MNIST on one GPU, a few epochs, ImageNet weights where cached, else from "
    "scratch (conf/scale/gpu.yaml)",
    "embedded": "scikit-learn digits 5-9, small CNN/MLP pre-trained on digits 0-4, 6 epochs (conf/scale/embedded.yaml)",
    "mnist": "real MNIST (24,000-example training subset, 4 epochs), the small CNN pre-trained on scikit-learn "
    "digits resized to 28x28, not the paper's ImageNet ResNet18 (conf/scale/mnist.yaml)",
}
LR_GRID = (0.1, 0.01, 0.001)


@dataclass(frozen=True)
class Row:
    key: str  # the method key of analysis/paper_numbers.csv
    label: str
    experiment: str  # experiment config (base name) whose sweep makes this row
    match: tuple[tuple[str, object], ...]
    override: str  # command-line overrides that select the row inside the experiment
    grid: bool = False  # tried over ``lrs``, best lr reported
    baseline: bool = True  # False for DOIT and its ablations
    lrs: tuple[float, ...] = LR_GRID  # a grid row's learning rates (for the commands that fill a cell)
    elsewhere: tuple[tuple[str, str], ...] = ()  # (scale, experiment) where another sweep makes the row
    paper_table: str = ""  # the paper table its paper cells come from, where not the spec's
    shown: bool = True  # False: a baseline the pick of the best needs, not a row of its own
    # further experiments whose runs of this method fill the row where the first has none at those settings
    # (the verdict's DOIT: Table 1's, or the beyond table's run with the same cycles and candidates)
    also: tuple[str, ...] = ()

    def experiment_at(self, scale: str) -> str:
        return dict(self.elsewhere).get(scale, self.experiment)


@dataclass(frozen=True)
class Column:
    key: str
    paper: tuple[str, str]  # (dataset, model) of the paper's cell in paper_numbers.csv
    runs: dict = field(default_factory=dict)  # scale -> (dataset, model, mode); missing scale = no column

    def label(self, scale: str) -> str:
        dataset, model, mode = self.runs[scale]
        label = f"{dataset}/{model}" + ("" if mode == "full" else f"/{mode}")
        return label if scale == "paper" or label == self.key else f"{label} [paper: {self.key}]"


@dataclass(frozen=True)
class Metric:
    column: str  # field of the flattened run (analysis.collect)
    paper: str  # metric name in paper_numbers.csv
    label: str


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    metrics: tuple[Metric, ...]
    paper_table: str  # table id in paper_numbers.csv
    ours: str = "doit"  # the row compared with the best baseline (and with the ``versus`` rows)
    versus: tuple[str, ...] = ()  # further rows ``ours`` is compared with, one by one
    seeds: dict | None = None  # scale -> seeds, where they are not SEEDS (fresh confirmation seeds)
    contenders: tuple[str, ...] = ()  # further rows compared with the best baseline, each on its own
    best_label: str = ""  # a row showing the best baseline (picked like a best lr) under this label

    def columns_at(self, scale: str) -> list[Column]:
        return [c for c in self.columns if scale in c.runs]


ACC = Metric("final_test_acc", "test_acc", "test acc (%)")
TRAIN = Metric("final_train_acc", "train_acc", "train acc (%)")
TIME = Metric("train_time_s", "time_s", "time (s)")
# PEFT tables (2, 6) run with convergence.stop=true: training ends at the paper's rule (|loss change| < 1e-4
# for 10 epochs) or at the last epoch, so the training time is the paper's convergence time.
CONV_TIME = Metric("train_time_s", "time_s", "time to convergence (s)")
# DOIT's transferability weight (eq. 6; 0 from scratch): what makes "w/o omega_t" and "w/o halve" differ.
OMEGA = Metric("omega_t", "omega_t", "omega_t")
F1 = Metric("test_f1", "test_f1", "F1 (%)")
SINGLES = ("sgd", "sgdm", "adagrad", "rmsprop", "adam")
HYBRIDS = ("swats", "padam", "adabound")
# Display names: the one analysis table to extend for a new optimizer or method (unlisted keys show as is).
LABELS = {
    "sgd": "SGD",
    "sgdm": "SGDM",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "swats": "SWATS",
    "padam": "Padam",
    "adabound": "AdaBound",
    "agd": "AGD",
    "asgd": "ASGD",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "adamax": "Adamax",
    "sgdm_steplr": "SGDM+StepLR",
    "sgdm_coslr": "SGDM+CosLR",
    "doit": "DOIT (ours)",
    "random": "random",
    "cyclical": "cyclical",
    "no_transfer": "w/o omega_t",
    "no_halving": "w/o halve",
    "halve": "eq. 7 read as halving (ambiguity 1)",
    "one_lr": "DOIT, one lr per optimizer",
    "prodigy": "Prodigy",
    "doit_plus": "DOIT+ (beyond the paper)",
    "doit_plus2": "DOIT+2 (round 2: warm-up on the most conservative candidate)",
    "bandit": "bandit (discounted UCB + backtracking)",
    "plus_no_inherit": "DOIT+ w/o inherit",
    "plus_no_rollback": "DOIT+ w/o rollback",
    "plus_no_thompson": "DOIT+ w/o Thompson (argmax)",
    "plus_no_context": "DOIT+ w/o context input",
    "pca": "PCA",
    "umap": "UMAP",
    "adam_default": "Adam, lr 0.001",
    "adam_coslr": "Adam + cosine decay, lr 0.001",
    "prodigy_default": "Prodigy, lr multiplier 1",
    "schedulefree_adamw": "Schedule-free AdamW",
    "schedulefree_sgd": "Schedule-free SGD",
    "dadapt_adam": "D-Adaptation Adam",
}


def label(key: str) -> str:
    return LABELS.get(key, key)


def complete(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that finished (status "complete"); diverged runs are counted, never averaged."""
    return runs[runs["status"] == "complete"]


def method_rows(prefix: str, singles=SINGLES, hybrids=HYBRIDS, doit: bool = True) -> tuple[Row, ...]:
    """Rows of the overall tables: lr-grid methods from ``<prefix>_grid``, the rest from ``_fixed``."""
    rows = [Row(m, label(m), f"{prefix}_grid", (("method", m),), f"method={m}", grid=True) for m in singles]
    rows += [Row(m, label(m), f"{prefix}_fixed", (("method", m),), f"method={m}") for m in hybrids]
    if doit:
        rows.append(
            Row(
                "doit", label("doit"), f"{prefix}_fixed", (("method", "doit"),), "method=doit", baseline=False
            )
        )
    return tuple(rows)


def _strategy_rows(prefix: str, ablations: tuple[str, ...], one_lr: bool = False) -> tuple[Row, ...]:
    """Table 7-9 rows: random/cyclical switching, DOIT ablations (conf/ablation), with ``one_lr`` DOIT over
    one lr per optimizer (``<prefix>_one_lr``, space one_lr), DOIT itself (space paper15)."""
    rows = [
        Row(m, label(m), f"{prefix}_strategies", (("method", m),), f"method={m}")
        for m in ("random", "cyclical")
    ]
    rows += [
        Row(
            a,
            label(a),
            f"{prefix}_ablations",
            (("method", "doit"), ("ablation", a)),
            f"ablation={a}",
            baseline=False,
        )
        for a in ablations
    ]
    if one_lr:
        rows.append(
            Row(
                "one_lr",
                label("one_lr"),
                f"{prefix}_one_lr",
                (("method", "doit"), ("ablation", "none"), ("space", "one_lr")),
                "space=one_lr",
                baseline=False,
            )
        )
    rows.append(
        Row(
            "doit",
            label("doit"),
            f"{prefix}_strategies",
            (("method", "doit"), ("ablation", "none")),
            "method=doit",
            baseline=False,
        )
    )
    return tuple(rows)


def _col(
    dataset: str,
    model: str,
    mode: str = "full",
    embedded: tuple | None = None,
    paper_dataset: str | None = None,
    paper_model: str | None = None,
    mnist: tuple | None = None,
    gpu: tuple | None = None,
) -> Column:
    runs = {"paper": (dataset, model, mode)}
    if embedded:
        runs["embedded"] = embedded
    if mnist:
        runs["mnist"] = mnist
    if gpu:
        runs["gpu"] = gpu
    key = f"{dataset}/{model}" + ("" if mode == "full" else f"/{mode}")
    pd_ = dataset if paper_dataset is None else paper_dataset
    return Column(key, (pd_, model if paper_model is None else paper_model), runs)


# Embedded columns: the pre-trained analogue (digits 0-4 -> 5-9), as the paper fine-tunes pre-trained models.
_EMB = "digits_transfer"
_CNN, _MLP = (_EMB, "cnn", "full"), (_EMB, "mlp", "full")
# scale=mnist: the real MNIST, a small CNN pre-trained on scikit-learn's digits (conf/scale/mnist.yaml)
_MNIST = ("mnist", "cnn", "full")
# scale=gpu: the paper's model on the real MNIST, a few epochs on one GPU (conf/scale/gpu.yaml)
_GPU = ("mnist", "resnet18", "full")
_MNIST_R18 = _col("mnist", "resnet18", mnist=_MNIST, gpu=_GPU)
T1_COLS = (
    _col("usps", "resnet18", embedded=_CNN),
    _col("usps", "vit", embedded=_MLP),
    _MNIST_R18,
    _col("mnist", "vit"),
    _col("stl10", "resnet18"),
    _col("stl10", "vit"),
    _col("cifar10", "resnet18"),
    _col("cifar10", "vit"),
)
USPS_MNIST_R18 = (_col("usps", "resnet18", embedded=_CNN), _col("mnist", "resnet18"))
T7_COLS = (_col("usps", "resnet18", embedded=_CNN), _MNIST_R18)
T89_COLS = (
    _col("cifar10", "mobilenet_v2", embedded=_CNN, paper_dataset=""),
    _col("cifar10", "resnet152", embedded=_MLP, paper_dataset=""),
)
_T6_EMB = {"resnet18": (_EMB, "cnn", "head")}

# Beyond the paper (issue 14): DOIT+ against the best of the paper's 15 tuning runs (5 single optimizers x 3
# lrs, picked on validation), then Prodigy, the paper's DOIT and a bandit one by one, on fresh confirmation
# seeds (conf/experiment/beyond_*.yaml); the ablation table removes each knob of DOIT+ in turn.
CONFIRM_SEEDS = {
    "paper": (100, 101, 102),
    "embedded": (100, 101, 102, 103, 104),
    "mnist": (100, 101, 102, 103, 104),
}
PLUS_KNOBS = ("inherit", "rollback", "thompson", "context")  # method=doit_plus's knobs (conf/method/)
_BEYOND_COLS = (
    _col("usps", "resnet18", embedded=_CNN),
    _col("usps", "vit", embedded=_MLP),
    _col("mnist", "resnet18", mnist=_MNIST),
)


def _beyond_fixed(key: str, baseline: bool = False) -> Row:
    return Row(key, label(key), "beyond_fixed", (("method", key),), f"method={key}", baseline=baseline)


BEYOND = TableSpec(
    "beyond",
    "Beyond the paper: DOIT+ against the tuned single optimizers, Prodigy, the paper's DOIT and a bandit",
    tuple(Row(m, label(m), "beyond_grid", (("method", m),), f"method={m}", grid=True) for m in SINGLES)
    + (
        Row(
            "prodigy",
            label("prodigy"),
            "beyond_prodigy",
            (("method", "prodigy"),),
            "method=prodigy",
            grid=True,
            baseline=False,  # beyond the paper's 15 runs of tuning: compared one to one (``versus``)
            lrs=(1.0, 0.3, 0.1),
        ),
    )
    + tuple(_beyond_fixed(k) for k in ("doit", "bandit", "doit_plus")),
    _BEYOND_COLS,
    (ACC, TIME),
    "beyond",
    ours="doit_plus",
    versus=("prodigy", "doit", "bandit"),
    seeds=CONFIRM_SEEDS,
)
BEYOND_ABLATIONS = TableSpec(
    "beyond_ablations",
    "Beyond the paper: DOIT+ with each knob removed in turn",
    (_beyond_fixed("doit_plus"),)
    + tuple(
        Row(
            f"plus_no_{k}",
            label(f"plus_no_{k}"),
            "beyond_ablations",
            (("method", "doit_plus"), ("ablation", f"plus_no_{k}")),
            f"ablation=plus_no_{k}",
            baseline=False,
        )
        for k in PLUS_KNOBS
    ),
    _BEYOND_COLS,
    (ACC, TIME),
    "beyond",
    ours="",
    seeds=CONFIRM_SEEDS,
)

# The verdict (issue 18.4): one column, every kind of method the paper compares (and DOIT+ and the bandit)
# beside the paper's own numbers, each row compared with the single optimizer picked on validation.
_VERDICT_OTHERS = HYBRIDS + ("agd",)
VERDICT = TableSpec(
    "verdict",
    "Verdict: every method against the single optimizer picked on validation, beside the paper's numbers",
    tuple(
        Row(m, label(m), "table1_grid", (("method", m),), f"method={m}", grid=True, shown=m == "adam")
        for m in SINGLES
    )
    + tuple(
        Row(m, label(m), "table1_fixed", (("method", m),), f"method={m}", baseline=False)
        for m in _VERDICT_OTHERS
    )
    + (
        Row(
            "doit",
            label("doit"),
            "table1_fixed",
            (("method", "doit"),),
            "method=doit",
            baseline=False,
            also=("beyond_fixed",),
        ),
    )
    + tuple(
        dataclasses.replace(r, baseline=False, paper_table="table7")
        for r in _strategy_rows("table7", (), one_lr=True)
        if r.key != "doit"
    )
    + tuple(_beyond_fixed(k) for k in ("doit_plus", "bandit")),
    (_MNIST_R18,),
    (ACC,),
    "table1",
    contenders=("adam", *_VERDICT_OTHERS, "one_lr", "random", "cyclical", "doit_plus", "bandit"),
    best_label="best single optimizer (optimizer and lr picked on validation)",
)

# One run, no tuning (issue 22): each method run once at its defaults against the best of the 15 tuning
# runs (5 single optimizers x 3 lrs, picked on validation) at the same seeds (conf/experiment/one_run*.yaml;
# at scales paper and gpu the tuning runs are table1_grid's; at gpu DOIT, DOIT+ and the bandit beyond_fixed's).
ONE_RUN_SEEDS = {
    "paper": (0, 1, 2),
    "gpu": (0, 1, 2),
    "embedded": (300, 301, 302, 303, 304),
    "mnist": (300, 301, 302, 303, 304),
}
ONE_RUN_METHODS = {
    "adam_default": "adam",
    "adam_coslr": "adam_coslr",
    "prodigy_default": "prodigy",
    "schedulefree_adamw": "schedulefree_adamw",
    "schedulefree_sgd": "schedulefree_sgd",
    "dadapt_adam": "dadapt_adam",
    "doit": "doit",
    "doit_plus": "doit_plus",
    "doit_plus2": "doit_plus2",
    "bandit": "bandit",
}
# at scale gpu the switching methods' runs at seeds 0-2 are Table 1's (DOIT) and the beyond table's
_ONE_RUN_AT_GPU = {
    "doit": (("gpu", "table1_fixed"),),
    "doit_plus": (("gpu", "beyond_fixed"),),
    "bandit": (("gpu", "beyond_fixed"),),
}
ONE_RUN = TableSpec(
    "one_run",
    "One run, no tuning: each method once at its defaults against the best of 15 tuning runs",
    tuple(
        Row(
            m,
            label(m),
            "one_run_grid",
            (("method", m),),
            f"method={m}",
            grid=True,
            elsewhere=(("paper", "table1_grid"), ("gpu", "table1_grid")),
            shown=False,
        )
        for m in SINGLES
    )
    + tuple(
        Row(
            key,
            label(key),
            "one_run",
            (("method", m),),
            f"method={m}",
            baseline=False,
            elsewhere=_ONE_RUN_AT_GPU.get(m, ()),
        )
        for key, m in ONE_RUN_METHODS.items()
    ),
    _BEYOND_COLS[:2] + (_MNIST_R18,),
    (ACC, TIME),
    "beyond",
    ours="",
    seeds=ONE_RUN_SEEDS,
    contenders=tuple(ONE_RUN_METHODS),
    best_label="tuned best: the best of 15 runs (optimizer and lr picked on validation)",
)

TABLES: dict[str, TableSpec] = {
    t.id: t
    for t in (
        TableSpec(
            "table1",
            "Table 1: test accuracy (%) of full training",
            method_rows("table1", hybrids=HYBRIDS + ("agd",)),
            T1_COLS,
            (ACC,),
            "table1",
        ),
        TableSpec(
            "table2",
            "Table 2: PEFT test accuracy (%), F1 (%) and convergence time (s)",
            tuple(r for r in method_rows("table2_cv")),
            (_col("usps", "vit", "head", (_EMB, "cnn", "head")), _col("stl10", "vit", "head")),
            (ACC, CONV_TIME),
            "table2",
        ),
        TableSpec(
            "table2_nlp",
            "Table 2 (NLP columns): LoRA test accuracy (%) and F1 (%)",
            method_rows("table2_nlp"),
            (_col("mrpc", "roberta", "lora", (_EMB, "mlp", "lora")), _col("qqp", "roberta", "lora")),
            (ACC, F1),
            "table2",
        ),
        TableSpec(
            "table4",
            "Table 4: test accuracy (%) of full training with more baselines",
            tuple(
                Row(m, label(m), "table4_grid", (("method", m),), f"method={m}", grid=True)
                for m in ("asgd", "adamw", "nadam", "adamax")
            )
            + (Row("sgdm", "SGDM", "table1_grid", (("method", "sgdm"),), "method=sgdm", grid=True),)
            + tuple(
                Row(
                    f"sgdm_{m}", label(f"sgdm_{m}"), "table4_grid", (("method", m),), f"method={m}", grid=True
                )
                for m in ("steplr", "coslr")
            )
            + (
                Row(
                    "doit",
                    label("doit"),
                    "table1_fixed",
                    (("method", "doit"),),
                    "method=doit",
                    baseline=False,
                ),
            ),
            USPS_MNIST_R18,
            (ACC,),
            "table4",
        ),
        TableSpec(
            "table5",
            "Table 5: top-1/3/5 test accuracy (%) of full training on ImageNet-A",
            method_rows("table5"),
            (_col("imagenet_a", "resnet18", embedded=_CNN, paper_model=""),),
            (
                ACC,
                Metric("test_acc3", "test_acc3", "acc@3 (%)"),
                Metric("test_acc5", "test_acc5", "acc@5 (%)"),
            ),
            "table5",
        ),
        TableSpec(
            "imagenet",
            "ICLR 2026 version: ImageNet full training, ViT (best baseline and DOIT)",
            method_rows("imagenet"),
            (_col("imagenet", "vit", embedded=_CNN),),
            (ACC,),
            "summary",
        ),
        TableSpec(
            "table6",
            "Table 6: head fine-tuning test accuracy (%) and convergence time (s)",
            method_rows("table6", singles=("sgdm", "adam")),
            tuple(
                _col(d, m, "head", _T6_EMB.get(m) if d == "usps" else None)
                for m in ("resnet18", "resnet152", "mobilenet_v2")
                for d in ("usps", "mnist", "stl10")
            ),
            (ACC, CONV_TIME),
            "table6",
        ),
        TableSpec(
            "table7",
            "Table 7: switch strategies, full training on ResNet18",
            _strategy_rows("table7", ("no_transfer", "no_halving", "halve"), one_lr=True),
            T7_COLS,
            (TRAIN, ACC, TIME, OMEGA),
            "table7",
            versus=("random", "cyclical", "halve"),
        ),
        TableSpec(
            "table8",
            "Table 8: transferability assessment (w/o vs with omega_t)",
            tuple(
                r for r in _strategy_rows("table8_9", ("no_transfer",)) if r.key in ("no_transfer", "doit")
            ),
            T89_COLS,
            (TRAIN, ACC, TIME, OMEGA),
            "table8",
        ),
        TableSpec(
            "table9",
            "Table 9: switch strategies on MobileNetV2 and ResNet152",
            tuple(r for r in _strategy_rows("table8_9", ()) if r.key in ("random", "cyclical", "doit")),
            T89_COLS,
            (TRAIN, ACC, TIME),
            "table9",
        ),
        TableSpec(
            "table10",
            "Table 10: compression techniques, full training on ResNet18",
            tuple(
                Row(
                    key,
                    label,
                    "table10",
                    (("method", "doit"), ("ablation", ablation)),
                    f"ablation={ablation}",
                    baseline=False,
                )
                for key, label, ablation in (
                    ("random", "RP", "random_projection"),
                    ("umap", "UMAP", "umap"),
                    ("pca", "PCA", "none"),
                )
            ),
            USPS_MNIST_R18,
            (TRAIN, ACC, TIME),
            "table10",
        ),
        BEYOND,
        BEYOND_ABLATIONS,
        VERDICT,
        ONE_RUN,
    )
}


def match_rows(
    runs: pd.DataFrame, spec: TableSpec, row: Row, column: Column, scale: str, every: bool = False
) -> pd.DataFrame:
    """The runs of one (row, column) cell at ``scale``: the row's experiment's, else its first ``also``
    experiment that has any (``runs`` are of one settings group); ``every``: all of those experiments'."""
    if runs.empty:
        return runs
    dataset, model, mode = column.runs[scale]
    mask = (
        (runs["scale"] == scale)
        & (runs["dataset"] == dataset)
        & (runs["model"] == model)
        & (runs["mode"] == mode)
    )
    for key, value in row.match:
        mask &= runs[key] == value
    experiments = (row.experiment_at(scale), *row.also)
    if every:
        return runs[mask & runs["experiment"].isin(experiments)]
    for experiment in experiments:
        found = runs[mask & (runs["experiment"] == experiment)]
        if not found.empty:
            break
    return found


SPLITS = {"val": "val_acc", "test": "final_test_acc", "train": "final_train_acc"}


def select_split(cell: pd.DataFrame, select_on: str) -> str:
    """Column to pick the best lr on: ``val_acc`` when every complete run has it (``auto`` or ``val``),
    else the final test accuracy (``test``, or ``val``/``auto`` without validation accuracies)."""
    has_val = not cell.empty and cell["val_acc"].notna().all()
    if select_on in ("auto", "val"):
        return "val_acc" if has_val else "final_test_acc"
    return SPLITS[select_on]


def best_lr(cell: pd.DataFrame, select_on: str = "auto") -> tuple[pd.DataFrame, float | None, str]:
    """Runs of the best lr (Appendix C.1): fewest diverged seeds first, then the highest mean over the
    complete seeds of the selection metric. ``lr`` is None when every run of the cell diverged."""
    if cell.empty or cell["lr"].nunique(dropna=False) <= 1:
        lr = cell["lr"].iloc[0] if not cell.empty else None
        return cell, (None if pd.isna(lr) else float(lr)), ""
    done = complete(cell)
    split = select_split(done, select_on)
    means = done.groupby("lr")[split].mean().dropna()
    if means.empty:
        return cell, None, split
    diverged = (cell["status"] != "complete").groupby(cell["lr"]).sum()
    lr = float(min(means.index, key=lambda v: (diverged.get(v, 0), -means[v])))
    return cell[cell["lr"] == lr], lr, split


def experiment_args(experiment: str, scale: str) -> str:
    """Overrides that run ``experiment`` at ``scale`` (conf/experiment/, conf/scale/)."""
    return f"experiment={experiment}" + ("" if scale == "paper" else f" scale={scale}")


def fill_commands(
    spec: TableSpec, row: Row, column: Column, scale: str, cell: pd.DataFrame, settings: str = ""
) -> list[str]:
    """``python -m runners.train`` command lines that would add the missing seeds (and lrs) of a cell;
    ``settings``: overrides that give the runs the cell's settings (``epochs=3``)."""
    dataset, model, mode = column.runs[scale]
    args = (
        f"{experiment_args(row.experiment_at(scale), scale)} dataset={dataset} model={model} mode={mode} "
        f"{row.override}" + (f" {settings}" if settings else "")
    )
    lrs = row.lrs if row.grid else (None,)
    seeds = (spec.seeds or SEEDS).get(scale, SEEDS["paper"])
    out = []
    for lr in lrs:
        have = set(cell["seed"]) if lr is None else set(cell.loc[cell["lr"] == lr, "seed"])
        missing = [s for s in seeds if s not in have]
        if missing:
            multi = "-m " if len(missing) > 1 else ""
            out.append(
                f"python -m runners.train {multi}{args}"
                + (f" lr={lr}" if lr is not None else "")
                + f" seed={','.join(map(str, missing))}"
            )
    return out
