"""Build every paper table from the loaded runs (``analysis.render`` writes it as Markdown, LaTeX, CSV).

One table per settings group of its runs (``build_all``, ``analysis.settings``). Per cell: best lr
(``selection.best_lr``), mean/std/n over seeds, the paper's value beside ours. Per column: DOIT (and
each contender) minus the best baseline (picked on the same split as the best lrs) with Welch's t-test
and a bootstrap interval, convergence time and time to target; beyond the paper, "best of K default
optimizers" and an equal-compute comparison (DOIT's cold-start cycles and transferability pass are
inside its measured time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import experiments, protocol, provenance, selection, settings, stats
from analysis.protocol import TableSpec
from doit import optimizers

PAPER_CSV = Path(__file__).with_name("paper_numbers.csv")


def load_paper(path: Path = PAPER_CSV) -> pd.DataFrame:
    """The transcription: one row per (table, dataset, model, method, metric) cell of the paper."""
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    for col in ("mean", "std", "extra"):
        df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce")
    return df


def paper_rows(paper: pd.DataFrame, **where) -> pd.DataFrame:
    """The transcribed cells whose columns equal ``where`` (e.g. table=, dataset=, model=, method=, metric=)."""
    return paper[(paper[list(where)] == pd.Series(where)).all(axis=1)]


def paper_cell(paper: pd.DataFrame, table: str, column: protocol.Column, method: str, metric: str) -> str:
    dataset, model = column.paper
    hit = paper_rows(paper, table=table, dataset=dataset, model=model, method=method, metric=metric)
    if hit.empty:
        return ""
    r = hit.iloc[0]
    if math.isnan(r["mean"]):
        return f"missing (text cut: '{r['text']}')"
    text = f"{r['mean']:g}" + (f" ± {r['std']:.2f}" if not math.isnan(r["std"]) else "")
    return text + (f" + {r['extra']:g}" if not math.isnan(r["extra"]) else "")


def fmt(summary: stats.Summary, digits: int = 2, diverged: int = 0) -> str:
    """``mean ± std (n=k)`` over the complete runs, and how many diverged (never part of the mean)."""
    if summary.n == 0:
        return f"diverged (n={diverged})" if diverged else "—"
    std = "" if math.isnan(summary.std) else f" ± {summary.std:.{digits}f}"
    return f"{summary.mean:.{digits}f}{std} (n={summary.n})" + (f"; diverged: {diverged}" if diverged else "")


@dataclass
class BuiltTable:
    spec: TableSpec
    scale: str
    cells: (
        pd.DataFrame
    )  # long form: row, column, metric, ours, paper, lr, n, diverged, mean, std, selected_on
    wide: pd.DataFrame  # rendered: rows x (column, metric, ours|paper)
    diffs: pd.DataFrame  # per column: ours and the contenders vs the best baseline; ours vs the versus rows
    extras: pd.DataFrame  # per column: best of K defaults, equal compute
    missing: list[str]
    selected_on: set[str]
    select_on: str = "auto"  # the option asked for (--select-on)
    matched: set = field(default_factory=set)  # index labels of the runs any cell of the table matched
    setting: dict = field(default_factory=dict)  # the settings.SHARED values every run of it has
    deviations: list[str] = field(default_factory=list)  # recorded settings unlike the paper's, in words
    split_rows: list[str] = field(default_factory=list)  # rows shown once per tau / n_ini of their runs
    split_on: tuple[str, ...] = ()  # the shared settings the scale's runs differ in (one table per value)
    others: list[dict] = field(default_factory=list)  # those settings of the other tables of the split
    provenance: list[str] = field(default_factory=list)  # where the runs ran (analysis.provenance)

    @property
    def stem(self) -> str:
        """File name: ``<table>_<scale>``, and the split settings' values where the runs were split."""
        name = f"{self.spec.id}_{self.scale}"
        return name + (f"_{settings.slug(self.split_setting)}" if self.split_on else "")

    @property
    def split_setting(self) -> dict:
        return {n: self.setting.get(n) for n in self.split_on}


def scoped(spec: TableSpec, runs: pd.DataFrame, scale: str) -> pd.DataFrame:
    """The runs any cell of the table matches at ``scale``."""
    if runs.empty:
        return runs
    index = set()
    for column in spec.columns_at(scale):
        for row in spec.rows:
            index |= set(selection.match_rows(runs, spec, row, column, scale, every=True).index)
    return runs.loc[[i for i in runs.index if i in index]]


