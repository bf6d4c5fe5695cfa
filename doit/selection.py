"""Selection strategies: which candidate trains the next switch cycle (Algorithm 1; Table 7's baselines).

Each strategy has ``select(cycle, current, context) -> Selection`` (``cycle``: the index of the cycle about
to start, ``current``: the index of the candidate training now, None before the first cycle, ``context``:
extra surrogate inputs or None) and
``observe(index, score)`` (the score, eq. 2, of the cycle that just closed), and serialises itself.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from doit import optimizers as registry
from doit.acquisition import Schedule, acquire
from doit.bank import SurrogateBank
from doit.score import sampling_weight
from doit.space import Candidate


class Strategy(enum.StrEnum):
    """``doit``: surrogate + acquisition (Algorithm 1); ``random``, ``cyclical``: Table 7's baselines;
    ``bandit``: discounted UCB over the candidates (beyond the paper: the prior method of the same kind)."""

    doit = "doit"
    random = "random"
    cyclical = "cyclical"
    bandit = "bandit"


class Acquirer(enum.StrEnum):
    """How the surrogate phase picks: ``argmax`` of the acquisition function (the paper), or ``thompson``
    (beyond the paper, DOIT+): the argmax of one draw from each candidate's GP posterior N(mean, sd**2)."""

    argmax = "argmax"
    thompson = "thompson"


class Initial(enum.StrEnum):
    """Cold-start draws: ``weighted`` by the eq. 3 sampling weights, or ``uniform`` (Figure 10a).

    ``anchored`` (beyond the paper, DOIT+2): the first cycle runs the `anchor` candidate instead of
    Algorithm 1's uniform draw (the bandit tries it first), the later cold-start draws are ``weighted``,
    and the run guards its progress (`doit.cycle.Cycle`'s ``guard_progress``): together they keep a
    destructive candidate from wrecking the model while its fresh head sits at chance loss. ``cautious``:
    ``anchored``, and a cycle whose loss rises past ``rollback_rise`` early is cut short
    (`doit.cycle.Cycle.cut_short`), so that a destructive try costs a third of a cycle, not a whole one.
    ``warmup``: ``anchored``, but the anchor keeps training while each of its cycles lowers the loss level by
    a factor of at least `WARMUP_FALL` (a fresh head is fitted first, whatever its loss at chance), and a
    cycle whose level ends significantly above its start is rolled back too (`doit.cycle.rose`)."""

    weighted = "weighted"
    uniform = "uniform"
    anchored = "anchored"
    cautious = "cautious"
    warmup = "warmup"

    @property
    def anchors(self) -> bool:
        """Whether the run starts on the `anchor` and guards its progress."""
        return self in (Initial.anchored, Initial.cautious, Initial.warmup)


WARMUP_FALL = 1.25
"""``initial="warmup"``: the anchor runs another cycle while its last one divided the loss level by this."""


def _has_moment(candidate: Candidate, moment: int) -> bool:
    record = registry.info(candidate.optimizer)
    settings = {**record.defaults, **candidate.as_dict()}
    return any(b.moment == moment and b.active(settings) for b in record.buffers)


def anchor(candidates: list[Candidate]) -> int:
    """The most conservative candidate: the smallest lr among those whose optimizer keeps a first and a
    second moment (Adam's kind: a step of about lr per coordinate, whatever the gradient's scale), else
    among those with a second moment, else among all; ties go to the first in space order."""
    for pool in (
        [k for k, c in enumerate(candidates) if _has_moment(c, 1) and _has_moment(c, 2)],
        [k for k, c in enumerate(candidates) if _has_moment(c, 2)],
        list(range(len(candidates))),
    ):
        if pool:
            return min(pool, key=lambda k: (candidates[k].lr, k))
    raise ValueError("candidates is empty")


class Selection(NamedTuple):
    """A pick: the candidate's index, the phase (for the log) and every candidate's prediction (or [])."""

    index: int
    phase: str
    candidates: list[dict]


