"""``python -m analysis tables|figures --results <root> --out <dir>`` (make tables / make figures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.collect import load_results


def _skipped_report(skipped: list[tuple[str, str]]) -> str:
    lines = [f"- {path}: {why}" for path, why in skipped]
    return "## Skipped result files\n\n" + ("\n".join(lines) if lines else "none") + "\n"


def cmd_tables(args) -> int:
    from analysis import tables
    from analysis.protocol import TABLES

    col = load_results(args.results)
    paper = tables.load_paper()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index, n_missing = [f"# Tables (results root: {args.results}, {len(col.runs)} complete runs)\n"], 0
    scales = args.scale or ["paper", "embedded"]
    for spec in TABLES.values():
        for scale in scales:
            built = tables.build(spec, col.runs, paper, scale, args.select_on)
            if built.cells.empty:
                continue
            if built.cells["n"].sum() == 0 and not args.all:
                n_missing += len(built.missing)
                continue
            paths = tables.write(built, out)
            n_missing += len(built.missing)
            index.append(f"- [{spec.title} ({scale})]({paths[0].name})")
    index.append("\n" + _skipped_report(col.skipped))
    (out / "README.md").write_text("\n".join(index) + "\n")
    for path, why in col.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(f"{len(col.runs)} runs, {len(col.skipped)} skipped, {n_missing} missing-run commands; tables in {out}")
    return 0


def cmd_figures(args) -> int:
    from analysis import figures

    col = load_results(args.results)
    written = figures.make_all(col.runs, Path(args.out), args.toys)
    for path, why in col.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(f"{len(written)} figure files in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("tables", cmd_tables), ("figures", cmd_figures)):
        p = sub.add_parser(name)
        p.add_argument("--results", default="outputs", help="results root, searched recursively")
        p.add_argument("--out", default=f"reports/{name}", help="output directory")
        p.set_defaults(func=func)
        if name == "figures":
            p.add_argument("--toys", default="paper", choices=["paper", "embedded"],
                           help="toy-figure settings: conf/experiment/fig_toys[_embedded].yaml")
        if name == "tables":
            p.add_argument("--scale", action="append", choices=["paper", "embedded"],
                           help="only this scale (repeatable; default both)")
            p.add_argument("--select-on", default="auto", choices=["auto", "val", "test", "train"],
                           help="split the best lr of the grid is picked on (auto: val if present, else test)")
            p.add_argument("--all", action="store_true", help="also write tables that have no runs at all")
    args = parser.parse_args(argv)
    if not Path(args.results).is_dir():
        print(f"error: --results: directory {args.results!r} does not exist; point it at the folder holding "
              "the runs' result.json files", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
