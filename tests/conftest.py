"""Shared fixtures: compose the real config (lightning-hydra-template style) and run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from runners.schema import CONF_DIR
from runners.train import compose

REPO = CONF_DIR.parent
# Shrunk, fast settings for runner tests (the digits default, fewer epochs, no display).
FAST = ["epochs=1", "progress=off", "plot=false"]


@pytest.fixture
def one_thread():
    """Small CPU models run fastest on one torch thread (and far faster than on two busy ones)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def compose_train(overrides: list[str]):
    """``(cfg, choices)`` of ``conf/train.yaml`` with ``overrides``, without the ``hydra`` node."""
    return compose(overrides)


def run_cli(args: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """``python -m runners.train *args`` from the repo root, output captured."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "runners.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )
