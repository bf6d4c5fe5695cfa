"""The tables: which runs fill which table cell (``TABLES``: each a ``TableSpec`` of rows, columns and
metrics), built from the paper's protocol in ``conf/protocol.yaml`` and the experiments' sweeps.

Each table (paper section 5 and Appendices C-D) takes its rows (methods, ablations) from the sweeps of
experiment configs (``experiment=<experiment> [scale=...]``) and its columns, (dataset, model, mode) per
scale, from ``conf/protocol.yaml``. DOIT's candidates are the paper's 15 (space ``paper15``: the single
optimizers at the lr grid, Section 5.1, "the original HP space" of Appendix D); Table 7 adds a row for
DOIT over one lr per optimizer (space ``one_lr``, an ablation). The paper fine-tunes pre-trained models in
every table; the embedded columns are the pre-trained analogue (``digits_transfer`` with
``model.pretrained=true``). How a cell is filled: ``analysis.cells``; display names: ``analysis.labels``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from analysis import experiments
from analysis.labels import label

_PROTOCOL = experiments.protocol()
LR_GRID = tuple(_PROTOCOL["lr_grid"])
SINGLES = tuple(_PROTOCOL["singles"])
# per scale: the scales a table can have columns at, and each table's seeds unless it names its own
SEEDS = {scale: tuple(seeds) for scale, seeds in _PROTOCOL["seeds"].items()}
CONFIRM_SEEDS = {scale: tuple(seeds) for scale, seeds in _PROTOCOL["confirmation_seeds"].items()}
ONE_RUN_SEEDS = {scale: tuple(seeds) for scale, seeds in _PROTOCOL["one_run_seeds"].items()}


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


def swept(experiment: str, key: str = "method") -> tuple[str, ...]:
    """The values ``experiment`` sweeps ``key`` over at scale paper (its ``hydra.sweeper.params``)."""
    return tuple(experiments.sweep(experiment, "paper").get(key, ()))


def columns(table: str) -> tuple[Column, ...]:
    """The columns of ``table`` in ``conf/protocol.yaml``."""
    return tuple(Column(key, paper, runs) for key, runs, paper in experiments.table_columns(table))


def _row(key: str, experiment: str, **kw) -> Row:
    """The row of method ``key`` made by ``experiment``."""
    return Row(key, label(key), experiment, (("method", key),), f"method={key}", **kw)


def method_rows(prefix: str) -> tuple[Row, ...]:
    """Rows of the overall tables: the methods ``<prefix>_grid`` sweeps (each over the lr grid), then those
    of ``<prefix>_fixed`` (its ``doit`` is the row compared with the best baseline)."""
    return tuple(_row(m, f"{prefix}_grid", grid=True) for m in swept(f"{prefix}_grid")) + tuple(
        _row(m, f"{prefix}_fixed", baseline=m != "doit") for m in swept(f"{prefix}_fixed")
    )


def _strategy_rows(prefix: str, ablations: bool = True, one_lr: bool = False) -> tuple[Row, ...]:
    """Table 7-9 rows: random/cyclical switching (``<prefix>_strategies``), with ``ablations`` DOIT without
    parts of its acquisition (``<prefix>_ablations``, conf/ablation), with ``one_lr`` DOIT over one lr per
    optimizer (``<prefix>_one_lr``, space one_lr), DOIT itself (space paper15)."""
    rows = [_row(m, f"{prefix}_strategies") for m in swept(f"{prefix}_strategies") if m != "doit"]
    rows += [
        Row(
            a,
            label(a),
            f"{prefix}_ablations",
            (("method", "doit"), ("ablation", a)),
            f"ablation={a}",
            baseline=False,
        )
        for a in (swept(f"{prefix}_ablations", "ablation") if ablations else ())
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


def _table4_rows() -> tuple[Row, ...]:
    """Table 4: the further single optimizers of ``table4_grid``, SGDM (Table 1's runs), SGDM under each
    scheduler of ``table4_grid`` (key ``sgdm_<scheduler method>``), DOIT (Table 1's runs)."""
    methods = swept("table4_grid")
    scheduled = [m for m in methods if experiments.load("method", m).get("kind") == "scheduled"]
    rows = [_row(m, "table4_grid", grid=True) for m in methods if m not in scheduled]
    rows.append(_row("sgdm", "table1_grid", grid=True))
    rows += [
        Row(f"sgdm_{m}", label(f"sgdm_{m}"), "table4_grid", (("method", m),), f"method={m}", grid=True)
        for m in scheduled
    ]
    return (*rows, _row("doit", "table1_fixed", baseline=False))


# Beyond the paper: DOIT+ against the best of the paper's tuning runs (the single optimizers over the lr grid,
# picked on validation), then Prodigy, the paper's DOIT and a bandit one by one, on fresh confirmation seeds
# (conf/experiment/beyond_*.yaml); the ablation table removes each knob of DOIT+ in turn.
BEYOND = TableSpec(
    "beyond",
    "Beyond the paper: DOIT+ against the tuned single optimizers, Prodigy, the paper's DOIT and a bandit",
    tuple(_row(m, "beyond_grid", grid=True) for m in swept("beyond_grid"))
    + (
        _row(
            "prodigy",
            "beyond_prodigy",
            grid=True,
            baseline=False,  # beyond the paper's tuning runs: compared one to one (``versus``)
            lrs=tuple(_PROTOCOL["prodigy_lr_grid"]),
        ),
    )
    + tuple(_row(k, "beyond_fixed", baseline=False) for k in ("doit", "bandit", "doit_plus")),
    columns("beyond"),
    (ACC, TIME),
    "beyond",
    ours="doit_plus",
    versus=("prodigy", "doit", "bandit"),
    seeds=CONFIRM_SEEDS,
)
BEYOND_ABLATIONS = TableSpec(
    "beyond_ablations",
    "Beyond the paper: DOIT+ with each knob removed in turn",
    (_row("doit_plus", "beyond_fixed", baseline=False),)
    + tuple(
        Row(
            a,
            label(a),
            "beyond_ablations",
            (("method", "doit_plus"), ("ablation", a)),
            f"ablation={a}",
            baseline=False,
        )
        for a in swept("beyond_ablations", "ablation")
    ),
    columns("beyond"),
    (ACC, TIME),
    "beyond",
    ours="",
    seeds=CONFIRM_SEEDS,
)

# The verdict: one column, every kind of method the paper compares (and DOIT+, DOIT+2 and the bandit) beside
# the paper's own numbers, each row compared with the single optimizer picked on validation.
_VERDICT_OTHERS = tuple(m for m in swept("table1_fixed") if m != "doit")
VERDICT = TableSpec(
    "verdict",
    "Verdict: every method against the single optimizer picked on validation, beside the paper's numbers",
    tuple(_row(m, "table1_grid", grid=True, shown=m == "adam") for m in swept("table1_grid"))
    + tuple(_row(m, "table1_fixed", baseline=False) for m in _VERDICT_OTHERS)
    + (_row("doit", "table1_fixed", baseline=False, also=("beyond_fixed",)),)
    + tuple(
        dataclasses.replace(r, baseline=False, paper_table="table7")
        for r in _strategy_rows("table7", ablations=False, one_lr=True)
        if r.key != "doit"
    )
    + tuple(_row(k, "beyond_fixed", baseline=False) for k in ("doit_plus", "doit_plus2", "bandit")),
    columns("verdict"),
    (ACC,),
    "table1",
    contenders=(
        "adam",
        *_VERDICT_OTHERS,
        "one_lr",
        "random",
        "cyclical",
        "doit_plus",
        "doit_plus2",
        "bandit",
    ),
    best_label="best single optimizer (optimizer and lr picked on validation)",
)

# One run, no tuning: each method run once at its defaults against the best of the tuning runs (the single
# optimizers over the lr grid, picked on validation) at the same seeds (conf/experiment/one_run*.yaml; at
# scales paper and gpu the tuning runs are table1_grid's; at gpu DOIT, DOIT+ and the bandit those of the
# experiments below). Row keys: the method, or ``<method>_default`` where the method's key names another row.
_ONE_RUN_KEYS = {"adam": "adam_default", "prodigy": "prodigy_default"}
ONE_RUN_METHODS = {_ONE_RUN_KEYS.get(m, m): m for m in _PROTOCOL["one_run_methods"]}
_ONE_RUN_AT_GPU = {
    "doit": (("gpu", "table1_fixed"),),
    "doit_plus": (("gpu", "beyond_fixed"),),
    "bandit": (("gpu", "beyond_fixed"),),
}
ONE_RUN = TableSpec(
    "one_run",
    "One run, no tuning: each method once at its defaults against the best of 15 tuning runs",
    tuple(
        _row(
            m,
            "one_run_grid",
            grid=True,
            elsewhere=(("paper", "table1_grid"), ("gpu", "table1_grid")),
            shown=False,
        )
        for m in swept("one_run_grid")
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
    columns("one_run"),
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
            method_rows("table1"),
            columns("table1"),
            (ACC,),
            "table1",
        ),
        TableSpec(
            "table2",
            "Table 2: PEFT test accuracy (%), F1 (%) and convergence time (s)",
            method_rows("table2_cv"),
            columns("table2_cv"),
            (ACC, CONV_TIME),
            "table2",
        ),
        TableSpec(
            "table2_nlp",
            "Table 2 (NLP columns): LoRA test accuracy (%) and F1 (%)",
            method_rows("table2_nlp"),
            columns("table2_nlp"),
            (ACC, F1),
            "table2",
        ),
        TableSpec(
            "table4",
            "Table 4: test accuracy (%) of full training with more baselines",
            _table4_rows(),
            columns("table4"),
            (ACC,),
            "table4",
        ),
        TableSpec(
            "table5",
            "Table 5: top-1/3/5 test accuracy (%) of full training on ImageNet-A",
            method_rows("table5"),
            columns("table5"),
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
            columns("imagenet"),
            (ACC,),
            "summary",
        ),
        TableSpec(
            "table6",
            "Table 6: head fine-tuning test accuracy (%) and convergence time (s)",
            method_rows("table6"),
            columns("table6"),
            (ACC, CONV_TIME),
            "table6",
        ),
        TableSpec(
            "table7",
            "Table 7: switch strategies, full training on ResNet18",
            _strategy_rows("table7", one_lr=True),
            columns("table7"),
            (TRAIN, ACC, TIME, OMEGA),
            "table7",
            versus=("random", "cyclical", "halve"),
        ),
        TableSpec(
            "table8",
            "Table 8: transferability assessment (w/o vs with omega_t)",
            tuple(r for r in _strategy_rows("table8_9") if r.key in ("no_transfer", "doit")),
            columns("table8_9"),
            (TRAIN, ACC, TIME, OMEGA),
            "table8",
        ),
        TableSpec(
            "table9",
            "Table 9: switch strategies on MobileNetV2 and ResNet152",
            tuple(
                r
                for r in _strategy_rows("table8_9", ablations=False)
                if r.key in ("random", "cyclical", "doit")
            ),
            columns("table8_9"),
            (TRAIN, ACC, TIME),
            "table9",
        ),
        TableSpec(
            "table10",
            "Table 10: compression techniques, full training on ResNet18",
            tuple(
                Row(
                    key,
                    name,
                    "table10",
                    (("method", "doit"), ("ablation", ablation)),
                    f"ablation={ablation}",
                    baseline=False,
                )
                for key, name, ablation in (
                    ("random", "RP", "random_projection"),
                    ("umap", "UMAP", "umap"),
                    ("pca", "PCA", "none"),
                )
            ),
            columns("table10"),
            (TRAIN, ACC, TIME),
            "table10",
        ),
        BEYOND,
        BEYOND_ABLATIONS,
        VERDICT,
        ONE_RUN,
    )
}
