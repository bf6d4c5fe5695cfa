"""The DOIT controller: a `torch.optim.Optimizer` that interleaves candidate optimizers (Algorithm 1).

Training runs in switch cycles of ``tau`` updates by one candidate (an optimizer and its
hyperparameters). When a cycle ends, its losses give the performance score (eq. 2, `doit.cycle`); the
selection strategy (`doit.selection`) learns from the score (eq. 3 weights, the surrogate bank of section
3.3) and picks the next candidate: one uniform and then ``n_ini`` weighted random draws, then the argmax
of the acquisition function (eq. 4-7).
"""

from __future__ import annotations

import copy
import math
import time

import torch

from doit import checks
from doit import optimizers as registry
from doit.acquisition import Schedule
from doit.bank import SurrogateBank
from doit.compression import Compression
from doit.cycle import Cycle
from doit.inherit import carry
from doit.score import EPS, WORST_SCORE, Score, Spread
from doit.selection import (
    Acquirer,
    BanditSelect,
    CyclicalSelect,
    Initial,
    RandomSelect,
    Strategy,
    SurrogateSelect,
    anchor,
)
from doit.space import Candidate, expand, label

_KNOBS = ("params", "lr", "momentum")  # DOIT's own param-group keys
_FIRST_MOMENT_KEYS = ("momentum", "betas")  # hyperparameters the group's `momentum` knob replaces