class CyclicalSelect:
    """The candidates in turn, in space order."""

    def __init__(self, n: int):
        self.n = n

    def select(self, cycle: int, current: int | None, context=None) -> Selection:
        return Selection(0 if current is None else (current + 1) % self.n, "cyclical", [])

    def observe(self, index: int, score: float) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class RandomSelect(CyclicalSelect):
    """A uniformly random candidate every cycle."""

    def __init__(self, n: int, seed: int):
        super().__init__(n)
        self.rng = np.random.default_rng(seed)

    def select(self, cycle: int, current: int | None, context=None) -> Selection:
        return Selection(int(self.rng.integers(self.n)), "random", [])

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class SurrogateSelect(RandomSelect):
    """DOIT: a uniform pick, then weighted random picks (eq. 3) for ``n_ini`` cycles (and until the
    compressor can be fitted), then the argmax of the acquisition function (eq. 4-7) over the bank's GP
    predictions (or, with ``acquirer="thompson"``, of one draw from each posterior). With an anchoring
    ``initial`` (`Initial.anchors`) the first pick is candidate ``first`` (`anchor`) instead of the uniform
    one, and with ``warmup`` the next ones too until `settle` ends the warm-up."""

    def __init__(
        self,
        bank: SurrogateBank,
        labels: list[str],
        n_ini: int,
        initial: str,
        schedule: Schedule,
        omega_t: float,
        halving_period: int,
        alpha: float,
        w_min: float,
        seed: int,
        acquirer: Acquirer = Acquirer.argmax,
        first: int = 0,
    ):
        super().__init__(len(labels), seed)
        self.bank, self.labels, self.n_ini, self.initial = bank, labels, n_ini, initial
        self.schedule, self.omega_t, self.halving_period = schedule, omega_t, halving_period
        self.alpha, self.w_min, self.acquirer, self.first = alpha, w_min, acquirer, first
        self.weights = [1.0] * self.n  # eq. 3 sampling weights, one per candidate
        self.warming = initial == Initial.warmup  # the anchor trains until its progress slows

    def settle(self, fall: float | None) -> None:
        """End the warm-up unless the cycle that just closed lowered the level by `WARMUP_FALL` (``fall``:
        level at its start over level at its end; None if it was rolled back)."""
        self.warming = self.warming and fall is not None and fall >= WARMUP_FALL

    def select(self, cycle: int, current: int | None, context=None) -> Selection:
        self.bank.snapshot(context)
        if (cycle == 0 and Initial(self.initial).anchors) or (self.warming and cycle <= self.n_ini):
            return Selection(self.first, "anchor", [])
        # Algorithm 1: one RandomSelect (cycle 0: all weights equal), then n_ini weighted picks (eq. 3)
        if cycle <= self.n_ini or not self.bank.ready:
            w = np.ones(self.n) if self.initial == Initial.uniform else np.asarray(self.weights)
            return Selection(int(self.rng.choice(self.n, p=w / w.sum())), "cold", [])
        candidates, best, best_acq = [], 0, -np.inf
        for idx, mean, sd in self.bank.predict():
            if self.acquirer == Acquirer.thompson:
                acq = self.rng.normal(mean, sd)
            else:
                acq = np.atleast_1d(
                    acquire(mean, sd, self.omega_t, cycle, self.halving_period, self.schedule, self.alpha)
                )
            for k, mu, s, a in zip(idx, mean, sd, acq, strict=True):
                candidates.append(
                    {"config": self.labels[k], "mean": float(mu), "sd": float(s), "acq": float(a)}
                )
                if a > best_acq:
                    best, best_acq = k, float(a)
        return Selection(best, "surrogate", candidates)

    def observe(self, index: int, score: float) -> None:
        self.weights[index] = sampling_weight(score, self.w_min)
        self.bank.observe(index, score)

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "weights": list(self.weights),
            "bank": self.bank.state_dict(),
            "warming": self.warming,
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.weights = list(state["weights"])
        self.bank.load_state_dict(state["bank"])
        self.warming = state.get("warming", False)  # absent in state dicts written before DOIT+2


class BanditSelect(CyclicalSelect):
    """Discounted UCB (Garivier & Moulines 2011) over the candidates, the selection of "hot swapping"
    (Bache, DeCoste & Smyth 2014); its backtracking is `doit.cycle.Cycle`'s ``rollback_rise``.

    Rewards are the cycle scores in [-1, 1] (``B = 1``). Every candidate is tried once, in space order;
    then the pick maximises ``mean_i + 2 sqrt(xi log(n) / N_i)`` (``xi = 1/2``), where ``N_i`` and
    ``mean_i`` are candidate ``i``'s count and mean score discounted by ``gamma`` per cycle and ``n`` the
    sum of the ``N_i``. Ties go to the lower index. ``first`` (`Initial.anchored`): tried before the rest.
    """

    XI = 0.5

    def __init__(self, n: int, gamma: float, first: int | None = None):
        super().__init__(n)
        self.gamma, self.first = gamma, first
        self.counts = np.zeros(n)  # discounted N_i
        self.sums = np.zeros(n)  # discounted sums of scores

    def select(self, cycle: int, current: int | None, context=None) -> Selection:
        untried = np.flatnonzero(self.counts == 0)
        if self.first is not None and self.first in untried:
            return Selection(self.first, "anchor", [])
        if untried.size:
            return Selection(int(untried[0]), "explore", [])
        mean = self.sums / self.counts
        pad = 2.0 * np.sqrt(self.XI * np.log(self.counts.sum()) / self.counts)
        return Selection(int(np.argmax(mean + pad)), "ucb", [])

    def observe(self, index: int, score: float) -> None:
        self.counts *= self.gamma
        self.sums *= self.gamma
        self.counts[index] += 1.0
        self.sums[index] += score

    def state_dict(self) -> dict:
        return {"counts": self.counts.tolist(), "sums": self.sums.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.counts, self.sums = np.asarray(state["counts"]), np.asarray(state["sums"])
