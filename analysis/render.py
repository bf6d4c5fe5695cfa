"""Render built tables (``analysis.tables``): Markdown, LaTeX booktabs and CSV, each with a caption that
says what ran (scale, every recorded setting unlike the paper's, how runs were split, provenance) and how
the best lr was picked."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis import labels, settings
from analysis.tables import BuiltTable


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


def settings_note(built: BuiltTable) -> str:
    """What ran: every recorded setting unlike the paper's, how the runs were split, and rows split by
    tau / n_ini."""
    if built.deviations:
        note = (
            "Recorded settings that differ from the experiment's paper setting (conf/experiment/, and the "
            "model's pre-training): " + "; ".join(built.deviations) + "."
        )
    elif built.matched:
        note = (
            "Every recorded setting (epochs, batch size, pre-training, training set, tau, n_ini) is the "
            "experiment's paper setting."
        )
    else:
        note = "No runs."
    if built.split_on:
        others = "; ".join(
            f"{settings.label(o)} ({built.spec.id}_{built.scale}_{settings.slug(o)}.md)" for o in built.others
        )
        note += (
            f" The runs at this scale differ in {', '.join(settings.NAMES[n] for n in built.split_on)}, and "
            f"runs of different settings never share a cell: this table holds those with "
            f"{settings.label(built.split_setting)}; the others: {others}."
        )
    if built.split_rows:
        note += (
            f" Shown once per tau and n_ini of their runs: {', '.join(built.split_rows)} (comparisons use the "
            "variant with the most runs)."
        )
    return note


def paper_note(built: BuiltTable) -> str:
    if built.cells.empty or not built.cells["paper"].astype(bool).any():
        return "The paper has no numbers for these rows. "
    tables = sorted({r.paper_table or built.spec.paper_table for r in built.spec.rows})
    return (
        f"Paper: {', '.join(tables)} of the paper, cells as transcribed in analysis/paper_numbers.csv "
        "(the paper picked lrs on test). "
    )


def caption(built: BuiltTable) -> str:
    """The paragraph under a table's title: scale, settings, statistics, paper source, selection."""
    return (
        f"Scale: {built.scale} ({labels.SCALE_NOTES[built.scale]}). {settings_note(built)} Ours: mean ± "
        "std over the complete seeds (n); diverged runs are counted beside it, never averaged. "
        + paper_note(built)
        + selection_note(built)
    )


def write(built: BuiltTable, out: Path) -> list[Path]:
    """Write ``<stem>.{md,tex,csv}`` (+ ``_diff.csv``; ``BuiltTable.stem``); return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / built.stem
    parts = [f"## {built.spec.title}\n", caption(built) + "\n"]
    if built.provenance:
        parts.append("Provenance:\n\n" + "\n".join(f"- {line}" for line in built.provenance) + "\n")
    parts.append(markdown(built.wide))
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
    paths = [Path(f"{stem}.md"), Path(f"{stem}.tex"), Path(f"{stem}.csv")]
    paths[0].write_text("\n".join(parts))
    paths[1].write_text(latex(built.wide, f"{built.spec.title}. {caption(built)}"))
    built.cells.to_csv(paths[2], index=False)
    if not built.diffs.empty:
        paths.append(Path(f"{stem}_diff.csv"))
        built.diffs.to_csv(paths[-1], index=False)
    return paths
