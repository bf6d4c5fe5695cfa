"""The paper's figures as PNG and PDF (matplotlib Agg), drawn from result files only.

Figures 1, 4, 7(a): optimizer paths on the toy functions, from the files of ``python -m runners.toys``
(``<results>/toys/<function>.json``). Figure 8: loss/accuracy curves (``metrics.jsonl``), also for the
verdict's rows; Figure 9: switch timeline (``switches.csv``; also Table 1's DOIT runs at every scale:
timeline and share of cycles per candidate); Figure 10: sensitivity sweeps; Figure 11: search-space growth.
A file that cannot be used is listed in ``skipped`` with the reason; diverged runs are never drawn
as points of a mean, and each figure says how many it left out.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import experiments, labels, protocol, record, selection, settings, tables  # noqa: E402
from analysis.collect import read_text  # noqa: E402

TOY_SCHEMA = 1
TOY_FIGURES = ("fig1", "fig4", "fig7a")


def color(name: str):
    """A fixed colour per optimizer: its position in ``doit.optimizers``' registry; DOIT black."""
    from doit import optimizers

    names = optimizers.names()
    if name not in names:
        return "black" if name == "doit" else "grey"
    i = names.index(name)
    return plt.get_cmap("tab10")(i) if i < 10 else plt.get_cmap("tab20")(2 * (i - 10) + 1)


