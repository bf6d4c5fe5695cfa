"""Evaluation after an epoch: loss and accuracy (and F1, top-3/5 where the dataset asks) on the test and
validation batches; a schedule-free optimizer is evaluated at its averaged iterate."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from runners.faults import out_of_memory
from runners.step import logits_of, split_batch

BN_BATCHES = 50  # training batches that re-estimate BatchNorm statistics at a schedule-free average


@torch.no_grad()
def evaluate(model, batches, metrics: list[str], num_classes: int, amp_ctx) -> dict:
    """Mean loss, top-1 accuracy (%), and F1 (%) / top-3 / top-5 accuracy when ``metrics`` asks."""
    was_training = model.training
    model.eval()
    loss_sum, n, correct = 0.0, 0, 0
    topk = {k: 0 for k in (3, 5) if f"acc{k}" in metrics and num_classes > k}
    preds, labels = [], []
    for batch in batches:
        inputs, y, is_dict = split_batch(batch)
        with amp_ctx():
            logits = logits_of(model, inputs, is_dict)
        logits = logits.float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        pred = logits.argmax(1)
        correct += (pred == y).sum().item()
        n += len(y)
        for k in topk:
            topk[k] += (logits.topk(k, dim=1).indices == y[:, None]).any(1).sum().item()
        if "f1" in metrics:
            preds.append(pred.cpu())
            labels.append(y.cpu())
    model.train(was_training)
    out = {"loss": loss_sum / max(n, 1), "acc": 100.0 * correct / max(n, 1)}
    for k, c in topk.items():
        out[f"acc{k}"] = 100.0 * c / n
    if "f1" in metrics:
        from sklearn.metrics import f1_score

        average = "binary" if num_classes == 2 else "macro"
        out["f1"] = 100.0 * float(f1_score(torch.cat(labels), torch.cat(preds), average=average))
    return out


@contextlib.contextmanager
def averaged_iterate(optimizer, model, train_batches, amp_ctx):
    """Evaluate a schedule-free optimizer (it has ``eval()``/``train()``) at its averaged iterate ``x``.

    Its authors' usage (Defazio et al. 2024, the ``schedulefree`` README): ``optimizer.eval()`` before an
    evaluation and ``optimizer.train()`` after; a model with BatchNorm first re-estimates its running
    statistics at ``x`` with forward passes in training mode (the first ``BN_BATCHES`` unshuffled training
    batches, no gradients). Any other optimizer: nothing happens.
    """
    if not (hasattr(optimizer, "eval") and hasattr(optimizer, "train")):
        yield
        return
    optimizer.eval()
    try:
        if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            was_training = model.training
            model.train()
            with torch.no_grad():
                for _, batch in zip(range(BN_BATCHES), train_batches, strict=False):
                    inputs, _, is_dict = split_batch(batch)
                    with amp_ctx():
                        logits_of(model, inputs, is_dict)
            model.train(was_training)
        yield
    finally:
        optimizer.train()


def evaluate_epoch(model, optimizer, data, amp_ctx, epoch: int) -> dict:
    """The ``test_*`` (and, with a validation split, ``val_*``) fields of epoch ``epoch``'s metrics (1-based);
    GPU memory running out is ``OutOfMemory`` naming the evaluation."""
    fields = {}
    try:
        with averaged_iterate(optimizer, model, data.train, amp_ctx):
            for split, batches in (("test", data.test), ("val", data.val)):
                if batches is not None:
                    measured = evaluate(model, batches, data.metrics, data.num_classes, amp_ctx)
                    fields.update({f"{split}_{k}": v for k, v in measured.items()})
    except torch.OutOfMemoryError as err:
        raise out_of_memory(err, f"the evaluation after epoch {epoch}") from None
    return fields
