"""Pre-trained text encoders/decoders from HuggingFace as sentence-pair classifiers (RoBERTa, LLaMA-7B).

``TextClassifier(input_ids=..., attention_mask=...)`` (a text batch without its labels) returns logits:
the backbone's last hidden states are pooled (``cfg.pool``: ``first`` token for encoders such as
RoBERTa, ``last`` non-padding token for decoders such as LLaMA, ``mean`` for sentence-transformers)
and a new linear ``head`` maps them to the task's classes. LoRA adapters are injected by
``runners.modes`` (mode=lora, ``cfg.lora.target_modules``). A checkpoint that already is a sequence
classifier (the paper's TweetEval-sentiment RoBERTa) keeps its classifier frozen as ``source_head``
for LEEP. ``tiny=true``: a random one-layer model of the same family for tests.
"""

from __future__ import annotations

import torch
from torch import nn

from runners.models.weights import load_or_explain
from runners.schema import ConfigError


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConfigError("text models need the nlp extra: pip install -e '.[nlp]'") from None
    return transformers


def load_tokenizer(cfg):
    """The tokenizer of ``cfg.tokenizer`` (default ``cfg.hf_name``), with a pad token."""
    name = cfg.get("tokenizer") or cfg.hf_name
    tok = load_or_explain(
        lambda: _transformers().AutoTokenizer.from_pretrained(name), f"the tokenizer {name}"
    )
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


class _FirstTokenHead(nn.Module):
    """A HF classification head that reads ``features[:, 0]`` applied to already pooled features."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        out = self.head(pooled[:, None, :])
        return out[:, 0] if out.ndim == 3 else out


class TextClassifier(nn.Module):
    """Backbone + pooling + linear head; ``forward(input_ids, attention_mask) -> logits``."""

    def __init__(
        self,
        backbone: nn.Module,
        hidden: int,
        num_classes: int,
        pool: str,
        source_head: nn.Module | None = None,
    ):
        super().__init__()
        if pool not in ("first", "last", "mean"):
            raise ConfigError(f"model.pool={pool!r} is not valid; choose first, last or mean")
        self.backbone, self.pool = backbone, pool
        self.head = nn.Linear(hidden, num_classes)
        self.head_modules = ["head"]
        if source_head is not None:
            self.source_head = source_head.requires_grad_(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_) -> torch.Tensor:
        mask = attention_mask
        hidden = self.backbone(input_ids=input_ids, attention_mask=mask).last_hidden_state
        if self.pool == "first":
            pooled = hidden[:, 0]
        elif self.pool == "last":
            pooled = hidden[torch.arange(len(hidden), device=hidden.device), mask.sum(1).long() - 1]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.head(pooled.float())


def _tiny_backbone(cfg, tok) -> nn.Module:
    tf = _transformers()
    common = dict(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=tok.pad_token_id,
    )
    if cfg.arch == "llama":
        return tf.LlamaModel(tf.LlamaConfig(num_key_value_heads=2, max_position_embeddings=256, **common))
    return tf.AutoModel.from_config(tf.AutoConfig.for_model(cfg.arch, max_position_embeddings=260, **common))


def build(cfg, data) -> nn.Module:
    """``cfg.hf_name`` (or a tiny random ``cfg.arch``) with a ``data.num_classes``-way head."""
    tf = _transformers()
    tok = load_tokenizer(cfg)
    if cfg.get("tiny", False) or not cfg.pretrained:
        if not cfg.get("tiny", False):
            config = load_or_explain(
                lambda: tf.AutoConfig.from_pretrained(cfg.hf_name), f"the config of {cfg.hf_name}"
            )
            backbone = tf.AutoModel.from_config(config)
        else:
            backbone = _tiny_backbone(cfg, tok)
        source = None
    else:
        dtype = getattr(torch, cfg.get("dtype") or "float32")
        config = load_or_explain(
            lambda: tf.AutoConfig.from_pretrained(cfg.hf_name), f"the config of {cfg.hf_name}"
        )
        if any(a.endswith("ForSequenceClassification") for a in (config.architectures or [])):
            full = load_or_explain(
                lambda: tf.AutoModelForSequenceClassification.from_pretrained(cfg.hf_name, dtype=dtype),
                f"the weights of {cfg.hf_name}",
            )
            backbone = full.base_model
            source = _FirstTokenHead(full.classifier) if hasattr(full, "classifier") else None
        else:
            backbone = load_or_explain(
                lambda: tf.AutoModel.from_pretrained(cfg.hf_name, dtype=dtype),
                f"the weights of {cfg.hf_name}",
            )
            source = None
    return TextClassifier(backbone, backbone.config.hidden_size, data.num_classes, cfg.pool, source)
