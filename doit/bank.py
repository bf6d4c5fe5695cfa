"""The surrogate bank (section 3.3): parameter-state compression, one GP per optimizer type, and the
observations that wait for the compressor.

A GP input is the compressed parameter state at a cycle's start (followed, with DOIT+'s ``context``, by
where training is: the log of the loss level, `doit.cycle.Cycle.level`) and then the candidate's hyperparameters
(`doit.space.hyper_vector`, ambiguity 12). The compressor is fitted once, on the
snapshots of the cold-start cycles plus the current one (ambiguity 5); observations made before that
wait in a queue with their raw snapshots and enter the GPs when it is fitted.
"""

from __future__ import annotations

import numpy as np
import torch

from doit.compression import flatten_state, make_compressor
from doit.space import Candidate, hyper_vector
from doit.surrogate import GPSurrogate


class SurrogateBank:
    """Predicts every candidate's score from the parameter state at the open cycle's start.

    ``state``: the tensors of the surrogate input, or ``(name, tensor)`` pairs, which are grouped by layer
    (module prefix of their names) and compressed layer by layer.
    """

    def __init__(
        self,
        candidates: list[Candidate],
        state: list[list[torch.Tensor]],
        compression: str,
        n_components: int,
        seed: int,
        surrogate_kwargs: dict | None = None,
    ):
        self.candidates, self.state = candidates, _by_layer(state)
        self.types = list(dict.fromkeys(c.optimizer for c in candidates))
        self.compressor = make_compressor(compression, n_components, seed)
        self.surrogates = {t: GPSurrogate(**(surrogate_kwargs or {})) for t in self.types}
        self._snapshot: list[np.ndarray] | None = None  # raw state at the open cycle's start
        self._context = np.zeros(0)  # extra surrogate inputs at that start (DOIT+'s ``context``)
        self._x_state: np.ndarray | None = None  # its compression (+ context), once the compressor is fitted
        # (snapshot, context, candidate, score) observed before the compressor was fitted
        self._pending: list[tuple[list[np.ndarray], np.ndarray, int, float]] = []

    def snapshot(self, context=None) -> None:
        """Record the current parameter state (and ``context``, extra inputs appended after its
        compression) as the open cycle's start."""
        self._snapshot = [flatten_state(tensors) for tensors in self.state]
        self._context = np.zeros(0) if context is None else np.asarray(context, dtype=np.float64).reshape(-1)

    @property
    def ready(self) -> bool:
        """Whether the compressor is fitted or can be fitted on the snapshots so far."""
        return self.compressor.fitted or len(self._pending) + 1 >= self.compressor.min_snapshots

    def predict(self) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """Per optimizer type: ``(candidate indices, GP mean, GP sd)`` at the current snapshot."""
        if not self.compressor.fitted:
            self.compressor.fit([s for s, _, _, _ in self._pending] + [self._snapshot])
            for snapshot, context, index, score in self._pending:
                self._add(np.concatenate([self.compressor.transform(snapshot), context]), index, score)
            self._pending = []
        self._x_state = np.concatenate([self.compressor.transform(self._snapshot), self._context])
        out = []
        for t in self.types:
            idx = [k for k, c in enumerate(self.candidates) if c.optimizer == t]
            X = np.stack([np.concatenate([self._x_state, hyper_vector(self.candidates[k])]) for k in idx])
            mean, sd = self.surrogates[t].predict(X)
            out.append((idx, np.atleast_1d(mean), np.atleast_1d(sd)))
        return out

    def observe(self, index: int, score: float) -> None:
        """Candidate ``index`` scored ``score`` in the cycle that started at the recorded state."""
        if self._x_state is None:
            self._pending.append((self._snapshot, self._context, index, score))
        else:
            self._add(self._x_state, index, score)

    def _add(self, x_state: np.ndarray, index: int, score: float) -> None:
        candidate = self.candidates[index]
        self.surrogates[candidate.optimizer].add(np.concatenate([x_state, hyper_vector(candidate)]), score)

    def state_dict(self) -> dict:
        def tensors(arrays):
            return [torch.from_numpy(a.copy()) for a in arrays]

        return {
            "snapshot": None if self._snapshot is None else tensors(self._snapshot),
            "context": torch.from_numpy(self._context.copy()),
            "x_state": None if self._x_state is None else torch.from_numpy(self._x_state.copy()),
            "pending": [(tensors(s), torch.from_numpy(c.copy()), k, v) for s, c, k, v in self._pending],
            "compressor": self.compressor.state_dict(),
            "surrogates": {t: s.state_dict() for t, s in self.surrogates.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        def arrays(tensors):
            return [t.numpy().copy() for t in tensors]

        self._snapshot = None if state["snapshot"] is None else arrays(state["snapshot"])
        self._context = state["context"].numpy().copy()
        self._x_state = None if state["x_state"] is None else state["x_state"].numpy().copy()
        self._pending = [(arrays(s), c.numpy().copy(), k, v) for s, c, k, v in state["pending"]]
        self.compressor.load_state_dict(state["compressor"])
        for t, s in state["surrogates"].items():
            self.surrogates[t].load_state_dict(s)


def _by_layer(state) -> list[list[torch.Tensor]]:
    items = list(state)
    if not items:
        raise ValueError("state is empty: name at least one tensor for the surrogate input")
    if not isinstance(items[0], tuple):
        return [items]
    groups: dict[str, list[torch.Tensor]] = {}
    for name, tensor in items:
        groups.setdefault(name.rsplit(".", 1)[0], []).append(tensor)
    return list(groups.values())
