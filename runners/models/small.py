"""Small models for the embedded digits runs: a two-conv CNN and an MLP (any image input shape).

``pretrained=true``: the same architecture pre-trained on the digits ``source_classes``
(``runners.models.digits_pretrain``; resized to the task's image size, e.g. 28x28 for MNIST); its classifier becomes the frozen ``source_head`` (for LEEP)
and a fresh ``fc`` is trained for the task, as the paper's ImageNet models.
"""

from __future__ import annotations

import math

from torch import nn

from runners.schema import config_error

ARCHS = ("cnn", "mlp")


class _Net(nn.Sequential):
    """The layers in order; a pre-trained model's frozen ``source_head`` (LEEP's input) is not one of them."""

    def forward(self, x):
        for name, module in self._modules.items():
            if name != "source_head":
                x = module(x)
        return x


class SmallCNN(_Net):
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


class SmallMLP(_Net):
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


def _factory(model_cfg, input_shape):
    """``num_classes -> model`` for ``model_cfg.arch``."""
    arch = model_cfg.get("arch", model_cfg.get("name"))
    if arch == "cnn":
        return lambda k: SmallCNN(input_shape, k, tuple(model_cfg.channels), int(model_cfg.hidden))
    if arch == "mlp":
        return lambda k: SmallMLP(input_shape, k, tuple(model_cfg.hidden))
    raise config_error("model.arch", f"unknown architecture {arch!r}", ARCHS)


def build(model_cfg, data) -> nn.Module:
    if data.task != "image" or len(data.input_shape) != 3:
        raise config_error(
            "model",
            f"model={model_cfg.get('name')} needs (C, H, W) images, "
            f"got task={data.task} input_shape={tuple(data.input_shape)}",
        )
    make = _factory(model_cfg, tuple(data.input_shape))
    if not model_cfg.get("pretrained", False):
        return make(data.num_classes)
    if data.input_shape[0] != 1:
        raise config_error(
            "model.pretrained", "the small models are pre-trained on grey digits; use a grey dataset"
        )
    from runners.models.digits_pretrain import pretrained

    key = {
        "arch": model_cfg.get("arch"),
        "channels": list(model_cfg.get("channels") or []),
        "hidden": model_cfg.get("hidden")
        if isinstance(model_cfg.get("hidden"), int)
        else list(model_cfg.hidden),
    }
    size = tuple(data.input_shape[1:])
    model = pretrained(
        make, key, list(model_cfg.source_classes), int(model_cfg.pretrain_epochs), 0.2, 0, size
    )
    model.source_head = model.fc.requires_grad_(False)
    model.fc = nn.Linear(model.source_head.in_features, data.num_classes)
    return model
