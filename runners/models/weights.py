"""Loading pre-trained weights with one clear line when they are neither cached nor downloadable."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import torch

from runners.schema import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


def load_or_explain(load: Callable[[], T], what: str) -> T:
    """``load()``, turning a failed download or a missing cache entry into a ``ConfigError``."""
    try:
        return load()
    except (OSError, RuntimeError, ValueError) as err:
        raise ConfigError(
            f"model.pretrained=true: could not load {what} (not cached and no network: "
            f"{type(err).__name__}); run once with internet to cache it, or set "
            "model.pretrained=false"
        ) from None


def cached_file(url: str) -> Path:
    """Where ``torch.hub`` keeps the download of ``url`` (torchvision's weights): ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def use_cached(url: str, what: str) -> bool:
    """Whether the weights at ``url`` are cached; if not, say so in one line (the run trains from scratch)."""
    path = cached_file(url)
    if path.is_file():
        return True
    log.warning(
        "model.weights_missing=scratch: %s not cached at %s; training from scratch (result.json: "
        "run.pretrained false)",
        what,
        path,
    )
    return False
