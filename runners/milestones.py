"""What the loop records after each epoch besides its metrics: the paper's convergence rule (section 5.1:
|change of the epoch training loss| < ``tol`` for ``patience`` consecutive epochs; ``stop`` decides whether
it ends training), the training time to a target test accuracy and the best test accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.record import EpochMetrics
from runners.schema import ConvergenceConfig


@dataclass(frozen=True)
class ConvergenceRule:
    tol: float = ConvergenceConfig.tol
    patience: int = ConvergenceConfig.patience
    stop: bool = ConvergenceConfig.stop


def after_epoch(state, epoch: EpochMetrics, rule: ConvergenceRule, target_acc: float | None) -> None:
    """Update ``state`` (``runners.loop.LoopState``) with ``epoch``, the metrics of the epoch just evaluated
    (not yet in ``state.metrics``), at training time ``state.train_time_s``."""
    previous = state.metrics[-1] if state.metrics else None
    if previous is not None and abs(epoch.train_loss - previous.train_loss) < rule.tol:
        state.stall += 1
    else:
        state.stall = 0
    if state.converged_epoch is None and state.stall >= rule.patience:
        state.converged_epoch, state.converged_time_s = epoch.epoch, state.train_time_s
        state.stopped = rule.stop
    if target_acc is not None and state.time_to_target_s is None and epoch.test_acc >= target_acc:
        state.time_to_target_s = state.train_time_s
    state.best_test_acc = max(state.best_test_acc, epoch.test_acc)
