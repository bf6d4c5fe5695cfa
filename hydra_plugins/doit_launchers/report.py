"""The end of a sweep: one line that counts its complete, diverged, failed and missing runs.

A diverged run is a result (``result.json`` records it), so it never fails a sweep. A failed run ended with
an error (its one ``error:`` line, or an exception); a missing one left no result and no error of its own
(interrupted by a signal, or killed: out of memory, cancelled, past its time limit). ``finish`` logs the line
when every run has a result and raises ``runners.faults.SweepIncomplete`` (exit code 1, no traceback)
naming each failed and missing run otherwise; rerunning the same command re-reports finished runs and resumes the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from runners.faults import SweepIncomplete

log = logging.getLogger(__name__)

STATUSES = ("complete", "diverged", "failed", "missing")


@dataclass
class Outcome:
    """One job of a sweep: its index, overrides, status (``STATUSES``) and, unless complete, why."""

    index: int
    overrides: str
    status: str
    detail: str = ""

    def describe(self) -> str:
        return f"#{self.index} ({self.overrides}){': ' + self.detail if self.detail else ''}"


def outcome(index: int, overrides: str, returned) -> Outcome:
    """The outcome of a job that returned ``returned`` (``runners.cli._task``: the run's status)."""
    return Outcome(index, overrides, "diverged" if returned == "diverged" else "complete")


def line(sweep_dir: str, outcomes: list[Outcome]) -> str:
    """``sweep <dir>: N runs: a complete, b diverged, c failed, d missing[; diverged #i (overrides), ...]``."""
    counts = Counter(o.status for o in outcomes)
    head = f"sweep {sweep_dir}: {len(outcomes)} runs: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    diverged = [o.describe() for o in outcomes if o.status == "diverged"]
    return head + (f"; diverged {', '.join(diverged)}" if diverged else "")


def finish(sweep_dir: str, outcomes: list[Outcome]) -> None:
    """Log the sweep's line; ``SweepIncomplete`` if a run failed or is missing."""
    bad = [o for o in outcomes if o.status in ("failed", "missing")]
    summary = line(sweep_dir, outcomes)
    if not bad:
        log.info(summary)
        return
    details = "; ".join(f"{o.status} {o.describe()}" for o in bad)
    raise SweepIncomplete(
        f"{summary}; {details}; fix the cause and rerun the same command (finished runs are only "
        "re-reported, interrupted ones resume from their checkpoints)"
    )
