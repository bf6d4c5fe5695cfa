"""The run figure (like the paper's Figure 9): training loss per step, coloured by the active optimizer,
with test accuracy per epoch on a second axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.record import EpochMetrics


def active_per_step(n_steps: int, log: list[dict] | None, fallback: str) -> list[str]:
    """The active configuration label of every step, from DOIT's per-cycle log (cycle start steps)."""
    if not log:
        return [fallback] * n_steps
    labels, starts = [r["config"] for r in log], [int(r["step"]) for r in log]
    idx = np.searchsorted(np.asarray(starts), np.arange(n_steps), side="right") - 1
    return [labels[max(i, 0)] for i in idx]


def plot_run(
    path: Path, step_losses, metrics: list[EpochMetrics], log: list[dict] | None, fallback: str, title: str
) -> None:
    """Write the figure to ``path`` (PNG, written atomically; non-finite losses leave gaps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    losses = np.asarray(step_losses, dtype=float)
    steps = np.arange(1, len(losses) + 1)
    active = active_per_step(len(losses), log, fallback)
    names = list(dict.fromkeys(active))
    colours = {n: plt.get_cmap("tab10" if len(names) <= 10 else "tab20")(k % 20) for k, n in enumerate(names)}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if len(losses) > 1:
        points = np.column_stack([steps, losses])
        segments = np.stack([points[:-1], points[1:]], axis=1)
        ax.add_collection(LineCollection(segments, colors=[colours[a] for a in active[1:]], linewidths=0.8))
        ax.set_xlim(1, len(losses))
        finite = losses[np.isfinite(losses)]
        if finite.size:
            ax.set_ylim(max(finite.min(), 1e-6) * 0.8, finite.max() * 1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    for n in names[:20]:
        ax.plot([], [], color=colours[n], label=n)
    ax2 = ax.twinx()
    if metrics:
        ax2.plot([m.step for m in metrics], [m.test_acc for m in metrics], "k.-", label="test acc")
    ax2.set_ylabel("test accuracy (%)")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="center right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    from runners.results import atomic

    try:
        with atomic(Path(path), binary=True) as fh:
            fig.savefig(fh, dpi=110, format="png")
    finally:
        plt.close(fig)
