"""ImageNet-pretrained torchvision CNNs of the paper (section 5): ResNet18, ResNet152, MobileNet V2.

The ImageNet classifier is replaced by a fresh one for the task (``model.head_modules`` names it);
with ``pretrained=true`` the original 1,000-class classifier is kept frozen as ``model.source_head``
for LEEP (``runners/transfer.py``). ``weights_missing=scratch`` trains from random weights, with one
line, when the ImageNet weights are not in torch's cache (``model.weights_loaded`` says which ran). ``tiny=true`` builds a small random network of the same family
(ResNet with one block per stage, MobileNet V2 at width 0.25) for tests.
"""

from __future__ import annotations

from torch import nn
from torchvision import models
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from runners.models.weights import load_or_explain, use_cached

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
    what = f"{cfg.arch} ImageNet weights ({weights.url})"
    tiny = cfg.get("tiny", False)
    pretrained = bool(cfg.pretrained) and not (
        not tiny and cfg.get("weights_missing") == "scratch" and not use_cached(weights.url, what)
    )
    if tiny:
        model = _tiny(cfg.arch)
    elif pretrained:
        model = load_or_explain(lambda: factory(weights=weights), what)
    else:
        model = factory(weights=None)
    old = model.get_submodule(head)
    parent, _, leaf = head.rpartition(".")
    setattr(
        model.get_submodule(parent) if parent else model, leaf, nn.Linear(old.in_features, data.num_classes)
    )
    if pretrained and not tiny:
        model.source_head = old.requires_grad_(False)
    model.head_modules = [head]
    model.weights_loaded = pretrained and not tiny
    return model
