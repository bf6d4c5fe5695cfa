"""Training modes (paper section 5 / Appendix C): which parameters train and which feed DOIT.

- ``full``: every parameter trains (Tables 1, 3-5, 7-10).
- ``head``: only the classifier head trains (head fine-tuning, Table 6).
- ``lora``: LoRA matrices A and B are injected through ``peft`` and train with the head (Table 2).

DOIT's surrogate input (section 3, "The input of the surrogate model"; ambiguity 5) follows the
mode: the classifier head for ``full`` and ``head``, the LoRA A/B matrices plus the head for
``lora`` ("in the case of partial fine-tuning, IOMT focuses solely on the trainable
parameters"). ``method.state_layers`` overrides these patterns.

A model names its head with a ``head_modules`` attribute (module names, e.g. ``["fc"]``); models
without it (the runner's small CNN/MLP) use their last module that owns parameters. A frozen
``source_head`` (the pre-trained classifier kept for LEEP, see ``runners/transfer.py``) never trains.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from runners.schema import ConfigError, Mode

_SOURCE = "source_head"


@dataclass
class ModeInfo:
    """What trains (``trainable_params``) and what DOIT compresses (``state_patterns``)."""

    trainable_params: list[tuple[str, nn.Parameter]]
    state_patterns: list[str]


def _get(cfg, dotted: str, default=None):
    node = cfg
    for key in dotted.split("."):
        if node is None:
            return default
        node = node.get(key) if hasattr(node, "get") else getattr(node, key, None)
    return default if node is None else node


def head_module_names(model: nn.Module) -> list[str]:
    """Module names of the classifier head (``model.head_modules`` or the last module with params)."""
    names = getattr(model, "head_modules", None)
    if names:
        return list(names)
    last = None
    for mod_name, module in model.named_modules():
        if (
            mod_name
            and not mod_name.startswith(_SOURCE)
            and any(True for _ in module.parameters(recurse=False))
        ):
            last = mod_name
    if last is None:
        raise ConfigError("model: the model has no parameters, so it has no classifier head to train")
    return [last]


def head_param_names(model: nn.Module) -> list[str]:
    """Names of the head's parameters, in model order."""
    modules = head_module_names(model)
    names = [n for n, _ in model.named_parameters() if any(n.startswith(m + ".") for m in modules)]
    if not names:
        raise ConfigError(f"model: head modules {modules} own no parameters; set head_modules on the model")
    return names


def _inject_lora(model: nn.Module, cfg) -> list[str]:
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as err:
        raise ConfigError("mode=lora needs peft: pip install -e '.[nlp]'") from err
    targets = _get(cfg, "model.lora.target_modules") or getattr(model, "lora_targets", None)
    if not targets:
        raise ConfigError(
            "mode=lora: model.lora.target_modules is empty; name the modules LoRA adapts "
            "(e.g. model.lora.target_modules=[query,value])"
        )
    config = LoraConfig(
        r=int(_get(cfg, "model.lora.r", 8)),
        lora_alpha=int(_get(cfg, "model.lora.alpha", 16)),
        lora_dropout=float(_get(cfg, "model.lora.dropout", 0.0)),
        target_modules=list(targets),
        bias="none",
    )
    try:
        inject_adapter_in_model(config, model)
    except ValueError as err:
        raise ConfigError(
            f"mode=lora: model.lora.target_modules={list(targets)} match no module of this "
            "model; name Linear/Conv layers it has"
        ) from err
    return [n for n, _ in model.named_parameters() if ".lora_" in n]


def apply_mode(model: nn.Module, mode: str, cfg) -> ModeInfo:
    """Set ``requires_grad`` for ``mode`` (in place; ``lora`` injects adapters) and report what trains."""
    if mode not in tuple(Mode):
        raise ConfigError(f"mode={mode!r} is not valid; choose one of {', '.join(Mode)}")
    head = head_param_names(model)
    if mode == "full":
        train = {n for n, _ in model.named_parameters() if not n.startswith(_SOURCE + ".")}
        patterns = head
    elif mode == "head":
        train = set(head)
        patterns = head
    else:
        lora = _inject_lora(model, cfg)
        train = set(lora) | set(head)
        patterns = lora + head
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad_(name in train)
        if name in train:
            trainable.append((name, param))
    override = _get(cfg, "method.state_layers")
    if override:
        patterns = [str(p) for p in override]
    return ModeInfo(trainable_params=trainable, state_patterns=patterns)
