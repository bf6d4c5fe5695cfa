"""Property: whatever overrides a user types, no traceback reaches them. ``runners.cli.main`` either starts
the run or prints exactly one ``error: <key>: ...`` line, exits with 2 and writes nothing.

Examples never train: ``runners.train.run`` is replaced by a stand-in that stops right after the job's own
config check, so each example costs one composition and one check (about half a second). How many examples:
the Hypothesis profile of ``tests/conftest.py`` (a few in the quick suite, many under ``--full``).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import types

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runners import checks, cli, config, train

KEYS = [
    "seed",
    "epochs",
    "batch_size",
    "lr",
    "device",
    "threads",
    "mode",
    "progress",
    "target_acc",
    "amp",
    "fused",
    "checkpoint_every_s",
    "convergence.patience",
    "convergence.tol",
    "method.tau",
    "method.n_ini",
    "method.alpha",
    "method.w_min",
    "method.beta",
    "method.omega_t",
    "method.explode_factor",
    "method.n_components",
    "method.schedule",
    "method.strategy",
    "method.initial",
    "method.compression",
    "method.halving_period",
    "method.lr",
    "method.optimizer",
    "dataset.test_size",
    "dataset.loader",
    "model.hidden",
    "model.channels",
    "model.builder",
    "space.grid",
    "space.grid.sgd.lr",
    "+foo",
    "+epoch",
    "+method.hyper.momentum",
    "variant",
    "experiment_name",
    "scale",
]
GROUPS = ["method", "space", "model", "dataset", "ablation", "experiment", "scale"]
VALUES = [
    "0",
    "-1",
    "1",
    "3",
    "0.5",
    "2",
    "nan",
    "inf",
    "-inf",
    "''",
    "abc",
    "null",
    "[]",
    "{}",
    "[0,16]",
    "[8]",
    "1e99",
    "4294967296",
    "true",
    "cuda:7",
    "cpu",
    "meta",
    "auto",
    "eq7",
    "weighted",
    "random",
    "pca",
    "sgd",
    "digits",
    "small",
    "paper",
    "embedded",
    "full",
    "off",
]


def _options(group: str) -> list[str]:
    return config.group_options(group) + ["nope", "null"]


override = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.sampled_from(GROUPS).flatmap(lambda g: st.builds(lambda o: f"{g}={o}", st.sampled_from(_options(g)))),
)
_counter = itertools.count()


def _started(cfg, out_dir, choices=None):
    """Stand-in for ``runners.train.run``: the job's check, then stop (the run has started)."""
    checks.check(cfg, choices)
    return types.SimpleNamespace(status="complete")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "run", _started)
        yield patch


def _one_line_or_started(tmp_path_factory, overrides: list[str]) -> None:
    run_dir = tmp_path_factory.getbasetemp() / f"fuzz{next(_counter)}"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main([f"hydra.run.dir={run_dir}", *overrides])
    text = err.getvalue()
    assert "Traceback" not in text, (overrides, text)
    if code == 0:
        assert "error:" not in text, (overrides, text)
        return
    lines = text.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (overrides, code, text)
    assert not run_dir.exists(), (overrides, "a refused run left its dir")


@given(st.lists(override, min_size=1, max_size=4))
@example(["method.compression=umap"])  # umap-learn is an optional extra: one line without it
@example(["ablation=umap", "method.n_ini=3"])
@example(["scale=[0,16]"])  # Hydra raises a TypeError for a group given a list of numbers
def test_no_traceback_ever(tmp_path_factory, monkeypatch_module, overrides):
    _one_line_or_started(tmp_path_factory, overrides)
