"""Loading pre-trained weights with one clear line when they are neither cached nor downloadable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from runners.schema import ConfigError

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
