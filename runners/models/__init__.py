"""Models for the runner: ``build_model`` dispatches by name to one module per model family.

Extension point: a model is a YAML under ``conf/model/`` with ``name`` and ``builder`` (a module path,
e.g. ``builder: runners.models.small``); that module defines

    build(model_cfg, data: DataBundle) -> torch.nn.Module

(the model maps a batch's inputs to logits; a model may name its classifier with ``head_modules``,
see ``runners.modes``). Nothing here needs editing to add a family.
"""

from __future__ import annotations

from torch import nn

from runners.schema import import_named


def build_model(model_cfg, data) -> nn.Module:
    """Import ``model_cfg.builder`` and call its ``build``."""
    module = import_named("model.builder", model_cfg.get("builder"), "runners.models.small")
    return module.build(model_cfg, data)
