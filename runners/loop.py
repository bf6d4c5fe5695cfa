"""The one training loop for every method (full training, head fine-tuning, LoRA).

Per step: forward, cross-entropy, backward, ``optimizer.step`` (DOIT also gets the batch loss before
the update, ``step(loss=...)``), optional scheduler step. Per epoch: evaluation on the test (and
validation) batches, the paper's convergence rule (section 5.1: |change of the epoch training loss|
< ``tol`` for ``patience`` consecutive epochs; ``stop`` decides whether it ends training) and time to a
target test accuracy. Checkpoints: at an epoch end when ``checkpoint_every_s`` seconds passed since the
last one (and always after the last epoch), every ``checkpoint_every_steps`` steps and when
``runners.preemption.requested()``; the loop's state (``state_dict``) records the position inside the
epoch so a resumed run skips exactly the consumed batches and ends bit-for-bit like an uninterrupted one.

Divergence: single, scheduled and hybrid optimizers (and DOIT without its guard) stop at the first
non-finite training loss with ``Diverged`` (its ``step`` found exactly from the recorded per-step losses,
which are checked every ``check_every`` steps, before every checkpoint and at every epoch end, so there is
no host sync per step and no checkpoint or evaluation of a diverged state). DOIT strategies roll a
diverged switch cycle back themselves: the loop calls ``optimizer.guard()`` before every evaluation and
``optimizer.finish()`` once when training ends, before the final evaluation and checkpoint. An epoch's
``train_loss`` is the mean of its finite per-step losses; ``nonfinite_steps`` counts the others.

GPU memory: ``torch.OutOfMemoryError`` in a training step or an evaluation becomes
``runners.faults.OutOfMemory`` naming where; nothing of the failed step is checkpointed (``saved_step`` is
the step of the last checkpoint written).
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from doit.space import label
from runners import preemption
from runners.faults import OutOfMemory


def out_of_memory(err: torch.OutOfMemoryError, where: str) -> OutOfMemory:
    """``OutOfMemory`` naming ``where`` and the size torch tried to allocate."""
    size = re.search(r"Tried to allocate ([\d.]+ \w+)", str(err))
    return OutOfMemory(where, f"tried to allocate {size.group(1)}" if size else "")


class Diverged(RuntimeError):
    """Training stopped at a non-finite loss; ``step`` is the global step (1-based) of the first one."""

    def __init__(self, step: int, loss: float, detail: str = ""):
        self.step, self.loss = int(step), float(loss)
        super().__init__(f"training loss {loss} at step {step}{detail}")


def first_nonfinite(losses: torch.Tensor) -> int | None:
    """Index of the first non-finite value of a 1-d tensor, or None (one host sync)."""
    bad = ~torch.isfinite(losses)
    if not bool(bad.any()):
        return None
    return int(bad.nonzero()[0, 0])


@dataclass
class LoopState:
    """Everything the loop needs to resume (plain values; tensors only in ``epoch_*`` and ``step_losses``)."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches consumed in the current epoch
    step: int = 0  # optimizer steps in all
    train_time_s: float = 0.0  # training steps + evaluation (end-to-end loop time, no checkpoint I/O)
    step_time_s: float = 0.0  # training steps only
    metrics: list = field(default_factory=list)  # one dict per epoch (metrics.jsonl)
    step_losses: list = field(default_factory=list)  # one float32 tensor of per-step losses per epoch
    epoch_losses: list = field(default_factory=list)  # per-step loss tensors of the current epoch
    epoch_correct: list = field(default_factory=list)  # per-step correct counts of the current epoch
    epoch_seen: int = 0
    best_test_acc: float = -math.inf
    stall: int = 0  # consecutive epochs with |loss change| < tol
    converged_epoch: int | None = None
    converged_time_s: float | None = None
    time_to_target_s: float | None = None
    stopped: bool = False  # the convergence rule ended training

    def state_dict(self) -> dict:
        d = asdict(self)
        d["step_losses"] = torch.cat(self.step_losses) if self.step_losses else torch.zeros(0)
        d["epoch_losses"] = torch.stack(self.epoch_losses).cpu() if self.epoch_losses else torch.zeros(0)
        d["epoch_correct"] = torch.stack(self.epoch_correct).cpu() if self.epoch_correct else torch.zeros(0)
        return d

    @classmethod
    def from_state_dict(cls, d: dict, device) -> LoopState:
        d = dict(d)
        d["step_losses"] = [d["step_losses"]] if len(d["step_losses"]) else []
        d["epoch_losses"] = list(d["epoch_losses"].to(device).unbind())
        d["epoch_correct"] = list(d["epoch_correct"].to(device).unbind())
        return cls(**d)


