"""Vision Transformer through timm (section 5: ViT, ImageNet-pretrained).

``cfg.arch`` is a timm name (default ``vit_base_patch16_224``); the head is reset to the task's
classes and the pretrained head kept frozen as ``model.source_head`` for LEEP. ``tiny=true``: one
block, width 32, patch 8 at ``cfg.image_size``, random weights.
"""

from __future__ import annotations

import copy

from torch import nn

from runners.models.weights import load_or_explain
from runners.schema import ConfigError


def build(cfg, data) -> nn.Module:
    """timm ViT with a ``data.num_classes``-way head at ``cfg.image_size`` pixels."""
    try:
        import timm
    except ImportError:
        raise ConfigError("model=vit needs timm (a core dependency): pip install -e .") from None
    size = int(cfg.image_size)
    if cfg.get("tiny", False):
        return _named(
            timm.create_model(
                cfg.arch,
                pretrained=False,
                num_classes=data.num_classes,
                img_size=size,
                patch_size=8,
                embed_dim=32,
                depth=1,
                num_heads=2,
            ),
            None,
        )
    model = load_or_explain(
        lambda: timm.create_model(cfg.arch, pretrained=bool(cfg.pretrained), img_size=size),
        f"timm {cfg.arch} ImageNet weights",
    )
    source = copy.deepcopy(model.get_classifier()).requires_grad_(False) if cfg.pretrained else None
    model.reset_classifier(data.num_classes)
    return _named(model, source)


def _named(model: nn.Module, source: nn.Module | None) -> nn.Module:
    model.head_modules = ["head"]
    if source is not None:
        model.source_head = source
    return model
