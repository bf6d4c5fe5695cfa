"""Models for the runner: ``build_model`` dispatches by name to one module per model family.

Extension point: a model is a YAML under ``conf/model/`` with ``name`` and ``builder`` (a module path,
e.g. ``builder: runners.models.small``); that module defines

    build(model_cfg, data: DataBundle) -> torch.nn.Module

(the model maps a batch's inputs to logits; a model may name its classifier with ``head_modules``,
see ``runners.modes``). Nothing here needs editing to add a family.
"""

from __future__ import annotations

import importlib

from torch import nn

from runners.schema import bad


def build_model(model_cfg, data) -> nn.Module:
    """Import ``model_cfg.builder`` and call its ``build``."""
    builder = model_cfg.get("builder")
    if not builder:
        raise bad("model.builder", "missing; name the module that builds this model "
                  "(e.g. builder: runners.models.small)")
    try:
        module = importlib.import_module(builder)
    except ModuleNotFoundError as err:
        raise bad("model.builder", f"cannot import {builder!r} ({err})") from None
    return module.build(model_cfg, data)
