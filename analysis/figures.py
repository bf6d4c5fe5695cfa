"""The paper's figures as PNG and PDF (matplotlib Agg).

Figures 1, 4, 7(a): optimizer paths on the toy functions (``doit.toys``), settings from
``conf/experiment/fig_toys[_embedded].yaml``; Figure 7(a)'s interleaved path is a real ``doit.DOIT``
run on the toy. Figure 8: loss/accuracy curves (``metrics.jsonl``); Figure 9: switch timeline
(``switches.csv``); Figure 10: sensitivity sweeps; Figure 11: search-space growth.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import protocol  # noqa: E402
from analysis.collect import hyper_of  # noqa: E402

CONF = Path(__file__).resolve().parent.parent / "conf" / "experiment"
OPT_COLORS = {"sgd": "tab:blue", "sgdm": "tab:orange", "adagrad": "tab:green", "rmsprop": "tab:red",
              "adam": "tab:purple", "doit": "black"}


def _save(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.tight_layout()
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths


def toy_settings(scale: str = "paper") -> dict:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(CONF / "fig_toys.yaml")
    if scale != "paper":  # the embedded file's defaults list includes fig_toys; merge its changes on top
        cfg = OmegaConf.merge(cfg, {"toys": OmegaConf.load(CONF / "fig_toys_embedded.yaml")["toys"]})
    return OmegaConf.to_container(cfg, resolve=True)["toys"]


def _factory(name: str, lr: float):
    from doit import optimizers

    return lambda params: optimizers.create(name, params, lr=lr)


def _contour(ax, toy, title: str) -> None:
    (x0, x1), (y0, y1) = toy.bounds
    import torch

    xs, ys = np.meshgrid(np.linspace(x0, x1, 150), np.linspace(y0, y1, 150))
    z = toy.fn(torch.tensor(np.stack([xs, ys], -1))).numpy()
    ax.contour(xs, ys, np.log1p(z - z.min()), levels=25, cmap="Greys", linewidths=0.5)
    for m in toy.minima:
        ax.plot(*m, "k*", ms=9)
    ax.plot(*toy.start, "ko", ms=5)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), title=title)


def _toy_panels(functions: list[str]):
    """One contour panel per toy function: ``(figure, [(axis, ToyFunction), ...])``."""
    from doit.toys import FUNCTIONS

    fig, axes = plt.subplots(1, len(functions), figsize=(4 * len(functions), 4), squeeze=False)
    panels = []
    for ax, fname in zip(axes[0], functions, strict=True):
        _contour(ax, FUNCTIONS[fname], fname)
        panels.append((ax, FUNCTIONS[fname]))
    return fig, panels


def _single_paths(ax, toy, optimizers: dict, steps: int, **style) -> None:
    """One path per single optimizer (name -> lr) from the toy's start point."""
    from doit.toys import run_path

    for opt, lr in optimizers.items():
        path = run_path(toy.fn, _factory(opt, lr), toy.start, steps)
        ax.plot(path[:, 0], path[:, 1], color=OPT_COLORS.get(opt), label=f"{opt} (lr={lr:g})", **style)


def fig_toy_paths(settings: dict, out: Path) -> list[Path]:
    """Figure 1 (many runs per optimizer, lr drawn log-uniformly per run) and Figure 4 (one run each)."""
    from doit.toys import run_path

    written = []
    s1 = settings["fig1"]
    fig, panels = _toy_panels(s1["functions"])
    rng = np.random.default_rng(s1["seed"])
    for ax, toy in panels:
        for opt, (lo, hi) in s1["optimizers"].items():
            for r in range(s1["runs"]):
                lr = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                path = run_path(toy.fn, _factory(opt, lr), toy.start, s1["steps"])
                ax.plot(path[:, 0], path[:, 1], color=OPT_COLORS.get(opt), lw=0.6, alpha=0.3,
                        label=opt if r == 0 else None)
        ax.legend(fontsize=7)
    written += _save(fig, out, "fig1_toy_paths")
    s4 = settings["fig4"]
    fig, panels = _toy_panels(s4["functions"])
    for ax, toy in panels:
        _single_paths(ax, toy, s4["optimizers"], s4["steps"], lw=1.2)
        ax.legend(fontsize=7)
    written += _save(fig, out, "fig4_directions")
    return written