def build_all(
    spec: TableSpec,
    runs: pd.DataFrame,
    paper: pd.DataFrame,
    scale: str,
    select_on: str = "auto",
    files: dict | None = None,
) -> list[BuiltTable]:
    """The table at ``scale`` once per settings group of its runs (``settings.groups``: runs that differ in
    epochs, batch size, pre-training or training set never share a table), with their provenance."""
    mine = scoped(spec, runs, scale)
    parts = settings.groups(mine) or [({}, mine)]
    split_on = tuple(n for n in settings.SHARED if len({part[0].get(n) for part in parts}) > 1)
    out = []
    for setting, part in parts:
        built = build(spec, part, paper, scale, select_on)
        built.split_on = split_on
        built.others = [
            {n: other.get(n) for n in split_on} for other, _ in parts if other is not setting and split_on
        ]
        built.provenance = provenance.describe(part, files or {})
        out.append(built)
    return out


def build(
    spec: TableSpec, runs: pd.DataFrame, paper: pd.DataFrame, scale: str, select_on: str = "auto"
) -> BuiltTable:
    """Aggregate the runs of one table at one scale; the runs must share their settings (``build_all``
    splits them), and a cell whose runs differ in tau or n_ini shows one row per value."""
    groups = settings.groups(scoped(spec, runs, scale))
    if len(groups) > 1:
        raise ValueError(
            f"{spec.id} at {scale}: runs of {len(groups)} settings groups (epochs, batch size, pre-training, "
            "training set); build_all renders one table per group"
        )
    setting = groups[0][0] if groups else {}
    long, missing, chosen, split_used, matched = [], [], {}, set(), set()
    order, seen, split_rows = [spec.best_label] if spec.best_label else [], [], []
    for column in spec.columns_at(scale):
        for row in spec.rows:
            reference = experiments.paper_setting(row.experiment_at(scale), column.runs["paper"][1])
            cell = selection.match_rows(runs, spec, row, column, scale)
            matched |= set(cell.index)
            parts = settings.variants(cell, reference) or [({}, cell)]
            for i, (variant, part) in enumerate(parts):
                label = row.label if len(parts) == 1 else f"{row.label} [{settings.label(variant)}]"
                if len(parts) > 1 and row.label not in split_rows:
                    split_rows.append(row.label)
                if i == 0:
                    fill = settings.overrides(setting | variant, reference) if scale == "paper" else ""
                    missing += selection.fill_commands(spec, row, column, scale, part, fill)
                seen += [(label, settings.of(r), reference) for _, r in part.iterrows()]
                picked, lr, split = selection.best_lr(part, select_on)
                if split:
                    split_used.add(split)
                chosen[(row.key if i == 0 else label, column.key)] = selection.complete(picked)
                if row.shown and label not in order:
                    order.append(label)
                table = row.paper_table or spec.paper_table
                long += _cell_rows(spec, row, column, scale, picked, lr, split, label, paper, table)
    if spec.best_label:
        long += _best_rows(spec, chosen, paper, scale, select_on)
    cells = pd.DataFrame(long)
    if split_rows:  # a split row's plain label stays only where it holds runs (an unsplit column)
        held = set(cells.loc[cells["n"] + cells["diverged"] > 0, "row"])
        order = [r for r in order if r not in split_rows or r in held]
    wide = pd.DataFrame()
    if not cells.empty:
        wide = cells.melt(
            id_vars=["row", "column", "metric"], value_vars=["ours", "paper"], var_name="source"
        )
        wide = wide.pivot_table(
            index="row", columns=["column", "metric", "source"], values="value", aggfunc="first", sort=False
        )
        wide = wide.reindex(order)
        if not cells["paper"].astype(bool).any():  # beyond the paper: no paper columns
            wide = wide.drop(columns="paper", level="source")
    diffs, extras = _comparisons(spec, runs, chosen, scale, select_on)
    built = BuiltTable(spec, scale, cells, wide, diffs, extras, missing, split_used, select_on, matched)
    deviations = settings.deviations(seen) + _seed_note(spec, runs.loc[list(matched)], scale)
    built.setting, built.deviations, built.split_rows = setting, deviations, split_rows
    return built


def _seed_note(spec: TableSpec, runs: pd.DataFrame, scale: str) -> list[str]:
    """``seeds 0, 1 (this table's: 100, 101, 102)`` when runs have seeds outside the table's protocol."""
    expected = (spec.seeds or protocol.SEEDS).get(scale, ())
    ran = sorted({int(s) for s in runs["seed"]}) if not runs.empty else []
    if not set(ran) - set(expected):
        return []
    return [f"seeds {', '.join(map(str, ran))} (this table's: {', '.join(map(str, expected))})"]


