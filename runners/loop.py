"""The one training loop for every method (full training, head fine-tuning, LoRA): ``Trainer``.

Per step: one optimizer step (``runners.step``), optional scheduler step. Per epoch: evaluation on the test
(and validation) batches (``runners.evaluation``), the epoch's ``analysis.record.EpochMetrics``, the
convergence rule and time to target (``runners.milestones``). Checkpoints when ``runners.checkpoint.Schedule``
says so; the loop's state (``state_dict``) records the position inside the epoch so a resumed run skips
exactly the consumed batches and ends bit-for-bit like an uninterrupted one.

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

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from analysis.record import EpochMetrics
from doit.space import label
from runners.checkpoint import Schedule
from runners.evaluation import evaluate_epoch
from runners.faults import out_of_memory
from runners.milestones import ConvergenceRule, after_epoch
from runners.step import StepRunner


class Diverged(RuntimeError):
    """Training stopped at a non-finite loss; ``step`` is the global step (1-based) of the first one."""

    def __init__(self, step: int, loss: float, detail: str = ""):
        self.step, self.loss = int(step), float(loss)
        super().__init__(f"training loss {loss} at step {step}{detail}")


def first_nonfinite(losses: torch.Tensor) -> int | None:
    """Index of the first non-finite value of a 1-d tensor, or None (one host sync)."""
    nonfinite = ~torch.isfinite(losses)
    if not bool(nonfinite.any()):
        return None
    return int(nonfinite.nonzero()[0, 0])


@dataclass
class LoopState:
    """Everything the loop needs to resume (plain values; tensors only in ``epoch_*`` and ``step_losses``)."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches consumed in the current epoch
    step: int = 0  # optimizer steps in all
    train_time_s: float = 0.0  # training steps + evaluation (end-to-end loop time, no checkpoint I/O)
    step_time_s: float = 0.0  # training steps only
    metrics: list[EpochMetrics] = field(default_factory=list)  # one per epoch (metrics.jsonl)
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
        d = asdict(self)  # the metrics as plain dicts
        d["step_losses"] = torch.cat(self.step_losses) if self.step_losses else torch.zeros(0)
        d["epoch_losses"] = torch.stack(self.epoch_losses).cpu() if self.epoch_losses else torch.zeros(0)
        d["epoch_correct"] = torch.stack(self.epoch_correct).cpu() if self.epoch_correct else torch.zeros(0)
        return d

    @classmethod
    def from_state_dict(cls, d: dict, device) -> LoopState:
        d = dict(d)
        d["metrics"] = [EpochMetrics(**m) for m in d["metrics"]]
        d["step_losses"] = [d["step_losses"]] if len(d["step_losses"]) else []
        d["epoch_losses"] = list(d["epoch_losses"].to(device).unbind())
        d["epoch_correct"] = list(d["epoch_correct"].to(device).unbind())
        return cls(**d)


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
        tol: float = ConvergenceRule.tol,
        patience: int = ConvergenceRule.patience,
        stop: bool = ConvergenceRule.stop,
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
        self.convergence, self.target_acc = ConvergenceRule(tol, patience, stop), target_acc
        self.checkpoints = Schedule(checkpoint_every_steps, checkpoint_every_s)
        self.on_checkpoint, self.on_epoch, self.progress = on_checkpoint, on_epoch, progress
        self.steps = StepRunner(model, optimizer, self.device, amp, pass_loss=is_doit)
        self.state = LoopState()
        self.saved_step: int | None = None  # the step of the last checkpoint written (None: none yet)
        # DOIT strategies roll diverged cycles back (nan_guard); everything else stops with Diverged
        self.guarded = bool(is_doit and getattr(optimizer, "nan_guard", False))
        self.check_every = max(int(check_every), 1)
        self._checked = 0  # s.epoch_losses[:_checked] are known to be finite

    @property
    def finished(self) -> bool:
        return self.state.stopped or self.state.epoch >= self.epochs

    def state_dict(self) -> dict:
        return {"loop": self.state.state_dict(), "scaler": self.steps.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.state = LoopState.from_state_dict(d["loop"], self.device)
        self.saved_step = self.state.step
        self._checked = 0
        self.steps.load_state_dict(d.get("scaler"))

    def _checkpoint(self) -> None:
        self.on_checkpoint()
        self.saved_step = self.state.step
        self.checkpoints.written()

    def _add_step_time(self, since: float) -> float:
        """Count the training steps since ``since`` (a ``perf_counter`` reading); return the time now."""
        now = time.perf_counter()
        self.state.train_time_s += now - since
        self.state.step_time_s += now - since
        return now

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
        nonfinite = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        if nonfinite:  # the guard must have restored them; never report or checkpoint a NaN model
            losses = torch.cat(
                [*self.state.step_losses, *(t.reshape(1).float().cpu() for t in self.state.epoch_losses)]
            )
            i = first_nonfinite(losses)
            step = i + 1 if i is not None else self.state.step
            raise Diverged(
                step,
                losses[step - 1].item() if i is not None else math.nan,
                f"; parameters {', '.join(nonfinite[:3])} are not finite at the end",
            )

    def run(self) -> LoopState:
        s = self.state
        self.model.train()
        while not self.finished:
            since = time.perf_counter()
            for batch in self.data.train.epoch(s.epoch, start=s.batch):
                self._train_on(batch)
                checkpoint_now = self.checkpoints.due_at_step(s.step)
                if not self.guarded and (
                    checkpoint_now or len(s.epoch_losses) - self._checked >= self.check_every
                ):
                    try:
                        self._check_finite()
                    except Diverged:
                        self._add_step_time(since)
                        raise
                if checkpoint_now:
                    self._add_step_time(since)
                    self._checkpoint()
                    since = time.perf_counter()
            self._add_step_time(since)
            self._check_finite()
            self._end_epoch()
            if self.is_doit and s.stopped and s.epoch < self.epochs:
                self._guard(last=True)  # the convergence rule ended training: close DOIT's last cycle
            self.on_epoch(s)
            if self.checkpoints.due_at_epoch_end(self.finished):
                self._checkpoint()
        return s

    def _train_on(self, batch) -> None:
        """One training step on ``batch`` and its bookkeeping (loss, correct count, position, progress)."""
        s = self.state
        try:
            logits, y, loss = self._step(batch)
        except torch.OutOfMemoryError as err:
            raise out_of_memory(err, f"training step {s.step + 1} (epoch {s.epoch + 1})") from None
        if self.scheduler is not None:
            self.scheduler.step()
        s.epoch_losses.append(loss.detach())
        s.epoch_correct.append((logits.detach().argmax(1) == y).sum())
        s.epoch_seen += len(y)
        s.batch += 1
        s.step += 1
        if self.progress is not None:
            self.progress.step(s.step, s.epoch + 1)

    def _step(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimizer step on ``batch``: ``(logits, labels, loss)`` (``runners.step.StepRunner``)."""
        return self.steps(batch)

    def _end_epoch(self) -> None:
        """Evaluate the epoch just trained, record its metrics and milestones, start the next epoch."""
        s = self.state
        t0 = time.perf_counter()
        if self.is_doit:
            self._guard(last=s.epoch + 1 >= self.epochs)
        losses = torch.stack(s.epoch_losses).float().cpu()
        finite = torch.isfinite(losses)
        n_finite = int(finite.sum())
        evaluated = evaluate_epoch(self.model, self.optimizer, self.data, self.steps.autocast, s.epoch + 1)
        active = self.optimizer.current if self.is_doit else None
        s.train_time_s += time.perf_counter() - t0
        epoch = EpochMetrics(
            epoch=s.epoch + 1,
            step=s.step,
            time_s=s.train_time_s,
            train_loss=losses[finite].double().mean().item() if n_finite else math.nan,
            nonfinite_steps=len(losses) - n_finite,
            train_acc=100.0 * torch.stack(s.epoch_correct).sum().item() / max(s.epoch_seen, 1),
            **evaluated,
            optimizer=label(active) if active else None,
        )
        after_epoch(s, epoch, self.convergence, self.target_acc)
        s.metrics.append(epoch)
        s.step_losses.append(losses)
        s.epoch_losses, s.epoch_correct, s.epoch_seen = [], [], 0
        self._checked = 0
        s.epoch += 1
        s.batch = 0
        if self.progress is not None:
            self.progress.epoch(epoch, epoch.optimizer)
