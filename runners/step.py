"""One optimizer step on a batch: forward, cross-entropy, backward, ``optimizer.step`` (mixed precision with
a ``GradScaler`` on CUDA when ``amp``; DOIT strategies also get the batch loss before the update,
``step(loss=...)``)."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


def split_batch(batch):
    """``(inputs, labels, is_dict)`` for an ``(x, y)`` tuple or a dict with ``labels``."""
    if isinstance(batch, dict):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return inputs, batch["labels"], True
    return batch[0], batch[1], False


def logits_of(model, inputs, is_dict: bool) -> torch.Tensor:
    out = model(**inputs) if is_dict else model(inputs)
    return out.logits if hasattr(out, "logits") else out


class StepRunner:
    """Runs training steps of ``model`` with ``optimizer``; ``amp`` takes effect on CUDA only."""

    def __init__(self, model, optimizer, device: torch.device, amp: bool, pass_loss: bool):
        self.model, self.optimizer, self.pass_loss = model, optimizer, pass_loss
        self.amp = bool(amp) and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None

    def autocast(self):
        """The forward pass's precision context (float16 autocast under ``amp``)."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def __call__(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimizer step on ``batch``: ``(logits, labels, loss)``."""
        model, opt = self.model, self.optimizer
        inputs, y, is_dict = split_batch(batch)
        with self.autocast():
            logits = logits_of(model, inputs, is_dict)
            loss = F.cross_entropy(logits, y)
        kw = {"loss": loss.detach()} if self.pass_loss else {}
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt, **kw)
            self.scaler.update()
        else:
            loss.backward()
            opt.step(**kw)
        opt.zero_grad(set_to_none=True)
        return logits, y, loss

    def state_dict(self) -> dict | None:
        return self.scaler.state_dict() if self.scaler else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
