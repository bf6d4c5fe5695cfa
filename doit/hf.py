"""DOIT under Hugging Face ``transformers.Trainer``.

DOIT needs the loss of each optimizer step (eq. 2), but ``Trainer`` calls ``optimizer.step()`` with no
arguments. ``DOITTrainer`` is a ``Trainer`` whose ``training_step`` adds up the (already
accumulation-scaled) micro-batch losses of one optimizer step and hands the sum to ``DOIT.observe``
just before ``Trainer`` calls ``optimizer.step()``. With ``gradient_accumulation_steps=k`` the sum of
the ``k`` micro-batch losses is the loss of the whole effective batch, so DOIT sees one loss per
update, as in a plain loop::

    from doit import DOIT
    from doit.hf import DOITTrainer

    opt = DOIT([p for p in model.parameters() if p.requires_grad], space=..., tau=25, n_ini=20)
    trainer = DOITTrainer(model=model, args=TrainingArguments(..., lr_scheduler_type="constant"),
                          train_dataset=train, optimizers=(opt, None))
    trainer.train()

or let the trainer build DOIT over the model's trainable parameters (after it has moved the model to
its device): ``DOITTrainer(..., doit_kwargs={"space": ..., "tau": 25})``.

The ``lr`` of DOIT's parameter groups multiplies every candidate's learning rate; ``Trainer``'s
scheduler (``lr_scheduler_type``, default ``"linear"``, decaying to 0) acts on that multiplier, and
``TrainingArguments.learning_rate`` is not used. Use ``lr_scheduler_type="constant"`` to train with
the candidates' own learning rates. With any other optimizer ``DOITTrainer`` behaves as ``Trainer``.

This module imports ``transformers`` (and ``Trainer`` needs ``accelerate``); ``import doit`` does not.
"""

from __future__ import annotations

import torch

try:
    from transformers import Trainer, TrainerCallback
    from transformers.utils import is_accelerate_available
except ImportError as err:  # pragma: no cover - exercised only without transformers
    raise ImportError("doit.hf needs transformers: pip install 'transformers>=4.40'") from err

from doit.controller import DOIT

__all__ = ["DOITTrainer", "unwrap_doit"]


def unwrap_doit(optimizer) -> DOIT | None:
    """The ``DOIT`` inside ``optimizer`` (accelerate's ``AcceleratedOptimizer`` wraps it), else None."""
    seen = 0
    while optimizer is not None and seen < 8:
        if isinstance(optimizer, DOIT):
            return optimizer
        optimizer, seen = getattr(optimizer, "optimizer", None), seen + 1
    return None


class _ObserveBeforeStep(TrainerCallback):
    """Hands the accumulated loss of the optimizer step to ``DOIT.observe`` right before the step."""

    def __init__(self, trainer: DOITTrainer):
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.trainer._observe_pending()


class DOITTrainer(Trainer):
    """``transformers.Trainer`` that feeds DOIT the training loss of every optimizer step.

    ``doit_kwargs``: when given and no optimizer is passed, ``create_optimizer`` builds
    ``DOIT(trainable parameters, **doit_kwargs)``.
    """

    def __init__(self, *args, doit_kwargs: dict | None = None, **kwargs):
        if not is_accelerate_available():
            raise ImportError(
                "doit.hf.DOITTrainer needs accelerate, as transformers' Trainer does (a core dependency of "
                "this package): pip install -e . (or pip install 'accelerate>=1.1')"
            )
        super().__init__(*args, **kwargs)
        self.doit_kwargs = dict(doit_kwargs) if doit_kwargs else None
        self._doit_loss: torch.Tensor | None = None
        self.add_callback(_ObserveBeforeStep(self))

    @property
    def doit(self) -> DOIT | None:
        """The DOIT optimizer being trained with (None before training starts or for other optimizers)."""
        return unwrap_doit(self.optimizer)

    def create_optimizer(self, model=None):
        if self.optimizer is None and self.doit_kwargs is not None:
            opt_model = self.model if model is None else model
            params = [p for p in opt_model.parameters() if p.requires_grad]
            self.optimizer = DOIT(params, **self.doit_kwargs)
            return self.optimizer
        return super().create_optimizer(model)

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        step_loss = loss.detach().float().reshape(())
        self._doit_loss = step_loss if self._doit_loss is None else self._doit_loss + step_loss
        return loss

    def _observe_pending(self) -> None:
        loss, self._doit_loss = self._doit_loss, None
        opt = self.doit
        if opt is not None and loss is not None:
            opt.observe(loss)
