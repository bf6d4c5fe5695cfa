"""The DOIT controller: a `torch.optim.Optimizer` that interleaves candidate optimizers (Algorithm 1).

Training runs in switch cycles of `tau` updates. Cycle `i` uses one configuration (optimizer + its
hyperparameters). When it ends, its losses give the performance score (eq. 2); the score updates the
configuration's sampling weight (eq. 3) and the surrogate of its optimizer type (section 3.3). The next
configuration is drawn by weighted random selection for the first `n_ini` cycles and then by maximising
the acquisition function (eq. 4-7) over every configuration of the space.

Loss bookkeeping (DESIGN.md ambiguity 2): `step(loss=...)` receives the loss of the current batch at the
current parameters, before this step's update. The first loss of a cycle is `l0`; the next `tau` losses
are `l_1..l_tau`, each taken after one more update by the cycle's optimizer, so no extra forward pass is
needed; `l_tau` is also the next cycle's `l0`. Losses stay on their device until the cycle closes (one
host sync per cycle).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable

import numpy as np
import torch

from doit import optimizers as registry
from doit.acquisition import SCHEDULES, acquisition
from doit.compression import flatten_state, make_compressor
from doit.score import performance_score, sampling_weight
from doit.space import Config, expand, hyper_vector, label
from doit.surrogate import GPSurrogate

STRATEGIES = ("doit", "random", "cyclical")
INITIALS = ("weighted", "uniform")

# Optimizer-state keys that mean the same thing across torch optimizers, for `inherit=True`.
_FIRST_MOMENT = {"sgdm": "momentum_buffer", "adam": "exp_avg", "adamw": "exp_avg", "nadam": "exp_avg",
                 "adamax": "exp_avg"}
_SECOND_MOMENT = {"adam": "exp_avg_sq", "adamw": "exp_avg_sq", "nadam": "exp_avg_sq", "rmsprop": "square_avg"}


def _choice(name: str, value, valid: Iterable[str]) -> str:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(valid)}")
    return value


class DOIT(torch.optim.Optimizer):
    """Dynamic optimizer interleaving as a drop-in optimizer.

    `space` is a grid (optimizer name -> hyperparameter -> values) or a list of configurations, see
    `doit.space.expand`. `state` names the tensors that form the surrogate's parameter-state input
    (DESIGN.md ambiguity 5): tensors or `(name, tensor)` pairs; by default the last two tensors of
    `params` (the classifier's weight and bias in most models). The `lr` of DOIT's parameter groups
    multiplies every candidate's own learning rate (default 1.0), so LR schedulers can wrap DOIT.
    """

    def __init__(self, params, space, tau: int = 25, n_ini: int = 20, alpha: float = 0.5,
                 w_min: float = 0.1, omega_t: float = 0.0, halving_period: int = 10,
                 schedule: str = "eq7", strategy: str = "doit", initial: str = "weighted",
                 compression: str = "pca", n_components: int = 2, state=None, inherit: bool = False,
                 nan_guard: bool = True, explode_factor: float = 1e3, seed: int = 0,
                 surrogate_kwargs: dict | None = None):
        if tau < 1:
            raise ValueError(f"tau={tau} must be >= 1 (steps per switch cycle)")
        if n_ini < 0:
            raise ValueError(f"n_ini={n_ini} must be >= 0 (cold-start cycles)")
        if halving_period < 1:
            raise ValueError(f"halving_period={halving_period} must be >= 1 (cycles)")
        if not 0.0 <= omega_t <= 1.0:
            raise ValueError(f"omega_t={omega_t} must lie in [0, 1]")
        super().__init__(params, {"lr": 1.0})
        self.configs: list[Config] = expand(space)
        self.labels = [label(c) for c in self.configs]
        self.types = list(dict.fromkeys(c.optimizer for c in self.configs))
        self.tau, self.n_ini, self.alpha, self.w_min = int(tau), int(n_ini), float(alpha), float(w_min)
        self.omega_t, self.halving_period = float(omega_t), int(halving_period)
        self.schedule = _choice("schedule", schedule, SCHEDULES)
        self.strategy = _choice("strategy", strategy, STRATEGIES)
        self.initial = _choice("initial", initial, INITIALS)
        self.inherit, self.nan_guard, self.explode_factor = bool(inherit), bool(nan_guard), float(explode_factor)

        all_params = [p for g in self.param_groups for p in g["params"]]
        self._state_groups = self._group_state(state, all_params)
        self.compressor = make_compressor(compression, n_components, seed)
        self.surrogates = {t: GPSurrogate(**(surrogate_kwargs or {})) for t in self.types}
        self._rng = np.random.default_rng(seed)

        self.weights = [1.0] * len(self.configs)  # eq. 3 sampling weights, one per configuration
        self.log: list[dict] = []
        self.controller_time_s = 0.0
        self.switch_count = 0
        self.global_step = 0
        self._current: int | None = None  # index into self.configs
        self._inner: torch.optim.Optimizer | None = None
        self._l0: torch.Tensor | None = None
        self._losses: list[torch.Tensor] | None = None  # None: no cycle open
        self._x_state: np.ndarray | None = None  # compressed state at the open cycle's start
        self._snapshot: list[np.ndarray] | None = None  # raw state at the open cycle's start
        self._pending: list[tuple[list[np.ndarray], int, float]] = []  # observations before compression fit
        self._saved: list[torch.Tensor] | None = None  # parameters at the open cycle's start
        self._record: dict | None = None

    # ------------------------------------------------------------------ public helpers
    @property
    def current(self) -> Config | None:
        """The configuration training right now."""
        return None if self._current is None else self.configs[self._current]

    @property
    def n_cycles(self) -> int:
        return len(self.log)

    def share(self) -> dict[str, float]:
        """Fraction of completed cycles per configuration label."""
        done = [r["config"] for r in self.log if r["score"] is not None]
        return {lab: done.count(lab) / len(done) for lab in self.labels} if done else {}

    # ------------------------------------------------------------------ the step
    @torch.no_grad()
    def step(self, closure=None, loss=None):
        """One training step; `loss` is the current batch's loss before this update (or give a closure)."""
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if loss is None:
            raise ValueError("DOIT.step needs the batch loss: call opt.step(loss=loss.detach()) or pass a closure")
        t0 = time.perf_counter()
        loss_t = loss.detach().reshape(()) if torch.is_tensor(loss) else torch.tensor(float(loss), dtype=torch.float64)
        if self._current is None:
            self._activate(self._select())
        if self._losses is None:
            self._begin_cycle(loss_t)
        else:
            self._losses.append(loss_t)
            if len(self._losses) == self.tau:
                if self._close_cycle():  # diverged: parameters restored, skip this (invalid) update
                    self.controller_time_s += time.perf_counter() - t0
                    return loss
                self._activate(self._select())
                self._begin_cycle(loss_t)
        self.controller_time_s += time.perf_counter() - t0
        for group, inner_group in zip(self.param_groups, self._inner.param_groups, strict=True):
            inner_group["lr"] = self.configs[self._current].lr * group["lr"]
        self._inner.step()
        self.global_step += 1
        return loss

    # ------------------------------------------------------------------ cycles
    def _begin_cycle(self, l0: torch.Tensor) -> None:
        self._l0, self._losses = l0, []
        if self.nan_guard:  # keep the buffers between cycles: a copy, no allocation
            params = [p for g in self.param_groups for p in g["params"]]
            if self._saved is None:
                self._saved = [p.detach().clone() for p in params]
            else:
                for saved, p in zip(self._saved, params, strict=True):
                    saved.copy_(p)

    def _close_cycle(self) -> bool:
        """Score the finished cycle (eq. 2), update weights (eq. 3) and surrogates. True if it diverged."""
        values = torch.stack([t.double() for t in (self._l0, *self._losses)]).cpu().tolist()
        l0, losses = values[0], values[1:]
        diverged = not np.all(np.isfinite(values)) or max(losses) > self.explode_factor * max(l0, 1.0)
        score = -1.0 if diverged else performance_score(losses, l0, self.alpha)
        if diverged and self.nan_guard:
            params = [p for g in self.param_groups for p in g["params"]]
            for p, saved in zip(params, self._saved, strict=True):
                p.copy_(saved)
            self._inner = None  # moment buffers may hold non-finite values: start afresh
        self._record.update(score=score, recovered=bool(diverged and self.nan_guard))
        self._observe(self._current, score)
        self._losses = None
        if diverged and self.nan_guard:
            self._activate(self._select())
            return True
        return False

    def _observe(self, index: int, score: float) -> None:
        self.weights[index] = sampling_weight(score, self.w_min)
        if self.strategy != "doit":
            return
        if self._x_state is None:
            self._pending.append((self._snapshot, index, score))
        else:
            self._add_observation(self._x_state, index, score)

    def _add_observation(self, x_state: np.ndarray, index: int, score: float) -> None:
        config = self.configs[index]
        self.surrogates[config.optimizer].add(np.concatenate([x_state, hyper_vector(config)]), score)

    # ------------------------------------------------------------------ selection
    def _select(self) -> tuple[int, str, list[dict]]:
        """Pick the next configuration: (index, phase, candidate predictions)."""
        i, m = len(self.log), len(self.configs)
        if self.strategy == "cyclical":
            return (0 if self._current is None else (self._current + 1) % m), "cyclical", []
        if self.strategy == "random":
            return int(self._rng.integers(m)), "random", []
        self._snapshot = self._take_snapshot()
        enough = self.compressor.fitted or len(self._pending) + 1 >= self.compressor.min_snapshots
        if i < self.n_ini or self._current is None or not enough:  # cold start (eq. 3)
            w = np.ones(m) if self.initial == "uniform" else np.asarray(self.weights)
            return int(self._rng.choice(m, p=w / w.sum())), "cold", []
        x_state = self._compressed_state()
        candidates, best, best_acq = [], 0, -np.inf
        for t in self.types:
            idx = [k for k, c in enumerate(self.configs) if c.optimizer == t]
            X = np.stack([np.concatenate([x_state, hyper_vector(self.configs[k])]) for k in idx])
            mean, sd = self.surrogates[t].predict(X)
            acq = acquisition(mean, sd, self.omega_t, i, self.halving_period, self.schedule, self.alpha)
            for k, mu, s, a in zip(idx, np.atleast_1d(mean), np.atleast_1d(sd), np.atleast_1d(acq), strict=True):
                candidates.append({"config": self.labels[k], "mean": float(mu), "sd": float(s), "acq": float(a)})
                if a > best_acq:
                    best, best_acq = k, float(a)
        return best, "surrogate", candidates

    def _take_snapshot(self) -> list[np.ndarray]:
        return [flatten_state(tensors) for tensors in self._state_groups]

    def _compressed_state(self) -> np.ndarray:
        """Compress the current snapshot, fitting the compressor first if it is not yet fitted."""
        if not self.compressor.fitted:
            snapshots = [s for s, _, _ in self._pending] + [self._snapshot]
            self.compressor.fit(snapshots)
            for snap, index, score in self._pending:
                self._add_observation(self.compressor.transform(snap), index, score)
            self._pending = []
        self._x_state = self.compressor.transform(self._snapshot)
        return self._x_state

    def _activate(self, selection: tuple[int, str, list[dict]]) -> None:
        index, phase, candidates = selection
        if self._current is not None and index != self._current:
            self.switch_count += 1
        if self._inner is None or index != self._current:
            self._inner = self._build_inner(index, previous=self._inner)
        self._current = index
        self._record = {"cycle": len(self.log), "step": self.global_step, "config": self.labels[index],
                        "phase": phase, "score": None, "recovered": False, "candidates": candidates}
        self.log.append(self._record)

    def _build_inner(self, index: int, previous: torch.optim.Optimizer | None) -> torch.optim.Optimizer:
        config = self.configs[index]
        hyper = dict(config.hyper)
        groups = [{"params": g["params"], "lr": config.lr * g["lr"]} for g in self.param_groups]
        hyper.pop("lr")
        inner = registry.create(config.optimizer, groups, lr=config.lr, **hyper)
        if self.inherit and previous is not None:
            self._inherit_state(previous, inner, self.configs[self._current].optimizer, config.optimizer)
        return inner

    def _inherit_state(self, old, new, old_type: str, new_type: str) -> None:
        """Carry compatible moment buffers across a switch (opt-in; the paper does not)."""
        pairs = []
        if old_type == new_type:
            new.load_state_dict({"state": old.state_dict()["state"], "param_groups": new.state_dict()["param_groups"]})
            return
        if old_type in _FIRST_MOMENT and new_type in _FIRST_MOMENT:
            pairs.append((_FIRST_MOMENT[old_type], _FIRST_MOMENT[new_type]))
        if old_type in _SECOND_MOMENT and new_type in _SECOND_MOMENT:
            pairs.append((_SECOND_MOMENT[old_type], _SECOND_MOMENT[new_type]))
        if not pairs:
            return
        for group in self.param_groups:
            for p in group["params"]:
                src = old.state.get(p, {})
                if not all(a in src and src[a] is not None for a, _ in pairs):
                    continue
                dst = new.state[p]
                for a, b in pairs:
                    dst[b] = src[a].clone()
                if new_type != "sgdm":  # Adam/RMSprop families need a step count and every buffer
                    dst["step"] = torch.tensor(float(self.global_step))
                    self._fill_missing(dst, p, new_type)

    @staticmethod
    def _fill_missing(dst: dict, p: torch.Tensor, new_type: str) -> None:
        needed = {"adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq"),
                  "nadam": ("exp_avg", "exp_avg_sq", "mu_product"), "adamax": ("exp_avg", "exp_inf"),
                  "rmsprop": ("square_avg",)}[new_type]
        for key in needed:
            if key not in dst:
                dst[key] = torch.tensor(1.0) if key == "mu_product" else torch.zeros_like(p)

    # ------------------------------------------------------------------ state
    @staticmethod
    def _group_state(state, all_params) -> list[list[torch.Tensor]]:
        """Group the state tensors by layer (module prefix of their names) for layer-wise compression."""
        if state is None:
            return [all_params[-2:]]
        items = list(state)
        if not items:
            raise ValueError("state is empty: name at least one tensor for the surrogate input")
        if not isinstance(items[0], tuple):
            return [items]
        groups: dict[str, list[torch.Tensor]] = {}
        for name, tensor in items:
            groups.setdefault(name.rsplit(".", 1)[0], []).append(tensor)
        return list(groups.values())

    def state_dict(self) -> dict:
        """Everything needed to resume bit-for-bit (tensors and plain Python values only)."""
        return {
            "base": super().state_dict(),
            "inner": None if self._inner is None else self._inner.state_dict(),
            "current": self._current,
            "weights": list(self.weights),
            "log": copy.deepcopy(self.log),
            "controller_time_s": self.controller_time_s,
            "switch_count": self.switch_count,
            "global_step": self.global_step,
            "rng": self._rng.bit_generator.state,
            "omega_t": self.omega_t,
            "l0": self._l0,
            "losses": None if self._losses is None else list(self._losses),
            "x_state": None if self._x_state is None else torch.from_numpy(self._x_state.copy()),
            "snapshot": None if self._snapshot is None else [torch.from_numpy(a.copy()) for a in self._snapshot],
            "pending": [([torch.from_numpy(a.copy()) for a in s], k, v) for s, k, v in self._pending],
            "saved": self._saved,
            "compressor": self.compressor.state_dict(),
            "surrogates": {t: s.state_dict() for t, s in self.surrogates.items()},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict["base"])
        self._current = state_dict["current"]
        self.weights = list(state_dict["weights"])
        self.log = copy.deepcopy(state_dict["log"])
        self._record = self.log[-1] if self.log else None
        self.controller_time_s = state_dict["controller_time_s"]
        self.switch_count = state_dict["switch_count"]
        self.global_step = state_dict["global_step"]
        self._rng.bit_generator.state = state_dict["rng"]
        self.omega_t = state_dict["omega_t"]
        self._l0 = state_dict["l0"]
        self._losses = None if state_dict["losses"] is None else list(state_dict["losses"])
        x = state_dict["x_state"]
        self._x_state = None if x is None else x.numpy().copy()
        snap = state_dict["snapshot"]
        self._snapshot = None if snap is None else [a.numpy().copy() for a in snap]
        self._pending = [([a.numpy().copy() for a in s], k, v) for s, k, v in state_dict["pending"]]
        self._saved = state_dict["saved"]
        self.compressor.load_state_dict(state_dict["compressor"])
        for t, s in state_dict["surrogates"].items():
            self.surrogates[t].load_state_dict(s)
        self._inner = None
        if self._current is not None:
            self._inner = self._build_inner(self._current, previous=None)
            if state_dict["inner"] is not None:
                self._inner.load_state_dict(state_dict["inner"])
