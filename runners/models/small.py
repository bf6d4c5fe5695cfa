"""Small models for the embedded digits runs: a two-conv CNN and an MLP (any image input shape)."""

from __future__ import annotations

import math

from torch import nn

from runners.schema import bad

ARCHS = ("cnn", "mlp")


class SmallCNN(nn.Sequential):
    """conv-relu x len(channels), one 2x2 max-pool, then a hidden linear layer and the classifier ``fc``."""

    def __init__(self, input_shape, num_classes: int, channels=(16, 32), hidden: int = 64):
        c, h, w = input_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU()]
            c = out
        layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c * (h // 2) * (w // 2), hidden), nn.ReLU()]
        super().__init__(*layers)
        self.fc = nn.Linear(hidden, num_classes)
        self.head_modules = ["fc"]


class SmallMLP(nn.Sequential):
    """Flatten, linear-relu per ``hidden`` width, then the classifier ``fc``."""

    def __init__(self, input_shape, num_classes: int, hidden=(128, 64)):
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for out in hidden:
            layers += [nn.Linear(width, out), nn.ReLU()]
            width = out
        super().__init__(*layers)
        self.fc = nn.Linear(width, num_classes)
        self.head_modules = ["fc"]
        self.lora_targets = [str(i) for i, m in enumerate(layers) if isinstance(m, nn.Linear)]  # mode=lora


def build(model_cfg, data) -> nn.Module:
    arch = model_cfg.get("arch", model_cfg.get("name"))
    if data.task != "image" or len(data.input_shape) != 3:
        raise bad("model", f"model={model_cfg.get('name')} needs (C, H, W) images, "
                  f"got task={data.task} input_shape={tuple(data.input_shape)}")
    if arch == "cnn":
        return SmallCNN(data.input_shape, data.num_classes, tuple(model_cfg.channels), int(model_cfg.hidden))
    if arch == "mlp":
        return SmallMLP(data.input_shape, data.num_classes, tuple(model_cfg.hidden))
    raise bad("model.arch", f"unknown architecture {arch!r}", ARCHS)
