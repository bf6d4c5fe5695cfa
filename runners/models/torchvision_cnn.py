"""ImageNet-pretrained torchvision CNNs of the paper (section 5): ResNet18, ResNet152, MobileNet V2.

The ImageNet classifier is replaced by a fresh one for the task (``model.head_modules`` names it);
with ``pretrained=true`` the original 1,000-class classifier is kept frozen as ``model.source_head``
for LEEP (``runners/transfer.py``). ``tiny=true`` builds a small random network of the same family
(ResNet with one block per stage, MobileNet V2 at width 0.25) for tests.
"""

from __future__ import annotations

from torch import nn
from torchvision import models
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from runners.models.weights import load_or_explain

ARCHS = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, "fc"),
    "resnet152": (models.resnet152, models.ResNet152_Weights.IMAGENET1K_V1, "fc"),
    "mobilenet_v2": (models.mobilenet_v2, models.MobileNet_V2_Weights.IMAGENET1K_V1, "classifier.1"),
}


def _tiny(arch: str) -> nn.Module:
    if arch == "resnet18":
        return ResNet(BasicBlock, [1, 1, 1, 1])
    if arch == "resnet152":
        return ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=16)
    return models.mobilenet_v2(width_mult=0.25)


def build(cfg, data) -> nn.Module:
    """``cfg.arch`` with a new ``data.num_classes``-way head; ImageNet weights if ``cfg.pretrained``."""
    factory, weights, head = ARCHS[cfg.arch]
    if cfg.get("tiny", False):
        model = _tiny(cfg.arch)
    elif cfg.pretrained:
        model = load_or_explain(
            lambda: factory(weights=weights), f"{cfg.arch} ImageNet weights ({weights.url})"
        )
    else:
        model = factory(weights=None)
    old = model.get_submodule(head)
    parent, _, leaf = head.rpartition(".")
    setattr(
        model.get_submodule(parent) if parent else model, leaf, nn.Linear(old.in_features, data.num_classes)
    )
    if cfg.pretrained and not cfg.get("tiny", False):
        model.source_head = old.requires_grad_(False)
    model.head_modules = [head]
    return model
