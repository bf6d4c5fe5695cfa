"""Parameter-state compression: the surrogate's parameter-state input (paper section 3.3, Table 10).

"IOMT uses PCA to compress the parameters layer by layer" on a few selected layers (the classifier and
optionally hidden layers; for PEFT the trainable ones). A *snapshot* is a list of 1-D float64 arrays, one
per selected layer; a compressor maps it to ``n_components`` numbers per layer, concatenated.

Methods:

- ``pca`` (paper default, 2 components): one scikit-learn PCA per layer, fitted ONCE on the snapshots the
  caller has when the surrogate phase begins (the controller passes the states at the start of each
  cold-start cycle plus the current one, i.e. n_ini + 1 snapshots), then frozen so surrogate inputs stay
  comparable for the whole run. Needs >= 2 snapshots; components are clipped to
  ``min(n_components, n_snapshots - 1, layer size)``.
- ``random``: scikit-learn's SparseRandomProjection per layer (Li et al. 2006, density 1/sqrt(D)), so a
  5M-parameter layer costs ~k*sqrt(D) stored entries, never a dense k x D matrix. Independent of the data
  beyond the layer sizes; entries scaled so squared distances are preserved in expectation.
- ``umap``: umap-learn per layer (optional extra), fitted like ``pca``; its state keeps the training
  snapshots and refits on load (deterministic under ``random_state``).
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import PCA
from sklearn.random_projection import SparseRandomProjection

from doit import checks


class Compression(enum.StrEnum):
    """The parameter-state compression methods (module docstring)."""

    pca = "pca"
    random = "random"
    umap = "umap"


METHODS = tuple(Compression)


def select_state(named_params, patterns: str | Sequence[str]) -> list[tuple[str, torch.Tensor]]:
    """The ``(name, tensor)`` pairs whose names match any shell-style ``fnmatch`` pattern (case-sensitive).

    ``named_params``: ``model.named_parameters()``, a list of pairs or a dict. Pairs keep model order.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    pairs = list(named_params.items() if isinstance(named_params, dict) else named_params)
    chosen = [(n, t) for n, t in pairs if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not chosen:
        names = ", ".join(n for n, _ in pairs) or "(none)"
        raise ValueError(f"state patterns {list(patterns)} match no parameter; available names: {names}")
    return chosen


def flatten_state(tensors: Iterable) -> np.ndarray:
    """Concatenate tensors (or ``(name, tensor)`` pairs) into one detached 1-D float64 CPU array."""
    parts = [
        (t[1] if isinstance(t, tuple) else t).detach().to("cpu", torch.float64).reshape(-1) for t in tensors
    ]
    if not parts:
        raise ValueError("flatten_state: no tensors given; select at least one parameter")
    return torch.cat(parts).numpy()


def make_compressor(method: str = "pca", n_components: int = 2, seed: int = 0):
    """Build a layer-wise compressor: ``fit(snapshots)``, ``transform(snapshot)``, ``fitted``, state."""
    kind = {
        Compression.pca: PCACompressor,
        Compression.random: RandomProjectionCompressor,
        Compression.umap: UMAPCompressor,
    }[checks.choice("compression", method, Compression)]
    return kind(checks.integer("n_components", n_components, 1), checks.integer("seed", seed, 0, 2**32 - 1))


def _as_layers(snapshot) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64).reshape(-1) for a in snapshot]


def _stack_layers(snaps: list[list[np.ndarray]], sizes: list[int]) -> list[np.ndarray]:
    """Per layer, the (n_snapshots, layer size) matrix."""
    return [np.stack([s[j] for s in snaps]) for j in range(len(sizes))]


class _Compressor:
    """Shared checks: layer count and sizes fixed at ``fit``; transform output is one 1-D float64 array."""

    method = ""
    min_snapshots = 1

    def __init__(self, n_components: int, seed: int):
        self.n_components = int(n_components)
        self.seed = int(seed)
        self._sizes: list[int] | None = None

    @property
    def fitted(self) -> bool:
        return self._sizes is not None

    def fit(self, snapshots: Sequence[Sequence[np.ndarray]]) -> _Compressor:
        snaps = [_as_layers(s) for s in snapshots]
        if len(snaps) < self.min_snapshots:
            raise ValueError(
                f"{self.method} compression needs >= {self.min_snapshots} snapshots to fit, "
                f"got {len(snaps)}; run more cold-start cycles (n_ini)"
            )
        sizes = [len(a) for a in snaps[0]]
        if not sizes or any([len(a) for a in s] != sizes for s in snaps):
            raise ValueError(f"{self.method} compression: snapshots must share one non-empty layer layout")
        self._fit_layers(snaps, sizes)
        self._sizes = sizes
        return self

    def transform(self, snapshot: Sequence[np.ndarray]) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError(f"{self.method} compressor is not fitted; call fit(snapshots) first")
        layers = _as_layers(snapshot)
        if [len(a) for a in layers] != self._sizes:
            raise ValueError(
                f"snapshot layer sizes {[len(a) for a in layers]} differ from the fitted "
                f"{self._sizes}; the state selection changed"
            )
        return np.concatenate([self._transform_layer(j, a) for j, a in enumerate(layers)])

    def state_dict(self) -> dict:
        return {
            "method": self.method,
            "n_components": self.n_components,
            "seed": self.seed,
            "sizes": self._sizes,
            "layers": self._layer_state() if self.fitted else None,
        }

    def load_state_dict(self, state: dict) -> None:
        for key in ("method", "n_components", "seed"):
            mine = getattr(self, key)
            if state[key] != mine:
                raise ValueError(
                    f"compressor state has {key}={state[key]!r}, this one {mine!r}; "
                    "rebuild it with make_compressor(saved settings)"
                )
        self._sizes = None if state["sizes"] is None else [int(s) for s in state["sizes"]]
        if self._sizes is not None:
            self._load_layers(state["layers"])


