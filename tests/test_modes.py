"""Training modes: what trains and what DOIT compresses (full, head, lora)."""

from __future__ import annotations

import pytest
import torch
from conftest import needs
from omegaconf import OmegaConf
from torch import nn

from runners.modes import apply_mode, head_param_names
from runners.schema import ConfigError


class Net(nn.Module):
    def __init__(self, named_head: bool = True):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.proj = nn.Linear(8, 8)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(8, 3))
        self.source_head = nn.Linear(8, 5).requires_grad_(False)
        if named_head:
            self.head_modules = ["classifier.1"]

    def forward(self, x):
        return self.classifier(self.proj(self.body(x)))


CFG = OmegaConf.create(
    {
        "model": {"lora": {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": ["proj"]}},
        "method": {"state_layers": None},
    }
)
HEAD = ["classifier.1.weight", "classifier.1.bias"]


def test_full_trains_everything_but_the_source_head():
    model = Net()
    info = apply_mode(model, "full", CFG)
    names = [n for n, _ in info.trainable_params]
    assert names == [n for n, _ in model.named_parameters() if not n.startswith("source_head")]
    assert info.state_patterns == HEAD and not model.source_head.weight.requires_grad


def test_head_trains_only_the_head():
    model = Net()
    info = apply_mode(model, "head", CFG)
    assert [n for n, _ in info.trainable_params] == HEAD and info.state_patterns == HEAD
    assert [n for n, p in model.named_parameters() if p.requires_grad] == HEAD


def test_head_defaults_to_last_module_with_parameters():
    assert head_param_names(Net(named_head=False)) == HEAD


def test_lora_trains_adapters_and_head_and_keeps_the_function():
    needs("peft", "nlp")
    torch.manual_seed(0)
    model, x = Net(), torch.randn(5, 4)
    before = model(x)
    info = apply_mode(model, "lora", CFG)
    names = [n for n, _ in info.trainable_params]
    assert names == ["proj.lora_A.default.weight", "proj.lora_B.default.weight"] + HEAD
    assert info.state_patterns == names
    assert not model.proj.base_layer.weight.requires_grad and not model.body[0].weight.requires_grad
    torch.testing.assert_close(model(x), before)  # B starts at zero: LoRA leaves the function unchanged


def test_state_layers_override():
    cfg = OmegaConf.merge(CFG, {"method": {"state_layers": ["proj.*"]}})
    assert apply_mode(Net(), "full", cfg).state_patterns == ["proj.*"]


def test_bad_mode_and_bad_lora_targets_are_one_line():
    with pytest.raises(ConfigError, match="mode='adapter'.*full, head, lora"):
        apply_mode(Net(), "adapter", CFG)
    needs("peft", "nlp")
    cfg = OmegaConf.merge(CFG, {"model": {"lora": {"target_modules": ["nothing_here"]}}})
    with pytest.raises(ConfigError, match="model.lora.target_modules"):
        apply_mode(Net(), "lora", cfg)


def test_lora_on_the_embedded_mlp_adapts_its_hidden_layers():
    needs("peft", "nlp")
    from runners.models.small import SmallMLP

    model = SmallMLP((1, 8, 8), 10)
    info = apply_mode(model, "lora", OmegaConf.create({}))
    names = [n for n, _ in info.trainable_params]
    assert {n.split(".")[0] for n in names if ".lora_" in n} == {"1", "3"}
    assert all(".lora_" in n or n.startswith("fc.") for n in names)
