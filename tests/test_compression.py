"""Parameter-state compression: selection, flattening, PCA / random projection / UMAP, state round trip."""

import importlib.util
import io

import numpy as np
import pytest
import torch
from conftest import FULL_COMMAND
from sklearn.decomposition import PCA
from sklearn.random_projection import SparseRandomProjection

from doit.compression import PCACompressor, flatten_state, make_compressor, select_state

HAS_UMAP = importlib.util.find_spec("umap") is not None


def snapshots(n=8, sizes=(60, 7), seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) for s in sizes] for _ in range(n)]


def round_trip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_select_state_fnmatch_in_model_order():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    chosen = select_state(model.named_parameters(), ["2.*", "0.bias"])
    assert [n for n, _ in chosen] == ["0.bias", "2.weight", "2.bias"]
    assert chosen[1][1] is model[2].weight
    weights = select_state(dict(model.named_parameters()), "*.weight")
    assert [n for n, _ in weights] == ["0.weight", "2.weight"]


def test_select_state_error_lists_names():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"match no parameter; available names: weight, bias"):
        select_state(model.named_parameters(), ["fc.*"])


def test_flatten_state():
    a = torch.arange(6, dtype=torch.float32, requires_grad=True).reshape(2, 3)
    b = torch.tensor([7.5], dtype=torch.float16)
    flat = flatten_state([a, ("b", b)])
    assert flat.dtype == np.float64 and flat.shape == (7,)
    np.testing.assert_array_equal(flat, [0, 1, 2, 3, 4, 5, 7.5])
    flat[0] = 99.0  # a detached copy: the parameter is untouched
    assert a[0, 0].item() == 0.0
    with pytest.raises(ValueError, match="no tensors"):
        flatten_state([])


def test_pca_equals_sklearn_layer_by_layer():
    snaps = snapshots(8)
    comp = make_compressor("pca", 3, seed=0).fit(snaps)
    out = comp.transform(snaps[2])
    assert out.shape == (6,) and out.dtype == np.float64
    for j, sl in enumerate([slice(0, 3), slice(3, 6)]):
        ref = PCA(3, svd_solver="full").fit(np.stack([s[j] for s in snaps]))
        np.testing.assert_allclose(out[sl], ref.transform(snaps[2][j][None])[0], rtol=1e-10, atol=1e-12)


def test_pca_clips_components_and_needs_two_snapshots():
    comp = make_compressor("pca", 5, seed=0).fit(snapshots(3, sizes=(40, 1)))
    assert comp.transform(snapshots(1, sizes=(40, 1))[0]).shape == (2 + 1,)  # 3 - 1, and 1 (layer size)
    with pytest.raises(ValueError, match="needs >= 2 snapshots"):
        make_compressor("pca").fit(snapshots(1))


def test_pca_on_real_training_trajectory_separates_states():
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 3)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    x, t = torch.randn(32, 8), torch.randint(0, 3, (32,))
    snaps = []
    for _ in range(6):
        snaps.append([flatten_state(layer.parameters())])
        opt.zero_grad()
        torch.nn.functional.cross_entropy(layer(x), t).backward()
        opt.step()
    comp = make_compressor("pca", 2, seed=0).fit(snaps)
    first = comp.transform(snaps[0])
    last = comp.transform(snaps[-1])
    assert np.linalg.norm(first - last) > 0.1 and comp.fitted


def test_random_projection_preserves_distances_and_is_seeded():
    snaps = snapshots(12, sizes=(4000,))
    comp = make_compressor("random", 400, seed=1).fit(snaps[:1])
    Z = np.stack([comp.transform(s) for s in snaps])
    X = np.stack([s[0] for s in snaps])
    i, j = np.triu_indices(len(snaps), 1)
    ratio = np.linalg.norm(Z[i] - Z[j], axis=1) / np.linalg.norm(X[i] - X[j], axis=1)
    assert 0.8 < ratio.min() and ratio.max() < 1.2
    same = make_compressor("random", 400, seed=1).fit(snaps[:1])
    np.testing.assert_array_equal(same.transform(snaps[3]), Z[3])
    other = make_compressor("random", 400, seed=2).fit(snaps[:1])
    assert not np.allclose(other.transform(snaps[3]), Z[3])


def test_random_projection_matches_sklearn_and_stays_sparse():
    rng = np.random.RandomState(5)
    ref = SparseRandomProjection(4, random_state=rng).fit(np.zeros((1, 5_000_000)))
    comp = make_compressor("random", 4, seed=5).fit([[np.zeros(5_000_000)]])
    x = np.random.default_rng(0).normal(size=5_000_000)
    np.testing.assert_allclose(comp.transform([x]), ref.transform(x[None])[0], rtol=1e-12)
    assert comp.state_dict()["layers"][0]["data"].numel() < 4 * 3 * np.sqrt(5_000_000)


@pytest.mark.parametrize("method", ["pca", "random"])
def test_state_round_trip_bit_for_bit(method):
    snaps = snapshots(6)
    a = make_compressor(method, 2, seed=4).fit(snaps)
    b = make_compressor(method, 2, seed=4)
    assert not b.fitted
    b.load_state_dict(round_trip(a.state_dict()))
    assert b.fitted
    np.testing.assert_array_equal(a.transform(snaps[1]), b.transform(snaps[1]))
    empty = make_compressor(method, 2, seed=4)
    empty.load_state_dict(round_trip(make_compressor(method, 2, seed=4).state_dict()))
    assert not empty.fitted


def test_errors():
    with pytest.raises(ValueError, match="compression='svd' is not valid; choose one of pca, random, umap"):
        make_compressor("svd")
    with pytest.raises(ValueError, match="n_components=0"):
        make_compressor("pca", 0)
    with pytest.raises(RuntimeError, match="not fitted"):
        make_compressor("pca").transform(snapshots(1)[0])
    comp = make_compressor("pca").fit(snapshots(4))
    with pytest.raises(ValueError, match="differ from the fitted"):
        comp.transform(snapshots(1, sizes=(60,))[0])
    with pytest.raises(ValueError, match="one non-empty layer layout"):
        make_compressor("pca").fit([[np.zeros(3)], [np.zeros(4)]])
    with pytest.raises(ValueError, match="n_components=2, this one 3"):
        make_compressor("pca", 3).load_state_dict(comp.state_dict())
    assert isinstance(comp, PCACompressor)


def test_umap_missing_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    # a ValueError (the runner's config check makes it one line) that is an ImportError too
    with pytest.raises(ValueError, match=r'pip install -e "\.\[umap\]"') as info:
        make_compressor("umap")
    assert isinstance(info.value, ImportError)


@pytest.mark.skipif(not HAS_UMAP, reason=f"needs umap-learn: pip install -e '.[umap]' (or {FULL_COMMAND})")
@pytest.mark.slow
def test_umap_shapes_determinism_and_round_trip():
    snaps = snapshots(10, sizes=(30, 5))
    a = make_compressor("umap", 2, seed=0).fit(snaps)
    out = a.transform(snaps[0])
    assert out.shape == (4,) and out.dtype == np.float64
    b = make_compressor("umap", 2, seed=0)
    b.load_state_dict(round_trip(a.state_dict()))
    np.testing.assert_array_equal(b.transform(snaps[0]), out)
