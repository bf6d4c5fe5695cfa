"""Build every paper table from the loaded runs and render it (Markdown, LaTeX booktabs, CSV).

Per cell: best lr (``protocol.best_lr``), mean/std/n over seeds, the paper's value beside ours.
Per column: DOIT minus the best baseline (picked on the same split as the best lrs) with Welch's t-test and a bootstrap interval, convergence
time and time to target; beyond the paper, "best of K default optimizers" and an equal-compute
comparison (DOIT's cold-start cycles and transferability pass are inside its measured time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import protocol, stats
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
    diffs: pd.DataFrame  # per column: ours (spec.ours) vs the best baseline and the spec.versus rows
    extras: pd.DataFrame  # per column: best of K defaults, equal compute
    missing: list[str]
    selected_on: set[str]
    select_on: str = "auto"  # the option asked for (--select-on)
    matched: set = field(default_factory=set)  # index labels of the runs any cell of the table matched


def build(
    spec: TableSpec, runs: pd.DataFrame, paper: pd.DataFrame, scale: str, select_on: str = "auto"
) -> BuiltTable:
    """Aggregate the runs of one table at one scale."""
    long, missing, chosen, split_used, matched = [], [], {}, set(), set()
    for column in spec.columns_at(scale):
        for row in spec.rows:
            cell = protocol.match_rows(runs, spec, row, column, scale)
            missing += protocol.fill_commands(spec, row, column, scale, cell)
            picked, lr, split = protocol.best_lr(cell, select_on)
            if split:
                split_used.add(split)
            chosen[(row.key, column.key)] = protocol.complete(picked)
            matched |= set(cell.index)
            done, diverged = protocol.complete(picked), int((picked["status"] != "complete").sum())
            for metric in spec.metrics:
                s = stats.summarize(done[metric.column])
                timed = metric.column == "train_time_s"
                ours = fmt(s, 1 if timed else 3 if metric is protocol.OMEGA else 2, diverged)
                if timed and not done.empty and done["transfer_time_s"].notna().any() and not row.baseline:
                    ours += f" + {done['transfer_time_s'].mean():.1f}"
                long.append(
                    {
                        "row": row.label,
                        "column": column.label(scale),
                        "metric": metric.label,
                        "ours": ours,
                        "paper": paper_cell(paper, spec.paper_table, column, row.key, metric.paper),
                        "lr": lr,
                        "n": s.n,
                        "diverged": diverged,
                        "mean": s.mean,
                        "std": s.std,
                        "selected_on": split or "single lr",
                    }
                )
    cells = pd.DataFrame(long)
    wide = pd.DataFrame()
    if not cells.empty:
        wide = cells.melt(
            id_vars=["row", "column", "metric"], value_vars=["ours", "paper"], var_name="source"
        )
        wide = wide.pivot_table(
            index="row", columns=["column", "metric", "source"], values="value", aggfunc="first", sort=False
        )
        wide = wide.reindex([r.label for r in spec.rows])
    diffs, extras = _comparisons(spec, runs, chosen, scale, select_on)
    return BuiltTable(spec, scale, cells, wide, diffs, extras, missing, split_used, select_on, matched)


def _comparisons(
    spec: TableSpec, runs: pd.DataFrame, chosen: dict, scale: str, select_on: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per column: ``spec.ours`` against the best baseline (picked like a best lr: on validation when every
    run has it, reported on test), then against each ``spec.versus`` row."""
    acc = spec.metrics[0].column if spec.metrics[0] is not protocol.TRAIN else "final_test_acc"
    ours_row = next((r for r in spec.rows if r.key == spec.ours), None)
    diffs, extras = [], []
    for column in spec.columns_at(scale):
        ours = chosen.get((ours_row.key, column.key)) if ours_row else None
        baselines = [
            (r, chosen[(r.key, column.key)])
            for r in spec.rows
            if r.baseline and not chosen[(r.key, column.key)].empty
        ]
        if ours is None or ours.empty or not baselines:
            continue
        split = protocol.select_split(pd.concat([b for _, b in baselines]), select_on)
        best_row, best = max(baselines, key=lambda rb: rb[1][split].mean())
        against = [(f"best baseline: {best_row.label}", split, best)]
        against += [
            (r.label, "", chosen[(r.key, column.key)])
            for r in spec.rows
            if r.key in spec.versus and not chosen[(r.key, column.key)].empty
        ]
        for name, picked_on, them in against:
            diffs.append(_compare(column.label(scale), ours_row.label, name, picked_on, ours, them, acc))
        extras.append(_beyond(spec, runs, column, scale, ours, acc, select_on))
    return pd.DataFrame(diffs), pd.DataFrame([e for e in extras if e])