class PCACompressor(_Compressor):
    """One PCA per layer (exact SVD), frozen after ``fit``: output = (x - mean) @ components.T."""

    method = "pca"
    min_snapshots = 2

    def _fit_layers(self, snaps: list[list[np.ndarray]], sizes: list[int]) -> None:
        self._mean, self._components = [], []
        for X in _stack_layers(snaps, sizes):
            k = min(self.n_components, X.shape[0] - 1, X.shape[1])
            pca = PCA(n_components=k, svd_solver="full", random_state=self.seed).fit(X)
            # C order, as after load_state_dict: BLAS rounding depends on the layout (bit-for-bit resume)
            self._mean.append(np.ascontiguousarray(pca.mean_))
            self._components.append(np.ascontiguousarray(pca.components_))

    def _transform_layer(self, j: int, x: np.ndarray) -> np.ndarray:
        return self._components[j] @ (x - self._mean[j])

    def _layer_state(self) -> list[dict]:
        return [
            {"mean": torch.from_numpy(m.copy()), "components": torch.from_numpy(c.copy())}
            for m, c in zip(self._mean, self._components, strict=True)
        ]

    def _load_layers(self, layers: list[dict]) -> None:
        self._mean = [d["mean"].numpy().copy() for d in layers]
        self._components = [d["components"].numpy().copy() for d in layers]


class RandomProjectionCompressor(_Compressor):
    """Sparse random projection per layer (scikit-learn), seeded; uses the snapshots' sizes only."""

    method = "random"

    def _fit_layers(self, snaps: list[list[np.ndarray]], sizes: list[int]) -> None:
        rng = np.random.RandomState(self.seed)
        self._matrices = []
        for size in sizes:
            proj = SparseRandomProjection(self.n_components, density="auto", random_state=rng)
            proj.fit(sp.csr_matrix((1, size)))
            self._matrices.append(sp.csr_matrix(proj.components_, dtype=np.float64))

    def _transform_layer(self, j: int, x: np.ndarray) -> np.ndarray:
        return self._matrices[j] @ x

    def _layer_state(self) -> list[dict]:
        return [
            {
                "shape": list(m.shape),
                "data": torch.from_numpy(m.data.copy()),
                "indices": torch.from_numpy(m.indices.astype(np.int64)),
                "indptr": torch.from_numpy(m.indptr.astype(np.int64)),
            }
            for m in self._matrices
        ]

    def _load_layers(self, layers: list[dict]) -> None:
        self._matrices = [
            sp.csr_matrix(
                (d["data"].numpy().copy(), d["indices"].numpy().copy(), d["indptr"].numpy().copy()),
                shape=tuple(d["shape"]),
            )
            for d in layers
        ]


class MissingDependency(ValueError, ImportError):
    """A value this installation cannot run (an optional package is missing). A ``ValueError``, as any other
    unusable argument, so the runner's config check reports it as one ``error: <key>: ...`` line; an
    ``ImportError`` too, for code that catches that."""


class UMAPCompressor(_Compressor):
    """umap-learn per layer, fitted on the snapshots (``n_neighbors`` clipped to n_snapshots - 1)."""

    method = "umap"

    @property
    def min_snapshots(self) -> int:
        """UMAP's spectral initialisation needs more points than n_components + 1."""
        return max(3, self.n_components + 2)

    def __init__(self, n_components: int, seed: int):
        try:
            import umap  # noqa: F401
        except ImportError as err:
            raise MissingDependency('compression="umap" needs umap-learn: pip install -e ".[umap]"') from err
        super().__init__(n_components, seed)

    def _fit_layers(self, snaps: list[list[np.ndarray]], sizes: list[int]) -> None:
        import umap

        self._data = _stack_layers(snaps, sizes)
        self._models = [
            umap.UMAP(
                n_components=self.n_components,
                n_neighbors=min(15, len(X) - 1),
                random_state=self.seed,
                n_jobs=1,
            ).fit(X)
            for X in self._data
        ]

    def _transform_layer(self, j: int, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._models[j].transform(x[None, :]), dtype=np.float64)[0]

    def _layer_state(self) -> list[dict]:
        return [{"data": torch.from_numpy(X.copy())} for X in self._data]

    def _load_layers(self, layers: list[dict]) -> None:
        data = [d["data"].numpy().copy() for d in layers]
        self._fit_layers([[X[i] for X in data] for i in range(len(data[0]))], [X.shape[1] for X in data])