def fig_interleaved(settings: dict, out: Path) -> list[Path]:
    """Figure 7(a): single-optimizer paths and a DOIT path (``doit.DOIT`` switching among them)."""
    import doit
    from doit.toys import run_path

    s = settings["fig7a"]
    grid = {opt: {"lr": [lr]} for opt, lr in s["optimizers"].items()}
    fig, panels = _toy_panels(s["functions"])
    for ax, toy in panels:
        _single_paths(ax, toy, s["optimizers"], s["steps"], lw=1, alpha=0.7)
        d = s["doit"]
        path = run_path(toy.fn, lambda params, d=d: doit.DOIT(params, space=grid, tau=d["tau"], n_ini=d["n_ini"],
                                                          omega_t=0.0, seed=d["seed"], state=list(params)),
                        toy.start, s["steps"])
        ax.plot(path[:, 0], path[:, 1], color="black", lw=2, label="DOIT (interleaved)")
        ax.legend(fontsize=7)
    return _save(fig, out, "fig7a_interleaved")


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return pd.DataFrame(rows)


def _curves(paths) -> pd.DataFrame:
    frames = [_read_jsonl(Path(p) / "metrics.jsonl") for p in paths if (Path(p) / "metrics.jsonl").is_file()]
    frames = [f for f in frames if {"epoch", "train_loss", "test_acc"} <= set(f.columns)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames).groupby("epoch")[["train_loss", "test_acc"]].mean().reset_index()


def fig_curves(runs: pd.DataFrame, out: Path, scale: str) -> list[Path]:
    """Figure 8: mean training loss and test accuracy per epoch, each method at its best lr (Table 1)."""
    spec = protocol.TABLES["table1"]
    written = []
    for column in spec.columns_at(scale):
        series = {}
        for row in spec.rows:
            picked, _, _ = protocol.best_lr(protocol.match_rows(runs, spec, row, column, scale))
            curve = _curves(picked["path"]) if not picked.empty else pd.DataFrame()
            if not curve.empty:
                series[row.label] = curve
        if not series:
            continue
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for label, c in series.items():
            a1.plot(c["epoch"], c["train_loss"], label=label, lw=2 if "DOIT" in label else 1)
            a2.plot(c["epoch"], c["test_acc"], label=label, lw=2 if "DOIT" in label else 1)
        a1.set(xlabel="epoch", ylabel="training loss", yscale="log", title=column.label(scale))
        a2.set(xlabel="epoch", ylabel="test accuracy (%)")
        a2.legend(fontsize=7)
        written += _save(fig, out, f"fig8_curves_{scale}_{column.runs[scale][0]}_{column.runs[scale][1]}")
    return written


def fig_switches(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 9: training loss of vanilla fine-tuning and DOIT, with DOIT's active optimizer per cycle."""
    written = []
    case = runs[runs["experiment"] == "fig9_case"] if not runs.empty else runs
    for scale, group in case.groupby("scale") if not case.empty else []:
        ours = group[group["method"] == "doit"].sort_values("seed")
        if ours.empty or not (Path(ours.iloc[0]["path"]) / "switches.csv").is_file():
            continue
        run_dir = Path(ours.iloc[0]["path"])
        sw = pd.read_csv(run_dir / "switches.csv")
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(3, 1))
        for label, sub in (("DOIT", ours.head(1)), ("vanilla", group[group["method"] != "doit"]
                                                                 .sort_values("seed").head(1))):
            if sub.empty:
                continue
            m = _read_jsonl(Path(sub.iloc[0]["path"]) / "metrics.jsonl")
            if {"step", "train_loss"} <= set(m.columns):
                a1.plot(m["step"], m["train_loss"], marker=".", label=f"{label} ({sub.iloc[0]['method']})")
        a1.set(ylabel="training loss", title=f"switch timeline ({scale}, seed {ours.iloc[0]['seed']})")
        a1.legend(fontsize=8)
        configs = list(dict.fromkeys(sw["config"]))
        cmap = plt.get_cmap("tab10")
        ends = list(sw["step"].iloc[1:]) + [sw["step"].iloc[-1] + (sw["step"].diff().median() or 1)]
        for (_, r), end in zip(sw.iterrows(), ends, strict=True):
            a2.broken_barh([(r["step"], end - r["step"])], (0, 1), color=cmap(configs.index(r["config"]) % 10))
        a2.set(yticks=[], xlabel="step")
        a2.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=cmap(i % 10)) for i in range(len(configs))],
                  labels=configs, fontsize=7, ncol=min(len(configs), 5), loc="upper center",
                  bbox_to_anchor=(0.5, -0.6))
        written += _save(fig, out, f"fig9_switches_{scale}")
    return written


