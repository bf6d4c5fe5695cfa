"""What the paper's tables cost on a GPU cluster: the runs each needs at the paper's settings
(the experiment configs' sweeps at scale paper, ``analysis.experiments.points``) and ESTIMATED run-hours
from the per-step times of runs measured on a GPU (``HOW``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import experiments, protocol, provenance, selection
from analysis.collect import Collection
from analysis.render import markdown

# Ours, not the paper's: DOIT+ and the beyond tables, the verdict and the one-run table.
PAPER_TABLES = tuple(
    k for k in protocol.TABLES if k not in ("beyond", "beyond_ablations", "verdict", "one_run")
)
MEASURED = ("mnist", "resnet18", "full")  # the one (dataset, model, mode) timed on a GPU
# Training-split sizes of torchvision's datasets (MNIST, USPS, CIFAR10, STL10 'train'); 90% of each is
# trained on (the default 10% validation split, README ambiguity 17).
TRAIN_EXAMPLES = {"mnist": 60_000, "usps": 7_291, "cifar10": 50_000, "stl10": 5_000}
TRAIN_SHARE = 0.9
SWITCHING = ("doit", "random", "cyclical", "doit_plus", "doit_plus2", "bandit")
HOW = (
    "only ResNet18, fully trained, on MNIST has been timed on a GPU. A cell's estimate is the median "
    "measured seconds per training step of its method (per-epoch evaluation included; a method not timed "
    "takes DOIT's time if it switches, else the median of the timed single optimizers, and the cell says "
    "so) times the paper's steps: epochs x training examples after the 10% validation split / batch size. "
    "MNIST cells are measured per step and scaled to the paper's 100 epochs; USPS, CIFAR10 and STL10 cells "
    "are extrapolated from MNIST by their step count (same model at each dataset's native image size: "
    "STL10's 96x96 images make more work per step than MNIST's 28x28, so its estimate is low); every other "
    "model, training mode (head, LoRA) or dataset is not measured."
)


@dataclass(frozen=True)
class Timing:
    """Per-step seconds per method on the measured setting, and how they were measured."""

    per_step: dict[str, float]  # method -> median seconds per training step (evaluation included)
    per_epoch: dict[str, float]  # method -> median seconds per epoch
    runs: dict[str, int]
    concurrent: int | None  # runs that shared the GPU at once (provenance), if recorded
    sources: list[str]  # caption lines: where the timed runs ran


def measure(col: Collection) -> Timing:
    """Median times of the complete runs of ``MEASURED`` that ran on a GPU (env.device or provenance)."""
    runs = selection.complete(col.runs)
    if not runs.empty:
        on_gpu = runs.apply(lambda r: (provenance.device(r, col.provenance) or "").startswith("cuda"), axis=1)
        setting = runs[["dataset", "model", "mode"]].apply(tuple, axis=1) == MEASURED
        runs = runs[on_gpu & setting & (runs["steps"] > 0) & (runs["epochs_run"] > 0)]
    if runs.empty:
        return Timing({}, {}, {}, None, [])
    per_step = (runs["train_time_s"] / runs["steps"]).groupby(runs["method"]).median()
    per_epoch = (runs["train_time_s"] / runs["epochs_run"]).groupby(runs["method"]).median()
    shared = {col.provenance[k].concurrent_runs for k in runs["provenance"].dropna().unique()} - {None}
    return Timing(
        per_step.to_dict(),
        per_epoch.to_dict(),
        runs["method"].value_counts().to_dict(),
        max(shared) if shared else None,
        provenance.describe(runs, col.provenance),
    )


def _seconds_per_step(method: str, timing: Timing) -> tuple[float, str]:
    """The measured time of ``method``, else a stand-in (DOIT's for a switching method, the median of the
    timed single optimizers for any other), with the stand-in named ("" when measured)."""
    if method in timing.per_step:
        return timing.per_step[method], ""
    if method in SWITCHING and "doit" in timing.per_step:
        return timing.per_step["doit"], "DOIT's time"
    singles = [timing.per_step[m] for m in protocol.SINGLES if m in timing.per_step]
    if not singles:
        return math.nan, "not measured"
    return float(pd.Series(singles).median()), "the median of the timed single optimizers"


def _stand_ins(notes: dict[str, list[str]]) -> str:
    """``(asgd, adamw: the median of the timed single optimizers)``: the methods each stand-in times."""
    parts = [f"{', '.join(methods)}: {why}" for why, methods in notes.items()]
    return f" ({'; '.join(parts)})" if parts else ""


def _steps(point: dict) -> int:
    setting = experiments.paper_setting(point["experiment"], point["model"])
    per_epoch = math.ceil(TRAIN_EXAMPLES[point["dataset"]] * TRAIN_SHARE / setting["batch_size"])
    return setting["epochs"] * per_epoch


def _matches(point: dict, row: protocol.Row, column: protocol.Column) -> bool:
    dataset, model, mode = column.runs["paper"]
    return (
        point["experiment"] == row.experiment_at("paper")
        and (point["dataset"], point["model"], point["mode"]) == (dataset, model, mode)
        and all(point.get(key) == str(value) for key, value in row.match)
    )


def cells(timing: Timing) -> pd.DataFrame:
    """One row per (paper table, column): runs at scale paper, estimated run-hours and the basis."""
    out = []
    for table in PAPER_TABLES:
        spec = protocol.TABLES[table]
        experiments_used = dict.fromkeys(r.experiment_at("paper") for r in spec.rows)
        swept = [p for e in experiments_used for p in experiments.points(e, "paper")]
        for column in spec.columns_at("paper"):
            mine = [p for p in swept if any(_matches(p, row, column) for row in spec.rows)]
            dataset, model, mode = column.runs["paper"]
            hours, notes = math.nan, {}
            if (model, mode) == MEASURED[1:] and dataset in TRAIN_EXAMPLES and timing.per_step:
                seconds = []
                for point in mine:
                    per_step, why = _seconds_per_step(point["method"], timing)
                    seconds.append(per_step * _steps(point))
                    if why and point["method"] not in notes.setdefault(why, []):
                        notes[why].append(point["method"])
                hours = sum(seconds) / 3600
                basis = (
                    "measured per step" if dataset == MEASURED[0] else "extrapolated by step count from MNIST"
                )
            else:
                basis = "not measured"
            out.append(
                {
                    "table": spec.title.split(":")[0],
                    "column": column.label("paper"),
                    "runs": len(mine),
                    "run-hours (estimate)": hours,
                    "GPU-hours, runs sharing a GPU as measured (estimate)": (
                        hours / timing.concurrent if timing.concurrent else math.nan
                    ),
                    "basis": basis + _stand_ins(notes),
                    "_points": {_key(p) for p in mine},
                }
            )
    return pd.DataFrame(out)


def _key(point: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(point.items()))


def totals(by_column: pd.DataFrame) -> pd.DataFrame:
    """Per table: runs, estimated hours of the columns with an estimate, columns without one."""
    rows = []
    for table, part in by_column.groupby("table", sort=False):
        known = part[part["run-hours (estimate)"].notna()]
        rows.append(
            {
                "table": table,
                "runs": int(part["runs"].sum()),
                "runs with an estimate": int(known["runs"].sum()),
                "run-hours (estimate, those runs)": known["run-hours (estimate)"].sum()
                if len(known)
                else math.nan,
                "GPU-hours, sharing as measured (estimate)": (
                    known["GPU-hours, runs sharing a GPU as measured (estimate)"].sum()
                    if len(known)
                    else math.nan
                ),
                "columns not measured": int(part["run-hours (estimate)"].isna().sum()),
            }
        )
    return pd.DataFrame(rows)


def paper_times(paper: pd.DataFrame) -> str:
    """The paper's own seconds per run for Table 7's ResNet18/MNIST rows (its hardware is not stated)."""
    hit = paper[
        (paper["table"] == "table7")
        & (paper["dataset"] == "mnist")
        & (paper["model"] == "resnet18")
        & (paper["metric"] == "time_s")
    ]["mean"].dropna()
    if hit.empty:
        return ""
    return (
        f"For scale, the paper's Table 7 reports {hit.min():,.0f}-{hit.max():,.0f} s per 100-epoch "
        "ResNet18/MNIST run (transcribed in analysis/paper_numbers.csv; the paper does not name its hardware)."
    )


def render(col: Collection, paper: pd.DataFrame) -> str:
    """The Markdown page: how the estimate is made, the measured times, per-table totals, per-column cells."""
    timing = measure(col)
    by_column = cells(timing)
    distinct = len(set().union(*by_column["_points"])) if not by_column.empty else 0
    shown = by_column.drop(columns="_points").round(1)
    measured = pd.DataFrame(
        {
            "method": list(timing.per_step),
            "runs timed": [timing.runs[m] for m in timing.per_step],
            "s per epoch (median)": [round(timing.per_epoch[m], 1) for m in timing.per_step],
            "s per step (median)": [round(v, 4) for v in timing.per_step.values()],
        }
    )
    shared = (
        f"{timing.concurrent} runs shared one GPU at a time while they were timed, so one run alone would "
        "likely be faster; 'GPU-hours' divides run-hours by that sharing, 'run-hours' does not"
        if timing.concurrent
        else "how many runs shared the GPU is not recorded"
    )
    lines = [
        "# Cost of the paper's tables at the paper's settings (ESTIMATES)\n",
        "Runs: each table's cells at scale paper, counted from the experiment configs' sweeps "
        "(conf/experiment/: methods x lrs x datasets x models x seeds, plus ablations and spaces); a run "
        f"two tables share counts in both (distinct runs over all of them: {distinct}).\n",
        f"Hours: {HOW} {shared[0].upper()}{shared[1:]}.",
        paper_times(paper) + "\n",
    ]
    if timing.sources:
        lines += ["Timed runs:\n", "\n".join(f"- {s}" for s in timing.sources) + "\n"]
    else:
        lines.append("No run of ResNet18 on MNIST on a GPU in the results: every column is not measured.\n")
    lines += [
        "## Per table\n",
        markdown(totals(by_column).round(1), index=False),
        "\n## Per column\n",
        markdown(shown, index=False),
    ]
    if not measured.empty:
        lines += [
            "\n## Measured times (ResNet18, MNIST, full training, on a GPU)\n",
            markdown(measured, index=False),
        ]
    return "\n".join(lines)


def write(col: Collection, paper: pd.DataFrame, out: Path) -> Path:
    path = out / "cost.md"
    path.write_text(render(col, paper))
    return path
