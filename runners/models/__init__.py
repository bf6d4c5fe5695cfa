"""Models for the runner: ``build_model`` dispatches by ``builder`` to one module per model family.

Extension point: a model is a YAML under ``conf/model/`` with ``name`` and ``builder`` (a key of
``BUILDERS``, e.g. ``builder: small``; a config never imports any other module); that module defines

    build(model_cfg, data: DataBundle) -> torch.nn.Module

(the model maps a batch's inputs to logits; a model may name its classifier with ``head_modules``,
see ``runners.modes``). A new family is one line in ``BUILDERS``; its keys go into a schema of
``runners.schema``.
"""

from __future__ import annotations

import importlib

from torch import nn

from runners.schema import config_error, registered

# builder name -> module (``builder: runners.models.<name>`` is accepted for the same modules)
BUILDERS = {name: f"runners.models.{name}" for name in ("small", "torchvision_cnn", "vit", "text")}
# keys holding layer sizes (an int or a list of ints), each >= 1
_SIZES = ("channels", "hidden", "in_channels", "image_size")


def check_model(model_cfg) -> None:
    """The builder is known and every layer size is >= 1 (``ConfigError`` naming the key)."""
    registered("model.builder", model_cfg.builder, BUILDERS)
    for key in _SIZES:
        value = model_cfg.get(key)
        sizes = [] if value is None else list(value) if not isinstance(value, int | float | str) else [value]
        if (
            isinstance(value, str | float)
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes)
            or (value is not None and not sizes)
        ):
            raise config_error(
                f"model.{key}", f"must be a layer size >= 1 or a non-empty list of them, got {value!r}"
            )
    missing = model_cfg.get("weights_missing")
    if missing is not None and missing not in ("error", "scratch"):
        raise config_error("model.weights_missing", f"must be error or scratch, got {missing!r}")
    lora = model_cfg.get("lora")
    if lora is not None and (lora.r < 1 or not 0 <= lora.dropout < 1):
        raise config_error(
            "model.lora", f"needs r >= 1 and 0 <= dropout < 1, got r={lora.r}, dropout={lora.dropout}"
        )


def build_model(model_cfg, data) -> nn.Module:
    """The ``build`` of the module ``BUILDERS[model_cfg.builder]``."""
    return importlib.import_module(registered("model.builder", model_cfg.builder, BUILDERS)).build(
        model_cfg, data
    )