def _save(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.tight_layout()
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths


def _points(value, shape: tuple) -> np.ndarray:
    """``value`` as a finite float array of ``shape`` (-1: any length), else ValueError."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim != len(shape) or any(s not in (-1, n) for s, n in zip(shape, arr.shape, strict=True)):
        raise ValueError(f"expected shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("non-finite number")
    return arr


def _text(value) -> str:
    """``value`` as a string, ValueError (UnicodeEncodeError) for a lone surrogate no figure can hold."""
    text = str(value)
    text.encode("utf-8")
    return text


def check_toy(data) -> dict:
    """A toy-function file of ``runners.toys`` with arrays converted; ValueError/TypeError/KeyError says why not."""
    if not isinstance(data, dict) or data.get("schema") != TOY_SCHEMA:
        raise ValueError(f"not a toy-function file of schema {TOY_SCHEMA}")
    contour = data["contour"]
    x, y = _points(contour["x"], (-1,)), _points(contour["y"], (-1,))
    if min(len(x), len(y)) < 2:
        raise ValueError("contour grid smaller than 2 x 2")
    toy = {
        "function": _text(data["function"]),
        "start": _points(data["start"], (2,)),
        "minima": _points(data["minima"], (-1, 2)),
        "bounds": _points(data["bounds"], (2, 2)),
        "x": x,
        "y": y,
        "z": _points(contour["z"], (len(y), len(x))),
        "figures": {},
    }
    for fig, entry in data["figures"].items():
        paths = []
        for p in entry["paths"]:
            lr = p.get("lr")
            if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float)):
                raise ValueError(f"{fig}: lr {lr!r} is not a number")
            switches = [(int(sw["step"]), _text(sw["config"])) for sw in p.get("switches") or []]
            paths.append(
                {
                    "optimizer": _text(p["optimizer"]),
                    "lr": lr,
                    "points": _points(p["points"], (-1, 2)),
                    "switches": switches,
                    "diverged_step": p.get("diverged_step"),
                }
            )
        toy["figures"][fig] = (int(entry["panel"]), paths)
    return toy


def load_toys(directory: str | Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """The valid toy-function files in ``directory`` and the skipped ones with the reason."""
    directory = Path(directory)
    if not directory.is_dir():
        return [], [(str(directory), f"no toy results (run: python -m runners.toys --out {directory})")]
    toys, skipped = [], []
    for path in sorted(directory.glob("*.json")):
        text, why = read_text(path)
        try:
            if text is None:
                raise ValueError(why)
            toys.append(check_toy(record.strict_json(text)))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
            skipped.append((str(path), f"invalid toy file: {type(err).__name__}: {str(err)[:200]}"))
    return toys, skipped


def _toy_panels(toys: list[dict], figure: str):
    """One contour panel per toy function of ``figure``, in its panel order: ``(fig, [(axis, toy, paths)])``."""
    used = sorted((t for t in toys if figure in t["figures"]), key=lambda t: t["figures"][figure][0])
    if not used:
        return None, []
    fig, axes = plt.subplots(1, len(used), figsize=(4 * len(used), 4), squeeze=False)
    for ax, toy in zip(axes[0], used, strict=True):
        z = toy["z"]
        ax.contour(toy["x"], toy["y"], np.log1p(z - z.min()), levels=25, cmap="Greys", linewidths=0.5)
        for m in toy["minima"]:
            ax.plot(*m, "k*", ms=9)
        ax.plot(*toy["start"], "ko", ms=5)
        (x0, x1), (y0, y1) = toy["bounds"]
        ax.set(xlim=(x0, x1), ylim=(y0, y1), title=toy["function"])
    return fig, [(ax, toy, toy["figures"][figure][1]) for ax, toy in zip(axes[0], used, strict=True)]


def _path_label(path: dict) -> str:
    return labels.label(path["optimizer"]) + ("" if path["lr"] is None else f" (lr={path['lr']:g})")


def _diverged_note(ax, paths) -> None:
    n = sum(p["diverged_step"] is not None for p in paths)
    if n:
        ax.set_title(f"{ax.get_title()} ({n} paths diverged: drawn up to it)", fontsize=8)


def fig_toy_paths(toys: list[dict], out: Path) -> list[Path]:
    """Figure 1 (many runs per optimizer, lr drawn log-uniformly per run) and Figure 4 (one run each)."""
    written = []
    fig, panels = _toy_panels(toys, "fig1")
    for ax, _, paths in panels:
        seen = set()
        for p in paths:
            ax.plot(
                *p["points"].T,
                color=color(p["optimizer"]),
                lw=0.6,
                alpha=0.3,
                label=None if p["optimizer"] in seen else labels.label(p["optimizer"]),
            )
            seen.add(p["optimizer"])
        _diverged_note(ax, paths)
        ax.legend(fontsize=7)
    written += _save(fig, out, "fig1_toy_paths") if fig else []
    fig, panels = _toy_panels(toys, "fig4")
    for ax, _, paths in panels:
        for p in paths:
            ax.plot(
                *p["points"].T,
                color=color(p["optimizer"]),
                lw=1.2,
                label=_path_label(p),
            )
        _diverged_note(ax, paths)
        ax.legend(fontsize=7)
    return written + (_save(fig, out, "fig4_directions") if fig else [])


def fig_interleaved(toys: list[dict], out: Path) -> list[Path]:
    """Figure 7(a): single-optimizer paths and the ``doit.DOIT`` path switching among them (a dot per
    switch, coloured by the optimizer it switches to)."""
    fig, panels = _toy_panels(toys, "fig7a")
    for ax, _, paths in panels:
        for p in paths:
            if p["optimizer"] != "doit":
                ax.plot(
                    *p["points"].T,
                    color=color(p["optimizer"]),
                    lw=1,
                    alpha=0.7,
                    label=_path_label(p),
                )
                continue
            ax.plot(*p["points"].T, color="black", lw=2, label="DOIT (interleaved)")
            for step, config in p["switches"]:
                if step < len(p["points"]):
                    ax.plot(*p["points"][step], "o", ms=4, color=color(config.split("(")[0]))
        _diverged_note(ax, paths)
        ax.legend(fontsize=7)
    return _save(fig, out, "fig7a_interleaved") if fig else []


def read_table(path: Path, skipped: list | None, kind: str = "jsonl") -> pd.DataFrame:
    """``metrics.jsonl`` (``record.epoch_rows``: the ``EpochMetrics`` fields of each line) or ``switches.csv`` as a frame;
    an unusable file, or unusable lines of it, are listed in ``skipped`` and give an empty frame (or fewer
    rows)."""
    note = skipped.append if skipped is not None else (lambda item: None)
    text, why = read_text(path)
    if text is None:
        note((str(path), why))
        return pd.DataFrame()
    if kind == "csv":
        try:
            return pd.read_csv(io.StringIO(text))
        except (ValueError, pd.errors.ParserError) as err:
            note((str(path), f"unreadable CSV: {str(err).splitlines()[0][:200]}"))
            return pd.DataFrame()
    rows, unreadable = record.epoch_rows(text)
    if unreadable:
        note((str(path), f"{unreadable} unreadable line(s) left out"))
    return pd.DataFrame(rows)


def _numeric(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame``'s ``columns`` as finite numbers (rows with anything else dropped), or empty if one is absent."""
    if not set(columns) <= set(frame.columns):
        return pd.DataFrame(columns=columns)
    out = frame[columns].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    return out.dropna()


def _curves(paths, skipped: list | None) -> pd.DataFrame:
    frames = [
        _numeric(read_table(Path(p) / "metrics.jsonl", skipped), ["epoch", "train_loss", "test_acc"])
        for p in paths
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    by_epoch = pd.concat(frames).groupby("epoch")
    curve = by_epoch[["train_loss", "test_acc"]].mean()
    curve["acc_min"], curve["acc_max"] = by_epoch["test_acc"].min(), by_epoch["test_acc"].max()
    return curve.reset_index()


def fig_curves(
    runs: pd.DataFrame, out: Path, scale: str, skipped: list | None = None, select_on: str = "auto"
) -> list[Path]:
    """Figure 8: mean training loss and test accuracy per epoch, each method at its best lr (Table 1); one
    figure per settings group (``analysis.settings``: runs of other epochs never share a curve)."""
    return _grouped_curves(protocol.TABLES["table1"], runs, out, scale, skipped, select_on, "fig8_curves")


def fig_verdict_curves(
    runs: pd.DataFrame, out: Path, scale: str, skipped: list | None = None, select_on: str = "auto"
) -> list[Path]:
    """Figure 8 for the verdict's rows (DOIT+, DOIT+2, the strategies, ...; single optimizers at their best
    lr), each with the range over its seeds shaded: a mean alone hides seeds that collapse and recover."""
    return _grouped_curves(
        protocol.VERDICT, runs, out, scale, skipped, select_on, "verdict_curves", band=True
    )


def _grouped_curves(spec, runs, out, scale, skipped, select_on, name: str, band: bool = False) -> list[Path]:
    """One figure of ``spec``'s rows per settings group (``analysis.settings``: runs of other epochs never
    share a curve)."""
    groups = settings.groups(tables.scoped(spec, runs, scale))
    split_on = [n for n in settings.SHARED if len({g.get(n) for g, _ in groups}) > 1]
    written = []
    for setting, part in groups:
        group = {n: setting[n] for n in split_on}
        written += _curves_of(spec, part, out, scale, skipped, select_on, group, name, band)
    return written


def _curves_of(spec, runs, out, scale, skipped, select_on, group: dict, name: str, band: bool) -> list[Path]:
    """The curves of one settings group (``group``: the settings it differs in from the scale's other runs,
    named in the title and the file name); a cell of several tau / n_ini draws the table's variant."""
    tag, note = (f"_{settings.slug(group)}", f" ({settings.label(group)})") if group else ("", "")
    written = []
    for column in spec.columns_at(scale):
        series, splits = {}, set()
        for row in (r for r in spec.rows if r.shown):
            cell = selection.match_rows(runs, spec, row, column, scale)
            reference = experiments.paper_setting(row.experiment_at(scale), column.runs["paper"][1])
            parts = settings.variants(cell, reference)
            picked, _, split = selection.best_lr(parts[0][1] if parts else cell, select_on)
            splits |= {split} - {""}
            curve = (
                _curves(selection.complete(picked)["path"], skipped) if not picked.empty else pd.DataFrame()
            )
            if not curve.empty:
                series[row.label] = curve
        if not series:
            continue
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for label, c in series.items():
            a1.plot(c["epoch"], c["train_loss"], label=label, lw=2 if "DOIT" in label else 1)
            (line,) = a2.plot(c["epoch"], c["test_acc"], label=label, lw=2 if "DOIT" in label else 1)
            if band:
                a2.fill_between(c["epoch"], c["acc_min"], c["acc_max"], color=line.get_color(), alpha=0.15)
        a1.set(xlabel="epoch", ylabel="training loss", yscale="log", title=column.label(scale) + note)
        a2.set(
            xlabel="epoch",
            ylabel="test accuracy (%)" + (", mean and range over seeds" if band else ""),
            title=f"best lr picked on: {', '.join(sorted(splits)) or 'single lr'}",
        )
        a2.legend(fontsize=7)
        written += _save(fig, out, f"{name}_{scale}_{column.runs[scale][0]}_{column.runs[scale][1]}{tag}")
    return written


def fig_switches(runs: pd.DataFrame, out: Path, skipped: list | None = None) -> list[Path]:
    """Figure 9: training loss of vanilla fine-tuning and DOIT, with DOIT's active optimizer per cycle."""
    written = []
    case = selection.complete(runs[runs["experiment"] == "fig9_case"])
    for scale, group in case.groupby("scale"):
        ours = group[group["method"] == "doit"].sort_values("seed")
        if ours.empty:
            continue
        sw = read_table(Path(ours.iloc[0]["path"]) / "switches.csv", skipped, "csv")
        if not {"step", "config"} <= set(sw.columns) or sw.empty:
            continue
        sw = sw.assign(
            step=pd.to_numeric(sw["step"], errors="coerce"), config=sw["config"].astype(str)
        ).dropna(subset=["step"])
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(3, 1))
        for label, sub in (
            ("DOIT", ours.head(1)),
            ("vanilla", group[group["method"] != "doit"].sort_values("seed").head(1)),
        ):
            if sub.empty:
                continue
            m = _numeric(
                read_table(Path(sub.iloc[0]["path"]) / "metrics.jsonl", skipped), ["step", "train_loss"]
            )
            a1.plot(m["step"], m["train_loss"], marker=".", label=f"{label} ({sub.iloc[0]['method']})")
        a1.set(ylabel="training loss", title=f"switch timeline ({scale}, seed {ours.iloc[0]['seed']})")
        a1.legend(fontsize=8)
        configs = list(dict.fromkeys(sw["config"]))
        cmap = plt.get_cmap("tab10")
        ends = list(sw["step"].iloc[1:]) + [sw["step"].iloc[-1] + (sw["step"].diff().median() or 1)]
        for (_, r), end in zip(sw.iterrows(), ends, strict=True):
            a2.broken_barh(
                [(r["step"], end - r["step"])], (0, 1), color=cmap(configs.index(r["config"]) % 10)
            )
        a2.set(yticks=[], xlabel="step")
        a2.legend(
            handles=[plt.Rectangle((0, 0), 1, 1, color=cmap(i % 10)) for i in range(len(configs))],
            labels=configs,
            fontsize=7,
            ncol=min(len(configs), 5),
            loc="upper center",
            bbox_to_anchor=(0.5, -0.6),
        )
        written += _save(fig, out, f"fig9_switches_{scale}")
    return written


def fig_doit_switching(runs: pd.DataFrame, out: Path, skipped: list | None = None) -> list[Path]:
    """Table 1's DOIT runs per scale: the candidate active in each cycle along the steps (one strip per
    seed, Figure 9's timeline) and each candidate's share of cycles (mean over seeds, whiskers min-max):
    whether DOIT locks onto one candidate or keeps switching."""
    written = []
    ours = selection.complete(runs[(runs["experiment"] == "table1_fixed") & (runs["method"] == "doit")])
    for (scale, dataset, model), group in ours.groupby(["scale", "dataset", "model"]):
        group = group.sort_values("seed")
        timelines = []
        for _, run in group.iterrows():
            sw = read_table(Path(run["path"]) / "switches.csv", skipped, "csv")
            if {"step", "config"} <= set(sw.columns) and not sw.empty:
                timelines.append((run, sw.assign(step=pd.to_numeric(sw["step"], errors="coerce"))))
        shares = pd.DataFrame([json.loads(v) for v in group["share"] if isinstance(v, str)])
        if not timelines or shares.empty:
            continue
        configs = list(shares.columns)
        cmap = plt.get_cmap("tab20")
        fig, (a1, a2) = plt.subplots(
            2, 1, figsize=(10, 3 + 0.4 * len(timelines) + 2.5), height_ratios=(1, 1.2)
        )
        for row, (run, sw) in enumerate(timelines):
            steps = sw["step"].to_numpy(dtype=float)
            ends = np.append(steps[1:], steps[-1] + (np.median(np.diff(steps)) if len(steps) > 1 else 1))
            for start, end, config in zip(steps, ends, sw["config"].astype(str), strict=True):
                i = configs.index(config) if config in configs else len(configs)
                a1.broken_barh([(start, end - start)], (row - 0.4, 0.8), color=cmap(i % 20))
            a1.text(ends[-1], row, f" {run['final_test_acc']:.1f}%", va="center", fontsize=7)
        a1.set(
            yticks=range(len(timelines)),
            yticklabels=[f"seed {r['seed']}" for r, _ in timelines],
            xlabel="step",
            title=f"DOIT's active candidate per cycle, {dataset}/{model} ({scale}; final test accuracy right)",
        )
        mean = shares.mean()
        order = mean.sort_values(ascending=False).index
        x = np.arange(len(order))
        a2.bar(x, 100 * mean[order], color=[cmap(configs.index(c) % 20) for c in order])
        low, high = 100 * shares[order].min(), 100 * shares[order].max()
        a2.errorbar(
            x,
            100 * mean[order],
            yerr=[100 * mean[order] - low, high - 100 * mean[order]],
            fmt="none",
            color="k",
        )
        a2.set_xticks(x, order, rotation=45, ha="right", fontsize=7)
        a2.set(
            ylabel="share of cycles (%)",
            title=f"share of cycles over {len(shares)} seeds (whiskers: min-max)",
        )
        written += _save(fig, out, f"doit_switching_{scale}_{dataset}_{model}")
    return written


SENSITIVITY = (
    ("fig10_initial", "initial", "(a) initial selection"),
    ("fig10_n_ini", "n_ini", "(b) n_ini"),
    ("fig10_tau", "tau", "(c) tau"),
    ("fig10_components", "n_components", "(d) PCA components"),
)


def _n_diverged(runs: pd.DataFrame) -> str:
    n = int((runs["status"] != "complete").sum())
    return f" [{n} diverged, not drawn]" if n else ""


def fig_sensitivity(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 10: final test accuracy (mean ± std over complete seeds) against each swept DOIT setting."""
    written = []
    for scale, group in runs.groupby("scale"):
        if not group["experiment"].isin([e for e, _, _ in SENSITIVITY]).any():
            continue
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
        for ax, (exp, key, title) in zip(axes, SENSITIVITY, strict=True):
            sub = group[group["experiment"] == exp]
            done = selection.complete(sub)
            ax.set(title=title + _n_diverged(sub), xlabel=key, ylabel="test accuracy (%)")
            if done.empty:
                ax.text(0.5, 0.5, "no complete runs", ha="center", transform=ax.transAxes)
                continue
            agg = done.groupby(key)["final_test_acc"].agg(["mean", "std"]).reset_index()
            x = np.arange(len(agg))
            ax.errorbar(x, agg["mean"], yerr=agg["std"].fillna(0), marker="o", capsize=3)
            ax.set_xticks(x, [str(v) for v in agg[key]])
        written += _save(fig, out, f"fig10_sensitivity_{scale}")
    return written


def _same(a, b) -> bool:
    try:
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return x.shape == y.shape and bool(np.allclose(x, y))
    except (TypeError, ValueError):
        return a == b


def _in_grid(optimizer: str, hyper: dict, grid: dict) -> bool:
    """Whether a run's effective hyperparameters (``hyper``: lr and the record's ``hyper.params``) are a
    point of ``grid``: each varied value listed, every other one at the registry default DOIT's
    candidates use."""
    from doit import optimizers

    space = grid.get(optimizer)
    if space is None or optimizer not in optimizers.names():
        return False
    default = optimizers.info(optimizer).defaults
    return all(k in hyper and any(_same(hyper[k], g) for g in space[k]) for k in space) and all(
        k in default and _same(v, default[k]) for k, v in hyper.items() if k not in space
    )


def _space_size(grid: str) -> int:
    return sum(int(np.prod([len(v) for v in hp.values()])) for hp in json.loads(grid).values())


def fig_space_growth(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 11: DOIT per candidate space (cumulative growth steps) and the best single-optimizer run
    whose effective hyperparameters (``hyper``) are a point of that space (Table 1's lr-grid runs on the
    same dataset/model)."""
    written = []
    grown = runs[(runs["experiment"] == "fig11_spaces") & runs["space_grid"].notna()]
    for scale, group in grown.groupby("scale"):
        first = group.iloc[0]
        base = selection.complete(
            runs[
                (runs["experiment"] == "table1_grid")
                & (runs["scale"] == scale)
                & (runs["dataset"] == first["dataset"])
                & (runs["model"] == first["model"])
                & runs["optimizer"].notna()
            ]
        )
        sizes = {name: _space_size(g) for name, g in zip(group["space"], group["space_grid"], strict=True)}
        steps = sorted(sizes, key=sizes.get)
        ours, best = [], []
        for step in steps:
            sub = selection.complete(group[group["space"] == step])
            ours.append((sub["final_test_acc"].mean(), sub["final_test_acc"].std()))
            grid = json.loads(group[group["space"] == step].iloc[0]["space_grid"])
            inside = base[
                [
                    _in_grid(o, {"lr": lr, **json.loads(p)}, grid)
                    for o, lr, p in zip(base["optimizer"], base["lr"], base["params"], strict=True)
                ]
            ]
            best.append(
                inside.groupby(["optimizer", "lr", "params"])["final_test_acc"].mean().max()
                if not inside.empty
                else np.nan
            )
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(len(steps))
        ax.errorbar(
            x,
            [m for m, _ in ours],
            yerr=[0 if np.isnan(s) else s for _, s in ours],
            marker="o",
            label="DOIT",
            capsize=3,
        )
        ax.plot(x, best, "s--", label="best single optimizer in the space")
        ax.set_xticks(x, steps)
        ax.set(
            xlabel="candidate space (cumulative growth)",
            ylabel="test accuracy (%)",
            title=f"{first['dataset']}/{first['model']} ({scale})" + _n_diverged(group),
        )
        ax.legend(fontsize=8)
        written += _save(fig, out, f"fig11_space_growth_{scale}")
    return written


def make_all(
    runs: pd.DataFrame, out: Path, toys_dir: str | Path, select_on: str = "auto"
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every figure; returns the files written and the input files skipped (with the reason)."""
    out.mkdir(parents=True, exist_ok=True)
    toys, skipped = load_toys(toys_dir)
    written = fig_toy_paths(toys, out) + fig_interleaved(toys, out)
    for scale in protocol.SEEDS:
        written += fig_curves(runs, out, scale, skipped, select_on)
        written += fig_verdict_curves(runs, out, scale, skipped, select_on)
    written += fig_switches(runs, out, skipped) + fig_doit_switching(runs, out, skipped)
    written += fig_sensitivity(runs, out) + fig_space_growth(runs, out)
    return written, skipped