def _cost(cell: pd.DataFrame) -> float:
    """Mean seconds per run: training plus DOIT's transferability pass."""
    return float((cell["train_time_s"] + cell["transfer_time_s"].fillna(0)).mean())


def _compare(column: str, ours_label: str, name: str, picked_on: str, ours, them, acc: str) -> dict:
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
        cell = protocol.complete(protocol.match_rows(runs, spec, row, column, scale))
        cell = cell[(cell["lr"] - lrs[row.key]).abs() < 1e-12]
        if not cell.empty:
            defaults.append((row.label, cell))
    if not defaults:
        return {}
    split = protocol.select_split(pd.concat([c for _, c in defaults]), select_on)
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


# ---------------------------------------------------------------- rendering


def _num(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def markdown(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub Markdown table (pandas' to_markdown needs the optional tabulate package)."""
    if df.empty:
        return "_no data_\n"
    flat = df.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [" / ".join(str(p) for p in c) for c in flat.columns]
    if index:
        flat = flat.reset_index()
    head = [str(c) for c in flat.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in flat.iterrows():
        lines.append("| " + " | ".join(_num(v) for v in r) + " |")
    return "\n".join(lines) + "\n"


def latex(df: pd.DataFrame, caption: str) -> str:
    """LaTeX with booktabs rules (pandas Styler)."""
    if df.empty:
        return f"% {caption}: no data\n"
    out = df.fillna("").map(lambda v: _num(v).replace("±", r"$\pm$").replace("_", r"\_"))
    return out.style.to_latex(hrules=True, caption=caption.replace("_", r"\_"), multicol_align="c")


def selection_note(built: BuiltTable) -> str:
    """Which protocol produced the table: the split the best lr was picked on, and the option asked for."""
    split = ", ".join(sorted(built.selected_on)) or "n/a (every row has a single lr)"
    test = (
        " (TEST split: optimistic, the paper's protocol; no validation accuracies)"
        if ("final_test_acc" in built.selected_on)
        else ""
    )
    return f"Best lr of the grid selected on: {split}{test}; --select-on {built.select_on}."


def write(built: BuiltTable, out: Path) -> list[Path]:
    """Write ``<id>_<scale>.{md,tex,csv}`` (+ ``_diff.csv``); return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{built.spec.id}_{built.scale}"
    protocol_note = selection_note(built)
    note = (
        f"Scale: {built.scale} ({protocol.SCALE_NOTES[built.scale]}). Ours: mean ± std over the complete seeds (n); diverged runs are counted "
        f"beside it, never averaged. Paper: {built.spec.paper_table} of the paper, cells as transcribed in "
        f"analysis/paper_numbers.csv. {protocol_note}"
    )
    parts = [f"## {built.spec.title}\n", note + "\n", markdown(built.wide)]
    if not built.diffs.empty:
        parts += [
            "\n### Ours vs the best baseline and others (Welch t-test and percentile bootstrap over seeds)\n",
            markdown(built.diffs, index=False),
        ]
    if not built.extras.empty:
        parts += [
            "\n### Beyond the paper: best of K default optimizers; equal compute\n",
            markdown(built.extras, index=False),
        ]
    if built.missing:
        parts += [
            "\n### Missing runs (commands that fill them)\n",
            "```\n" + "\n".join(built.missing) + "\n```\n",
        ]
    paths = [stem.with_suffix(".md"), stem.with_suffix(".tex"), stem.with_suffix(".csv")]
    paths[0].write_text("\n".join(parts))
    caption = (
        f"{built.spec.title} ({built.scale} scale: {protocol.SCALE_NOTES[built.scale]}). {protocol_note}"
    )
    paths[1].write_text(latex(built.wide, caption))
    built.cells.to_csv(paths[2], index=False)
    if not built.diffs.empty:
        paths.append(Path(f"{stem}_diff.csv"))
        built.diffs.to_csv(paths[-1], index=False)
    return paths