def split_batch(batch):
    """``(inputs, labels, is_dict)`` for an ``(x, y)`` tuple or a dict with ``labels``."""
    if isinstance(batch, dict):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return inputs, batch["labels"], True
    return batch[0], batch[1], False


def logits_of(model, inputs, is_dict: bool) -> torch.Tensor:
    out = model(**inputs) if is_dict else model(inputs)
    return out.logits if hasattr(out, "logits") else out


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


BN_BATCHES = 50  # training batches that re-estimate BatchNorm statistics at a schedule-free average


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


class Trainer:
    """Runs the epochs; ``on_checkpoint()`` persists everything, ``on_epoch(state)`` writes per-epoch files."""

    def __init__(
        self,
        model,
        optimizer,
        scheduler,
        data,
        *,
        epochs: int,
        device,
        is_doit: bool,
        amp: bool = False,
        tol: float = 1e-4,
        patience: int = 10,
        stop: bool = False,
        target_acc: float | None = None,
        checkpoint_every_steps: int = 0,
        checkpoint_every_s: float = 0.0,
        on_checkpoint: Callable[[], None] = lambda: None,
        on_epoch: Callable[[LoopState], None] = lambda s: None,
        progress=None,
        check_every: int = 32,
    ):
        self.model, self.optimizer, self.scheduler, self.data = model, optimizer, scheduler, data
        self.epochs, self.device, self.is_doit = epochs, torch.device(device), is_doit
        self.tol, self.patience, self.stop, self.target_acc = tol, patience, stop, target_acc
        self.every, self.every_s = checkpoint_every_steps, checkpoint_every_s
        self._last_checkpoint = time.perf_counter()
        self.on_checkpoint, self.on_epoch, self.progress = on_checkpoint, on_epoch, progress
        self.amp = bool(amp) and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None
        self.state = LoopState()
        self.saved_step: int | None = None  # the step of the last checkpoint written (None: none yet)
        # DOIT strategies roll diverged cycles back (nan_guard); everything else stops with Diverged
        self.guarded = bool(is_doit and getattr(optimizer, "nan_guard", False))
        self.check_every = max(int(check_every), 1)
        self._checked = 0  # s.epoch_losses[:_checked] are known to be finite

    def amp_ctx(self):
        if self.amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    @property
    def finished(self) -> bool:
        return self.state.stopped or self.state.epoch >= self.epochs

    def state_dict(self) -> dict:
        return {"loop": self.state.state_dict(), "scaler": self.scaler.state_dict() if self.scaler else None}

    def load_state_dict(self, d: dict) -> None:
        self.state = LoopState.from_state_dict(d["loop"], self.device)
        self.saved_step = self.state.step
        self._checked = 0
        if self.scaler is not None and d.get("scaler"):
            self.scaler.load_state_dict(d["scaler"])

    def _checkpoint(self) -> None:
        self.on_checkpoint()
        self.saved_step = self.state.step
        self._last_checkpoint = time.perf_counter()
        if preemption.requested():
            preemption.after_checkpoint()

    def _check_finite(self) -> None:
        """Raise ``Diverged`` at the first non-finite loss of the current epoch not yet checked."""
        s = self.state
        if self.guarded or self._checked >= len(s.epoch_losses):
            return
        i = first_nonfinite(torch.stack(s.epoch_losses[self._checked :]))
        if i is not None:
            k = self._checked + i
            raise Diverged(s.step - len(s.epoch_losses) + k + 1, s.epoch_losses[k].item())
        self._checked = len(s.epoch_losses)

    def _guard(self, last: bool) -> None:
        """DOIT: roll back a diverged open cycle before an evaluation; at the end also close the last cycle."""
        if not last:
            self.optimizer.guard()
            return
        self.optimizer.finish()
        bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:  # the guard must have restored them; never report or checkpoint a NaN model
            losses = torch.cat(
                [*self.state.step_losses, *(t.reshape(1).float().cpu() for t in self.state.epoch_losses)]
            )
            i = first_nonfinite(losses)
            step = i + 1 if i is not None else self.state.step
            raise Diverged(
                step,
                losses[step - 1].item() if i is not None else math.nan,
                f"; parameters {', '.join(bad[:3])} are not finite at the end",
            )

    def run(self) -> LoopState:
        s, sched = self.state, self.scheduler
        self.model.train()
        while not self.finished:
            t_epoch = time.perf_counter()
            for batch in self.data.train.epoch(s.epoch, start=s.batch):
                try:
                    logits, y, loss = self._step(batch)
                except torch.OutOfMemoryError as err:
                    raise out_of_memory(err, f"training step {s.step + 1} (epoch {s.epoch + 1})") from None
                if sched is not None:
                    sched.step()
                s.epoch_losses.append(loss.detach())
                s.epoch_correct.append((logits.detach().argmax(1) == y).sum())
                s.epoch_seen += len(y)
                s.batch += 1
                s.step += 1
                if self.progress is not None:
                    self.progress.step(s.step, s.epoch + 1)
                checkpoint_now = (self.every and s.step % self.every == 0) or preemption.requested()
                if not self.guarded and (
                    checkpoint_now or len(s.epoch_losses) - self._checked >= self.check_every
                ):
                    try:
                        self._check_finite()
                    except Diverged:
                        now = time.perf_counter()
                        s.train_time_s += now - t_epoch
                        s.step_time_s += now - t_epoch
                        raise
                if checkpoint_now:
                    now = time.perf_counter()
                    s.train_time_s += now - t_epoch
                    s.step_time_s += now - t_epoch
                    self._checkpoint()
                    t_epoch = time.perf_counter()
            now = time.perf_counter()
            s.train_time_s += now - t_epoch
            s.step_time_s += now - t_epoch
            self._check_finite()
            self._end_epoch()
            if self.is_doit and s.stopped and s.epoch < self.epochs:
                self._guard(last=True)  # the convergence rule ended training: close DOIT's last cycle
            self.on_epoch(s)
            if self.finished or time.perf_counter() - self._last_checkpoint >= self.every_s:
                self._checkpoint()
        return s

    def _step(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimizer step on ``batch``: ``(logits, labels, loss)``."""
        model, opt = self.model, self.optimizer
        inputs, y, is_dict = split_batch(batch)
        with self.amp_ctx():
            logits = logits_of(model, inputs, is_dict)
            loss = F.cross_entropy(logits, y)
        kw = {"loss": loss.detach()} if self.is_doit else {}
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt, **kw)
            self.scaler.update()
        else:
            loss.backward()
            opt.step(**kw)
        opt.zero_grad(set_to_none=True)
        return logits, y, loss

    def _end_epoch(self) -> None:
        s = self.state
        t0 = time.perf_counter()
        if self.is_doit:
            self._guard(last=s.epoch + 1 >= self.epochs)
        losses = torch.stack(s.epoch_losses).float().cpu()
        finite = torch.isfinite(losses)
        n_finite = int(finite.sum())
        row = {
            "epoch": s.epoch + 1,
            "step": s.step,
            "time_s": 0.0,
            "train_loss": losses[finite].double().mean().item() if n_finite else math.nan,
            "nonfinite_steps": len(losses) - n_finite,
            "train_acc": 100.0 * torch.stack(s.epoch_correct).sum().item() / max(s.epoch_seen, 1),
        }
        data = self.data
        try:
            with averaged_iterate(self.optimizer, self.model, data.train, self.amp_ctx):
                test = evaluate(self.model, data.test, data.metrics, data.num_classes, self.amp_ctx)
                row.update({f"test_{k}": v for k, v in test.items()})
                if data.val is not None:
                    val = evaluate(self.model, data.val, data.metrics, data.num_classes, self.amp_ctx)
                    row.update({f"val_{k}": v for k, v in val.items()})
        except torch.OutOfMemoryError as err:
            raise out_of_memory(err, f"the evaluation after epoch {s.epoch + 1}") from None
        if self.is_doit:
            row["optimizer"] = label(self.optimizer.current) if self.optimizer.current else None
        s.train_time_s += time.perf_counter() - t0
        row["time_s"] = s.train_time_s
        if s.metrics and abs(row["train_loss"] - s.metrics[-1]["train_loss"]) < self.tol:
            s.stall += 1
        else:
            s.stall = 0
        if s.converged_epoch is None and s.stall >= self.patience:
            s.converged_epoch, s.converged_time_s = row["epoch"], s.train_time_s
            s.stopped = self.stop
        if self.target_acc is not None and s.time_to_target_s is None and row["test_acc"] >= self.target_acc:
            s.time_to_target_s = s.train_time_s
        s.best_test_acc = max(s.best_test_acc, row["test_acc"])
        s.metrics.append(row)
        s.step_losses.append(losses)
        s.epoch_losses, s.epoch_correct, s.epoch_seen = [], [], 0
        self._checked = 0
        s.epoch += 1
        s.batch = 0
        if self.progress is not None:
            self.progress.epoch(row, row.get("optimizer"))
