"""``python -m analysis tables|figures --results <root> [--results <root> ...] --out <dir>`` (make tables /
make figures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis import protocol
from analysis.collect import load_results


def _skipped_report(skipped: list[tuple[str, str]]) -> str:
    lines = [f"- {path}: {why}" for path, why in skipped]
    return "## Skipped result files\n\n" + ("\n".join(lines) if lines else "none") + "\n"


def _unused_report(unused: pd.DataFrame) -> str:
    """Valid runs no table cell uses (another experiment, scale or dataset), counted, so none vanishes."""
    if unused.empty:
        return "## Runs in no table\n\nnone\n"
    keys = ["experiment", "scale", "dataset", "model", "method"]
    counts = unused[keys].value_counts(dropna=False)
    lines = [
        "- " + " ".join(f"{k}={'-' if pd.isna(v) else v}" for k, v in zip(keys, key, strict=True)) + f": {n}"
        for key, n in counts.items()
    ]
    return "## Runs in no table (figures may use them)\n\n" + "\n".join(lines) + "\n"


def cmd_tables(args) -> int:
    from analysis import cost, render, settings, tables
    from analysis.protocol import TABLES

    col = load_results(*args.results)
    paper = tables.load_paper()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_diverged = int((col.runs["status"] != "complete").sum())
    roots = ", ".join(map(str, args.results))
    index = [
        f"# Tables (results: {roots}; {len(col.runs)} runs, {n_diverged} of them diverged)\n",
        f"Best lr of each grid picked with --select-on {args.select_on} (auto: on val_acc where every run "
        "has one, else on the final test accuracy); each table states the split it used, every recorded "
        "setting unlike the paper's and where its runs ran.\n",
    ]
    n_missing, matched = 0, set()
    scales = args.scale or list(protocol.SEEDS)
    for spec in TABLES.values():
        for scale in scales:
            for built in tables.build_all(spec, col.runs, paper, scale, args.select_on, col.provenance):
                matched |= built.matched
                if built.cells.empty:
                    continue
                if (built.cells["n"] + built.cells["diverged"]).sum() == 0 and not args.all:
                    n_missing += len(built.missing)
                    continue
                paths = render.write(built, out)
                n_missing += len(built.missing)
                group = f", {settings.label(built.split_setting)}" if built.split_on else ""
                index.append(f"- [{spec.title} ({scale}{group})]({paths[0].name})")
    index.append(
        f"- [Cost of the paper's tables on a GPU cluster (estimates)]({cost.write(col, paper, out).name})"
    )
    index.append("\n" + _unused_report(col.runs.drop(index=list(matched))))
    index.append("\n" + _skipped_report(col.skipped))
    (out / "README.md").write_text("\n".join(index) + "\n")
    for path, why in col.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(
        f"{len(col.runs)} runs, {len(col.skipped)} skipped, {n_missing} missing-run commands; tables in {out}"
    )
    return 0


def cmd_figures(args) -> int:
    from analysis import figures

    col = load_results(*args.results)
    toys = args.toys or Path(args.results[0]) / "toys"
    written, skipped = figures.make_all(col.runs, Path(args.out), toys, args.select_on)
    for path, why in col.skipped + skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(f"{len(written)} figure files in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("tables", cmd_tables), ("figures", cmd_figures)):
        p = sub.add_parser(name)
        p.add_argument(
            "--results",
            action="append",
            help="results root, searched recursively (repeatable: several roots, e.g. outputs and "
            "results/<name>; default outputs)",
        )
        p.add_argument("--out", default=f"reports/{name}", help="output directory")
        p.set_defaults(func=func)
        p.add_argument(
            "--select-on",
            default="auto",
            choices=["auto", "val", "test", "train"],
            help="split the best lr of the grid is picked on (auto, the default: val_acc where every "
            "run has one, else test; test: the paper's protocol)",
        )
        if name == "figures":
            p.add_argument(
                "--toys",
                default=None,
                help="toy-function paths of `python -m runners.toys` (default: <results>/toys)",
            )
        if name == "tables":
            p.add_argument(
                "--scale",
                action="append",
                choices=list(protocol.SEEDS),
                help="only this scale (repeatable; default every scale)",
            )
            p.add_argument("--all", action="store_true", help="also write tables that have no runs at all")
    args = parser.parse_args(argv)
    args.results = args.results or ["outputs"]
    for root in args.results:
        if not Path(root).is_dir():
            print(
                f"error: --results: directory {root!r} does not exist; point it at the folder holding "
                "the runs' result.json files",
                file=sys.stderr,
            )
            return 2
    try:
        return args.func(args)
    except OSError as err:  # writing a table or figure: no space, I/O error, permission, read-only disk
        where = err.filename or args.out
        reason = f"{err.strerror} (errno {err.errno})" if err.errno else str(err)
        print(
            f"error: cannot write {where}: {reason}; free space or fix the permissions of --out "
            f"{args.out}, then rerun the same command",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