def _metric_text(metric: protocol.Metric, done: pd.DataFrame, diverged: int, switching: bool) -> tuple:
    s = stats.summarize(done[metric.column])
    timed = metric.column == "train_time_s"
    text = fmt(s, 1 if timed else 3 if metric is protocol.OMEGA else 2, diverged)
    if timed and switching and done["transfer_time_s"].fillna(0).gt(0).any():
        text += f" + {done['transfer_time_s'].mean():.1f}"
    return text, s


def _cell_rows(spec, row, column, scale, picked, lr, split, label, paper, table) -> list[dict]:
    """One long-form entry per metric of a (row, column) cell."""
    done, diverged = selection.complete(picked), int((picked["status"] != "complete").sum())
    out = []
    for metric in spec.metrics:
        text, s = _metric_text(metric, done, diverged, not row.baseline)
        out.append(
            {
                "row": label,
                "column": column.label(scale),
                "metric": metric.label,
                "ours": text,
                "paper": paper_cell(paper, table, column, row.key, metric.paper),
                "lr": lr,
                "n": s.n,
                "diverged": diverged,
                "mean": s.mean,
                "std": s.std,
                "selected_on": split or "single lr",
            }
        )
    return out


def _best_rows(spec, chosen, paper, scale, select_on) -> list[dict]:
    """``spec.best_label``'s row: per column the best baseline (picked like a best lr), named with its lr;
    the paper's column: the best of the paper's own cells for the same rows (picked on test, as it did)."""
    out = []
    for column in spec.columns_at(scale):
        best = best_baseline(spec, chosen, column, select_on)
        if best is None:
            continue
        row, runs, split = best
        lr = runs["lr"].iloc[0]
        name = row.label + ("" if pd.isna(lr) else f", lr {lr:g}")
        for i, metric in enumerate(spec.metrics):
            text, s = _metric_text(metric, runs, 0, False)
            out.append(
                {
                    "row": spec.best_label,
                    "column": column.label(scale),
                    "metric": metric.label,
                    "ours": f"{text} ({name})",
                    "paper": paper_best(paper, spec, column, metric) if i == 0 else "",
                    "lr": None if pd.isna(lr) else float(lr),
                    "n": s.n,
                    "diverged": 0,
                    "mean": s.mean,
                    "std": s.std,
                    "selected_on": split,
                }
            )
    return out


def paper_best(paper: pd.DataFrame, spec: TableSpec, column: protocol.Column, metric: protocol.Metric) -> str:
    """The paper's best cell among the baseline rows of ``column`` (the paper picked on test)."""
    dataset, model = column.paper
    found = []
    for row in (r for r in spec.rows if r.baseline):
        hit = paper_rows(
            paper,
            table=row.paper_table or spec.paper_table,
            dataset=dataset,
            model=model,
            method=row.key,
            metric=metric.paper,
        )
        if not hit.empty and not math.isnan(hit.iloc[0]["mean"]):
            found.append((hit.iloc[0]["mean"], row))
    if not found:
        return ""
    _, row = max(found, key=lambda mr: mr[0])
    text = paper_cell(paper, row.paper_table or spec.paper_table, column, row.key, metric.paper)
    return f"{text} ({row.label}, the best on test)"


def best_baseline(spec: TableSpec, chosen: dict, column: protocol.Column, select_on: str):
    """``(row, runs, split)`` of the best baseline of a column (picked like a best lr: on validation when
    every run has it), or None when no baseline has a complete run."""
    baselines = [
        (r, chosen[(r.key, column.key)])
        for r in spec.rows
        if r.baseline and not chosen[(r.key, column.key)].empty
    ]
    if not baselines:
        return None
    split = selection.select_split(pd.concat([b for _, b in baselines]), select_on)
    row, runs = max(baselines, key=lambda rb: rb[1][split].mean())
    return row, runs, split


def tuning_runs(rows) -> int:
    """Runs per seed behind a pick among ``rows``: each grid row's lrs, one run for any other."""
    return sum(len(r.lrs) if r.grid else 1 for r in rows)


