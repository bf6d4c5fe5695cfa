"""One switch cycle's bookkeeping: its losses (eq. 2's ``l_0..l_tau``) and the divergence rollback.

`Cycle.begin(l0)` opens a cycle at the loss of its first batch, before its first update; `add` takes each
later batch loss, each measured after one more update (ambiguity 2: no extra forward pass). Losses stay
on their device until the cycle closes (one host sync per cycle). With ``nan_guard`` the parameters at
the cycle's start are kept (one copy into buffers reused from cycle to cycle) so a diverged cycle can be
rolled back.
"""

from __future__ import annotations

import numpy as np
import torch

from doit.score import EPS, WORST_SCORE, Score, Spread, performance_score, progress_score, tail_mean

RISE_FLOOR = 0.1
"""`Cycle`'s ``rollback_rise`` compares with at least this mean loss, so that batch noise at a near-zero
loss is not taken for a collapse."""


RISE_Z = 2.0
"""`rose`'s one-sided z threshold (about 2% false alarms for a cycle that leaves the level unchanged)."""


def rose(losses, start: float) -> bool:
    """Whether a cycle that began at level ``start`` ended significantly above it: its `tail_mean` exceeds
    ``start`` by more than `RISE_Z` standard errors of a difference of two such means (from the spread of
    its own tail). A wreck sits flat at chance loss, so it is caught even just above a level near chance."""
    tail = np.asarray(losses, dtype=np.float64)[len(losses) // 2 :]
    return float(tail.mean()) - start > RISE_Z * float(tail.std()) * np.sqrt(2.0 / tail.size)


def lost_half(start: float, untrained: float) -> float:
    """The loss level above which a cycle that began at level ``start`` has given back half the progress
    made since the loss of the model before training, ``untrained``: their midpoint (``start`` itself when
    no progress was made)."""
    return (start + max(start, untrained)) / 2.0


class Cycle:
    """The open switch cycle over ``params`` (a list the owner may extend, see `track`)."""

    def __init__(
        self,
        params: list[torch.Tensor],
        tau: int,
        alpha: float,
        spread: Spread,
        explode_factor: float,
        nan_guard: bool,
        score: Score = Score.eq2,
        rollback_rise: float | None = None,
        guard_progress: bool = False,
        cut_early: bool = False,
        guard_rise: bool = False,
    ):
        self.params, self.tau, self.alpha, self.spread = params, tau, alpha, spread
        self.explode_factor, self.nan_guard = explode_factor, nan_guard
        self.score, self.rollback_rise, self.guard_progress = score, rollback_rise, guard_progress
        self.cut_early = cut_early and rollback_rise is not None
        self.guard_rise = guard_rise
        self.fall: float | None = None  # start level over end level of the last cycle closed; None: undone
        self.level: float | None = None  # loss level at the open cycle's start: the last kept cycle's tail
        self.untrained: float | None = None  # with guard_progress: l0 of the first cycle, before any update
        self.l0: torch.Tensor | None = None
        self.losses: list[torch.Tensor] | None = None  # None: no cycle open
        self.saved: list[torch.Tensor] | None = None  # parameters at the open cycle's start

    @property
    def open(self) -> bool:
        return self.losses is not None

    @property
    def full(self) -> bool:
        return self.open and len(self.losses) == self.tau

    def begin(self, l0: torch.Tensor) -> None:
        self.l0, self.losses = l0, []
        if self.guard_progress and self.untrained is None:
            self.untrained = float(l0)
        if not self.nan_guard:
            return
        if self.saved is None:
            self.saved = [p.detach().clone() for p in self.params]
        else:
            for saved, p in zip(self.saved, self.params, strict=True):
                saved.copy_(p)

    def track(self, params: list[torch.Tensor]) -> None:
        """Take parameters added mid-run into the cycle (their start values are their current values)."""
        self.params.extend(params)
        if self.saved is not None:
            self.saved.extend(p.detach().clone() for p in params)

    def add(self, loss: torch.Tensor) -> None:
        self.losses.append(loss)

    def cut_short(self) -> bool:
        """With ``cut_early`` (DOIT+2), once a third of the cycle (``max(1, tau // 3)`` losses) has run: if
        their mean already exceeds ``rollback_rise`` times the level at its start (as `close` tests at the
        end), restore the cycle's start parameters, close it and return True (one host sync per cycle)."""
        if not (self.cut_early and self.nan_guard and len(self.losses) == max(1, self.tau // 3)):
            return False
        start = float(self.l0) if self.level is None else self.level
        mean = float(torch.stack([t.double() for t in self.losses]).mean())
        if not mean > self.rollback_rise * max(start, RISE_FLOOR):
            return False
        self.discard()
        return True

    def diverged(self) -> bool:
        """Whether a loss so far or a parameter is non-finite (one host sync)."""
        checks = [torch.isfinite(torch.stack([t.double() for t in (self.l0, *self.losses)]).cpu()).all()]
        checks += [torch.isfinite(p).all().cpu() for p in self.params]
        return not bool(torch.stack(checks).all())

    def close(self) -> tuple[float | None, bool]:
        """Score the cycle (eq. 2 over the losses so far) and close it: ``(score, diverged)``.

        A non-finite loss, a loss above ``explode_factor * max(l0, 1)`` or (for a partial cycle, whose
        last update has no loss yet) a non-finite parameter is a divergence: score -1 (`WORST_SCORE`), and
        with ``nan_guard`` the cycle's start parameters are restored. So is, with ``rollback_rise`` (beyond
        the paper, DOIT+), a mean loss above ``rollback_rise * max(start, RISE_FLOOR)``, ``start`` the loss level
        at the cycle's start (`tail_mean` of the last cycle kept; ``l0`` before any): a collapse to chance
        that stays far below the 1000x guard. So is, with ``guard_progress`` (DOIT+2), a cycle whose loss
        level at its end (`tail_mean`) lies above `lost_half`: it gave back half the progress made since
        training began, or, with none made yet, ended above its start (a wreck at chance loss, which no rise
        shows). So is, with ``guard_rise``, a cycle that `rose`. ``score="progress"`` scores by
        `progress_score` from ``start``. A partial cycle with no loss after ``l0`` that did not diverge has no
        score (None).
        """
        values = torch.stack([t.double() for t in (self.l0, *self.losses)]).cpu().tolist()
        l0, losses = values[0], values[1:]
        diverged = not np.all(np.isfinite(values)) or (
            losses and max(losses) > self.explode_factor * max(l0, 1.0)
        )
        if len(losses) < self.tau and not diverged:
            diverged = not all(bool(torch.isfinite(p).all()) for p in self.params)
        start = l0 if self.level is None else self.level
        if not diverged and losses and self.rollback_rise is not None:
            diverged = float(np.mean(losses)) > self.rollback_rise * max(start, RISE_FLOOR)
        if not diverged and losses and self.guard_progress:
            diverged = tail_mean(losses) > lost_half(start, self.untrained)
        if not diverged and losses and self.guard_rise:
            diverged = rose(losses, start)
        if diverged or not losses:
            score = WORST_SCORE if diverged else None
        elif self.score == Score.progress:
            score = progress_score(losses, start)
        else:
            score = performance_score(losses, l0, self.alpha, self.spread)
        self.fall = None
        if diverged:
            self.rollback()
        elif losses:
            self.level = tail_mean(losses)
            self.fall = start / max(self.level, EPS)
        self.losses = None
        return score, bool(diverged)

    def discard(self) -> None:
        """Close the cycle unscored, restoring its start parameters (with ``nan_guard``)."""
        self.rollback()
        self.losses, self.fall = None, None

    @torch.no_grad()
    def rollback(self) -> None:
        """Restore the cycle's start parameters (with ``nan_guard``; without it there is no copy)."""
        if self.nan_guard:
            for p, saved in zip(self.params, self.saved, strict=True):
                p.copy_(saved)

    def state_dict(self) -> dict:
        return {
            "l0": self.l0,
            "losses": None if self.losses is None else list(self.losses),
            "saved": self.saved,
            "level": self.level,
            "untrained": self.untrained,
        }

    def load_state_dict(self, state: dict) -> None:
        self.l0, self.saved, self.level = state["l0"], state["saved"], state["level"]
        self.untrained = state.get("untrained")  # absent in state dicts written before DOIT+2
        self.losses = None if state["losses"] is None else list(state["losses"])
