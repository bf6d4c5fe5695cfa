"""Which runs fill a table cell: its runs (``match_rows``), the finished ones (``complete``), the best lr
(``best_lr``, Appendix C.1, picked on ``select_split``) and the commands that would add its missing runs
(``fill_commands``).

Appendix C.1: single optimizers are tried at every lr of the grid and the best is reported; the paper does
not say on which split the best lr is picked. We pick on ``val_acc`` when every candidate run has one
(``--select-on auto``, the default), else on the final test accuracy (``--select-on test``: what the
paper's tables imply; optimistic); every rendered table states the split it was picked on. A run with
status "diverged" never counts towards a mean and never wins a pick: an lr with fewer diverged seeds
always ranks first.
"""

from __future__ import annotations

import pandas as pd

from analysis.protocol import SEEDS, Column, Row, TableSpec


def complete(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that finished (status "complete"); diverged runs are counted, never averaged."""
    return runs[runs["status"] == "complete"]


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