SENSITIVITY = (("fig10_initial", "initial", "(a) initial selection"), ("fig10_n_ini", "n_ini", "(b) n_ini"),
               ("fig10_tau", "tau", "(c) tau"), ("fig10_components", "n_components", "(d) PCA components"))


def fig_sensitivity(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 10: final test accuracy (mean ± std over seeds) against each swept DOIT setting."""
    written = []
    if runs.empty:
        return written
    for scale, group in runs.groupby("scale"):
        if not group["experiment"].isin([e for e, _, _ in SENSITIVITY]).any():
            continue
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
        for ax, (exp, key, title) in zip(axes, SENSITIVITY, strict=True):
            sub = group[group["experiment"] == exp]
            ax.set(title=title, xlabel=key, ylabel="test accuracy (%)")
            if sub.empty:
                ax.text(0.5, 0.5, "no runs", ha="center", transform=ax.transAxes)
                continue
            agg = sub.groupby(key)["final_test_acc"].agg(["mean", "std"]).reset_index()
            x = np.arange(len(agg))
            ax.errorbar(x, agg["mean"], yerr=agg["std"].fillna(0), marker="o", capsize=3)
            ax.set_xticks(x, [str(v) for v in agg[key]])
        written += _save(fig, out, f"fig10_sensitivity_{scale}")
    return written


def _in_grid(optimizer: str, hyper: dict, grid: dict) -> bool:
    """Whether a single-optimizer run lies in ``grid``: each varied value listed, the others at default."""
    space = grid.get(optimizer)
    if space is None:
        return False
    default = hyper_of(optimizer, {})
    return all(hyper.get(k) is not None and (any(np.isclose(float(hyper[k]), float(g)) for g in space[k])
                                              if k in space else np.isclose(float(hyper[k]), float(default[k])))
               for k in set(space) | (set(hyper) - {"lr"}))


def fig_space_growth(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 11: DOIT per candidate space (cumulative growth steps) and the best single-optimizer run
    whose configuration lies in that space (Table 1's lr-grid runs on the same dataset/model)."""
    written = []
    grown = runs[runs["experiment"] == "fig11_spaces"] if not runs.empty else runs
    for scale, group in grown.groupby("scale") if not grown.empty else []:
        first = group.iloc[0]
        base = runs[(runs["experiment"] == "table1_grid") & (runs["scale"] == scale)
                    & (runs["dataset"] == first["dataset"]) & (runs["model"] == first["model"])]
        sizes = {name: sum(int(np.prod([len(v) for v in hp.values()])) for hp in json.loads(g).values())
                 for name, g in zip(group["space_name"], group["space_grid"], strict=True)}
        steps = sorted(sizes, key=sizes.get)
        ours, best = [], []
        for step in steps:
            sub = group[group["space_name"] == step]
            ours.append((sub["final_test_acc"].mean(), sub["final_test_acc"].std()))
            grid = json.loads(sub.iloc[0]["space_grid"])
            inside = base[[_in_grid(o, json.loads(h), grid) for o, h in zip(base["optimizer"], base["hyper"],
                                                                             strict=True)]]
            best.append(inside.groupby(["optimizer", "hyper"])["final_test_acc"].mean().max()
                        if not inside.empty else np.nan)
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(len(steps))
        ax.errorbar(x, [m for m, _ in ours], yerr=[0 if np.isnan(s) else s for _, s in ours], marker="o",
                    label="DOIT", capsize=3)
        ax.plot(x, best, "s--", label="best single optimizer in the space")
        ax.set_xticks(x, steps)
        ax.set(xlabel="candidate space (cumulative growth)", ylabel="test accuracy (%)",
               title=f"{first['dataset']}/{first['model']} ({scale})")
        ax.legend(fontsize=8)
        written += _save(fig, out, f"fig11_space_growth_{scale}")
    return written


def make_all(runs: pd.DataFrame, out: Path, toys: str = "paper") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    settings = toy_settings(toys)
    written = fig_toy_paths(settings, out) + fig_interleaved(settings, out)
    for scale in ("paper", "embedded"):
        written += fig_curves(runs, out, scale)
    return written + fig_switches(runs, out) + fig_sensitivity(runs, out) + fig_space_growth(runs, out)