class DOIT(torch.optim.Optimizer):
    """Dynamic optimizer interleaving; a `torch.optim.Optimizer` that needs each batch's loss.

    Per step, give the current batch's loss before the update: ``opt.step(loss=loss.detach())``, or
    ``opt.observe(loss)`` then ``opt.step()``, or ``opt.step(closure)``.

    ``space``: a grid (optimizer name -> hyperparameter -> values) or a list of candidates
    (`doit.space.expand`). ``state``: the tensors (or ``(name, tensor)`` pairs, grouped by layer) whose
    compressed values form the surrogate's parameter-state input (ambiguity 5); default the last two
    tensors of ``params`` (the classifier's weight and bias in most models). ``strategy``, ``initial``,
    ``schedule``, ``compression``, ``spread``: `Strategy`, `Initial`, `Schedule`, `Compression`,
    `doit.score.Spread` members or their values (``spread``: eq. 2's sigma as std or variance).

    Parameter groups: a group's ``lr`` (default 1.0) multiplies every candidate's own lr, so LR schedulers
    wrap DOIT. A group's ``momentum`` (default None: each candidate's own) replaces, when set, the
    first-moment coefficient of every candidate that has one (SGDM's momentum, the Adam family's beta1),
    so momentum-cycling schedulers (OneCycleLR) work. Any other key a candidate accepts (e.g.
    ``weight_decay=0`` on biases and norms) overrides that candidate's value for that group: precedence
    group setting > candidate hyperparameter > registry default.

    ``fused``: the candidates run torch's fused implementation where they have one (`doit.optimizers.create`;
    not with ``inherit``).

    Divergence (``nan_guard``): a cycle with a non-finite loss, or a loss above ``explode_factor`` times
    ``max(l0, 1)``, is scored -1 and its start parameters are restored. Call `guard` before evaluating
    and `finish` when training ends, so that no run ends with non-finite parameters.

    Beyond the paper (DOIT+, each off by default): ``rollback_rise`` also rolls back a cycle whose mean
    loss rises above that factor times the loss level at its start (`doit.cycle.Cycle`);
    ``score="progress"`` scores a cycle by the fall of its loss level (`doit.score.progress_score`), not eq. 2;
    ``acquirer="thompson"`` picks by posterior sampling; ``context`` adds the log of the loss level (the
    last kept cycle's tail mean) to the surrogate input; ``inherit`` (paper: no) carries moment buffers across a
    switch. ``strategy="bandit"`` replaces the surrogate by discounted UCB with discount ``gamma``.
    ``initial="anchored"`` (DOIT+2) starts on the most conservative candidate (`doit.selection.anchor`) and
    rolls back a cycle that gives back half the progress since training began (`doit.cycle.lost_half`);
    ``initial="cautious"`` also cuts short a cycle whose loss rises early (`doit.cycle.Cycle.cut_short`);
    ``initial="warmup"`` keeps the anchor while it lowers the loss fast and rolls back a cycle that `rose`.
    """

    def __init__(
        self,
        params,
        space,
        tau: int = 25,
        n_ini: int = 20,
        alpha: float = 0.5,
        w_min: float = 0.1,
        omega_t: float = 0.0,
        halving_period: int = 10,
        schedule: Schedule | str = Schedule.eq7,
        strategy: Strategy | str = Strategy.doit,
        initial: Initial | str = Initial.weighted,
        compression: Compression | str = Compression.pca,
        n_components: int = 2,
        state=None,
        inherit: bool = False,
        nan_guard: bool = True,
        explode_factor: float = 1e3,
        seed: int = 0,
        spread: Spread | str = Spread.std,
        surrogate_kwargs: dict | None = None,
        score: Score | str = Score.eq2,
        rollback_rise: float | None = None,
        acquirer: Acquirer | str = Acquirer.argmax,
        context: bool = False,
        gamma: float = 0.95,
        fused: bool = False,
    ):
        tau, n_ini = checks.integer("tau", tau, 1), checks.integer("n_ini", n_ini, 0)
        halving_period = checks.integer("halving_period", halving_period, 1)
        alpha = checks.number("alpha", alpha, 0.0, 1.0)
        w_min = checks.number("w_min", w_min, 0.0, 1.0, open_low=True)
        self.omega_t = checks.number("omega_t", omega_t, 0.0, 1.0)
        explode_factor = checks.number("explode_factor", explode_factor, 1.0, open_low=True)
        seed = checks.integer("seed", seed, 0, 2**32 - 1)
        self.strategy = checks.choice("strategy", strategy, Strategy)
        schedule = checks.choice("schedule", schedule, Schedule)
        initial = checks.choice("initial", initial, Initial)
        if rollback_rise is not None:
            rollback_rise = checks.number("rollback_rise", rollback_rise, 1.0)
        gamma = checks.number("gamma", gamma, 0.0, 1.0, open_low=True)
        self.context = bool(context)
        super().__init__(params, {"lr": 1.0, "momentum": None})
        self.configs: list[Candidate] = expand(space)
        self.labels = [label(c) for c in self.configs]
        self.tau, self.inherit, self.nan_guard = tau, bool(inherit), bool(nan_guard)
        self.fused = bool(fused)
        # carried step counts (`doit.inherit`) live on the CPU; fused kernels want them on the device
        if self.fused and self.inherit:
            raise ValueError("inherit=True cannot be combined with fused=True: choose one")
        all_params = [p for g in self.param_groups for p in g["params"]]
        self.cycle = Cycle(
            all_params,
            tau,
            alpha,
            checks.choice("spread", spread, Spread),
            explode_factor,
            self.nan_guard,
            checks.choice("score", score, Score),
            rollback_rise,
            guard_progress=initial.anchors,
            cut_early=initial == Initial.cautious,
            guard_rise=initial == Initial.warmup,
        )
        state = all_params[-2:] if state is None else state
        bank = SurrogateBank(self.configs, state, compression, n_components, seed, surrogate_kwargs)
        # the bank is built for every strategy: it checks the state and compression settings
        if self.strategy == Strategy.doit:
            self.selector = SurrogateSelect(
                bank,
                self.labels,
                n_ini,
                initial,
                schedule,
                self.omega_t,
                halving_period,
                alpha,
                w_min,
                seed,
                checks.choice("acquirer", acquirer, Acquirer),
                anchor(self.configs),
            )
        elif self.strategy == Strategy.random:
            self.selector = RandomSelect(len(self.configs), seed)
        elif self.strategy == Strategy.bandit:
            first = anchor(self.configs) if initial.anchors else None
            self.selector = BanditSelect(len(self.configs), gamma, first)
        else:
            self.selector = CyclicalSelect(len(self.configs))
        self.log: list[dict] = []
        self.controller_time_s = 0.0
        self.switch_count = 0
        self.global_step = 0
        self._current: int | None = None  # index into self.configs
        self._inner: torch.optim.Optimizer | None = None
        self._history = 0  # updates summarised by the inner optimizer's state
        # loss given to `observe`, for the next `step`; a list, so a shallow copy of DOIT (Lightning's
        # LightningOptimizer wrapper) records into the same place
        self._observed: list[torch.Tensor | None] = [None]

    # ------------------------------------------------------------------ public helpers
    @property
    def current(self) -> Candidate | None:
        """The candidate training right now."""
        return None if self._current is None else self.configs[self._current]

    @property
    def n_cycles(self) -> int:
        return len(self.log)

    def share(self) -> dict[str, float]:
        """Fraction of scored cycles per candidate label."""
        done = [r["config"] for r in self.log if r["score"] is not None]
        return {lab: done.count(lab) / len(done) for lab in self.labels} if done else {}

    def observe(self, loss) -> None:
        """Record the current batch's loss (at the current parameters, before this update) for `step()`."""
        self._observed[0] = _as_tensor(loss)

    # ------------------------------------------------------------------ Algorithm 1
    @torch.no_grad()
    def step(self, closure=None, loss=None):
        """One training step; the batch loss comes from ``loss``, ``closure`` or `observe` (exactly one)."""
        returned = None
        if closure is not None:  # Lightning's manual optimization passes a closure that returns None
            with torch.enable_grad():
                returned = closure()
        given = [x for x in (loss, returned, self._observed[0]) if x is not None]
        if len(given) != 1:
            raise ValueError(
                "DOIT.step needs the batch loss exactly once: opt.observe(loss) then opt.step(), "
                "or opt.step(loss=loss.detach()), or opt.step(closure)"
            )
        loss_t, self._observed[0] = _as_tensor(given[0]), None
        t0 = time.perf_counter()
        if not self.cycle.open:
            if not self.log or self.log[-1]["score"] is not None:
                self._switch(loss_t)
            self.cycle.begin(loss_t)
        else:
            self.cycle.add(loss_t)
            if not self.cycle.full and self.cycle.cut_short():  # rolled back at once: skip this update
                self._score(WORST_SCORE, recovered=True)
                self.controller_time_s += time.perf_counter() - t0
                return given[0]
            if self.cycle.full:
                if self._close():  # diverged: parameters restored, skip this (invalid) update
                    self.controller_time_s += time.perf_counter() - t0
                    return given[0]
                self._switch(loss_t)
                self.cycle.begin(loss_t)
        self.controller_time_s += time.perf_counter() - t0
        self._update()
        return given[0]

    def guard(self) -> bool:
        """If the open cycle diverged so far (a non-finite loss or parameter), roll it back and score it
        -1; the next step starts a new cycle. True if it did (only with ``nan_guard``)."""
        if not (self.nan_guard and self.cycle.open and self.cycle.diverged()):
            return False
        self.cycle.discard()
        self._score(-1.0, recovered=True)
        return True

    def finish(self) -> None:
        """End training: score the open (possibly partial) cycle (eq. 2 over its losses so far) and roll
        it back if it diverged. Idempotent; a later `step` starts a new cycle."""
        if self.cycle.open:
            score, diverged = self.cycle.close()
            self._score(score, recovered=diverged and self.nan_guard)

    def _switch(self, loss: torch.Tensor) -> None:
        """Select the next candidate (Algorithm 1) and open its log record (``loss``: the batch's, for the
        ``context`` input before any cycle was kept)."""
        context = None
        if self.context:
            level = self.cycle.level if self.cycle.level is not None else float(loss)
            context = [math.log(max(level, 0.0) + EPS)]
        index, phase, candidates = self.selector.select(len(self.log), self._current, context)
        if self._current is not None and index != self._current:
            self.switch_count += 1
        if self._inner is None or index != self._current:
            self._build_inner(index)
        self._current = index
        self.log.append(
            {
                "cycle": len(self.log),
                "step": self.global_step,
                "config": self.labels[index],
                "phase": phase,
                "score": None,
                "recovered": False,
                "candidates": candidates,
            }
        )

    def _close(self) -> bool:
        """Score the full cycle (eq. 2) and let the strategy learn from it; True if it diverged."""
        score, diverged = self.cycle.close()
        self._score(score, recovered=diverged and self.nan_guard)
        return diverged and self.nan_guard

    def _score(self, score: float | None, recovered: bool) -> None:
        self.log[-1].update(score=score, recovered=recovered)
        if score is not None:
            self.selector.observe(self._current, score)
            if isinstance(self.selector, SurrogateSelect):
                self.selector.settle(self.cycle.fall)
        if recovered:
            self._inner = None  # moment buffers may hold non-finite values: start afresh

    def _update(self) -> None:
        """One update by the current candidate. An lr so large that torch overflows is a divergence (with
        ``nan_guard``: rolled back at once) or, without the guard, a one-line ValueError."""
        info = registry.info(self.configs[self._current].optimizer)
        first = next(
            (b for b in info.buffers if b.moment == 1 and b.coef and b.coef[0] in _FIRST_MOMENT_KEYS), None
        )
        for group, inner_group in zip(self.param_groups, self._inner.param_groups, strict=True):
            inner_group["lr"] = self.configs[self._current].lr * group["lr"]
            if group.get("momentum") is not None and first is not None and first.active(inner_group):
                key, index = first.coef
                value = group["momentum"]
                inner_group[key] = value if index is None else (value, *inner_group[key][1:])
        try:
            self._inner.step()
        except RuntimeError as err:  # e.g. "value cannot be converted to type float without overflow"
            if "overflow" not in str(err):
                raise
            if not self.nan_guard:
                raise ValueError(
                    f"{self.labels[self._current]} overflowed torch's float range (lr too large?); "
                    "turn nan_guard on to roll such cycles back"
                ) from None
            self.cycle.add(torch.tensor(float("nan"), dtype=torch.float64))
            self.guard()
        else:
            self._history += 1
        self.global_step += 1

    # ------------------------------------------------------------------ inner optimizers
    def _inner_group(self, group: dict, index: int) -> dict:
        """The inner optimizer's group: the candidate's lr times the multiplier, plus the group's own settings."""
        accepted = registry.info(self.configs[index].optimizer).accepted
        own = {k: v for k, v in group.items() if k not in _KNOBS and k in accepted}
        return {"params": group["params"], "lr": self.configs[index].lr * group["lr"], **own}

    def _build_inner(self, index: int) -> None:
        candidate = self.configs[index]
        hyper = {k: v for k, v in candidate.hyper if k != "lr"}
        groups = [self._inner_group(g, index) for g in self.param_groups]
        inner = registry.create(candidate.optimizer, groups, lr=candidate.lr, fused=self.fused, **hyper)
        if self.inherit and self._inner is not None:
            carry(
                self._inner,
                inner,
                registry.info(self.configs[self._current].optimizer),
                registry.info(candidate.optimizer),
                self._history,
            )
        else:
            self._history = 0
        self._inner = inner

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. progressive unfreezing); it trains from the next step on."""
        super().add_param_group(param_group)
        if not hasattr(self, "cycle"):  # called by Optimizer.__init__
            return
        group = self.param_groups[-1]
        self.cycle.track(group["params"])
        if self._inner is not None:
            self._inner.add_param_group(self._inner_group(group, self._current))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Torch's ``state`` (the active inner optimizer's, by parameter index) and ``param_groups``, plus
        ``doit``: everything else to resume bit-for-bit (tensors and plain Python values only)."""
        inner = None if self._inner is None else self._inner.state_dict()
        return {
            "state": {} if inner is None else inner["state"],
            "param_groups": super().state_dict()["param_groups"],
            "doit": {
                "inner_groups": None if inner is None else inner["param_groups"],
                "current": self._current,
                "log": copy.deepcopy(self.log),
                "controller_time_s": self.controller_time_s,
                "switch_count": self.switch_count,
                "global_step": self.global_step,
                "history": self._history,
                "cycle": self.cycle.state_dict(),
                "selector": self.selector.state_dict(),
            },
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if "doit" not in state_dict:
            raise ValueError(
                "this DOIT state_dict has no 'doit' entry (an older version of this package wrote it) "
                "and cannot be resumed: restart the run"
            )
        own = state_dict["doit"]
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        self._current, self.log = own["current"], copy.deepcopy(own["log"])
        self.controller_time_s, self.switch_count = own["controller_time_s"], own["switch_count"]
        self.global_step, self._history = own["global_step"], own["history"]
        self.cycle.load_state_dict(own["cycle"])
        self.selector.load_state_dict(own["selector"])
        self._inner = None
        if self._current is not None:
            self._build_inner(self._current)
            if own["inner_groups"] is not None:
                self._inner.load_state_dict(
                    {"state": state_dict["state"], "param_groups": own["inner_groups"]}
                )
            self._history = own["history"]


def _as_tensor(loss) -> torch.Tensor:
    return (
        loss.detach().reshape(()) if torch.is_tensor(loss) else torch.tensor(float(loss), dtype=torch.float64)
    )
