"""Progress display: a tqdm bar on a terminal, plain periodic log lines otherwise (``progress`` key)."""

from __future__ import annotations

import logging
import sys
import time

from analysis.record import EpochMetrics

log = logging.getLogger("runners.train")


class Progress:
    """``mode``: auto (bar if stderr is a terminal, else log) | bar | log | off."""

    def __init__(self, mode: str, total_steps: int, done_steps: int = 0, every_s: float = 30.0):
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        self.mode, self.total, self.every_s = mode, total_steps, every_s
        self._next_log = time.monotonic() + every_s
        self._bar = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_steps,
                initial=done_steps,
                unit="step",
                dynamic_ncols=True,
                mininterval=0.5,
                file=sys.stderr,
            )

    def step(self, step: int, epoch: int) -> None:
        """Called after each training step (``step`` done in all, in epoch ``epoch``, 1-based)."""
        if self._bar is not None:
            self._bar.update(1)
        elif self.mode == "log" and time.monotonic() >= self._next_log:
            self._next_log = time.monotonic() + self.every_s
            log.info("epoch %d step %d/%d", epoch, step, self.total)

    def epoch(self, metrics: EpochMetrics, active: str | None) -> None:
        """Called after each epoch's evaluation with its metrics."""
        text = f"train_loss {metrics.train_loss:.4f} test_acc {metrics.test_acc:.2f}" + (
            f" [{active}]" if active else ""
        )
        if self._bar is not None:
            self._bar.set_description(f"epoch {metrics.epoch}")
            self._bar.set_postfix_str(text)
        elif self.mode == "log":
            log.info("epoch %d step %d/%d %s", metrics.epoch, metrics.step, self.total, text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