def _comparisons(
    spec: TableSpec, runs: pd.DataFrame, chosen: dict, scale: str, select_on: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per column: ``spec.ours`` and each of ``spec.contenders`` against the best baseline (picked like a
    best lr: on validation when every run has it, reported on test), then ``spec.ours`` against each
    ``spec.versus`` row."""
    acc = spec.metrics[0].column if spec.metrics[0] is not protocol.TRAIN else "final_test_acc"
    rows = {r.key: r for r in spec.rows}
    behind = tuning_runs(r for r in spec.rows if r.baseline)
    diffs, extras = [], []
    for column in spec.columns_at(scale):
        best = best_baseline(spec, chosen, column, select_on)
        if best is None:
            continue
        best_row, best_runs, split = best
        for key in (k for k in (spec.ours, *spec.contenders) if k):
            ours = chosen.get((key, column.key))
            if ours is None or ours.empty:
                continue
            against = [(f"best baseline: {best_row.label}", split, best_runs, behind)]
            if key == spec.ours:
                against += [
                    (r.label, "", chosen[(r.key, column.key)], tuning_runs([r]))
                    for r in spec.rows
                    if r.key in spec.versus and not chosen[(r.key, column.key)].empty
                ]
            for name, picked_on, them, n_runs in against:
                diffs.append(
                    _compare(column.label(scale), rows[key].label, name, picked_on, ours, them, acc, n_runs)
                )
            if key == spec.ours:
                extras.append(_beyond(spec, runs, column, scale, ours, acc, select_on))
    return pd.DataFrame(diffs), pd.DataFrame([e for e in extras if e])


def _cost(cell: pd.DataFrame) -> float:
    """Mean seconds per run: training plus DOIT's transferability pass."""
    return float((cell["train_time_s"] + cell["transfer_time_s"].fillna(0)).mean())


def _compare(
    column: str, ours_label: str, name: str, picked_on: str, ours, them, acc: str, behind: int
) -> dict:
    c = stats.compare(ours[acc], them[acc])
    conv = stats.summarize(ours["converged_time_s"]), stats.summarize(them["converged_time_s"])
    target = stats.summarize(ours["time_to_target_s"]), stats.summarize(them["time_to_target_s"])
    return {
        "column": column,
        "ours": ours_label,
        "against": name,
        "picked on": picked_on,
        "diff (pp)": c.diff,
        "Welch p": c.p_value,
        "95% CI low": c.ci_low,
        "95% CI high": c.ci_high,
        "n ours": c.n_a,
        "n them": c.n_b,
        "wall-time ratio (ours/them)": _cost(ours) / _cost(them) if _cost(them) > 0 else math.nan,
        "runs per seed behind them": behind,
        "conv. time ours (s)": conv[0].mean,
        "conv. time them (s)": conv[1].mean,
        "time to target ours (s)": target[0].mean,
        "time to target them (s)": target[1].mean,
    }


def default_lrs() -> dict[str, float]:
    """The registry default lr of each single optimizer of the paper (protocol.SINGLES)."""
    return {name: float(optimizers.info(name).defaults["lr"]) for name in protocol.SINGLES}


def _beyond(spec, runs, column, scale, ours, acc, select_on) -> dict:
    """Best of K default optimizers (each single optimizer's lr-grid run at its registry default lr,
    ``doit.optimizers.info(name).defaults["lr"]``: what one would run without tuning; DOIT's own space
    holds 3 lrs per optimizer), and the expected best of the default runs that the time of ``spec.ours``
    (DOIT, or DOIT+) would buy."""
    lrs = default_lrs()
    defaults = []
    for row in (r for r in spec.rows if r.grid and r.key in lrs):
        cell = selection.complete(selection.match_rows(runs, spec, row, column, scale))
        cell = cell[(cell["lr"] - lrs[row.key]).abs() < 1e-12]
        if not cell.empty:
            defaults.append((row.label, cell))
    if not defaults:
        return {}
    split = selection.select_split(pd.concat([c for _, c in defaults]), select_on)
    best_label, best = max(defaults, key=lambda lc: lc[1][split].mean())
    doit_cost = (ours["train_time_s"] + ours["transfer_time_s"].fillna(0)).mean()
    run_cost = pd.concat([c for _, c in defaults])["train_time_s"].mean()
    m = max(1, int(doit_cost // run_cost)) if run_cost > 0 else 1
    means = [c[acc].mean() for _, c in defaults]
    n_cycles = ours["n_cycles"].mean()
    cold = ((ours["n_ini"].mean() + 1) / n_cycles) if n_cycles and n_cycles > 0 else math.nan  # Algorithm 1
    return {
        "column": column.label(scale),
        "K defaults": len(defaults),
        "best of K": best_label,
        "best-of-K acc": best[acc].mean(),
        "best-of-K cost (s)": sum(c["train_time_s"].mean() for _, c in defaults),
        "ours acc": ours[acc].mean(),
        "ours cost (s, train+transfer)": doit_cost,
        "ours cold-start share of cycles": min(cold, 1.0) if not math.isnan(cold) else math.nan,
        "default runs at our cost": m,
        "equal-compute E[best of m defaults]": stats.expected_best_of(means, m),
    }
