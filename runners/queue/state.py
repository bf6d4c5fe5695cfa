"""A queue's shared state on disk: the plan (one item per run, in order) and each item's outcome and claims.

Every write is atomic (a temporary file renamed into place), so the leader and the workers only ever read
whole files. The state dir lives as long as one ``python -m runners.queue`` command; the runs' own files
live in their run dirs, which is what a rerun resumes from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runners.queue.plan import Item


@dataclass(frozen=True)
class Outcome:
    """How one run ended: ``status`` (complete, diverged or failed), a one-line reason, and when/who."""

    status: str
    reason: str
    seconds: float
    worker: int  # the worker's process id
    started: float  # time.time() when the worker claimed the run
    ended: float


class QueueState:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def write_plan(self, items: list[Item]) -> None:
        for sub in ("outcomes", "claims"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        _write(self.path / "plan.json", json.dumps([dataclasses.asdict(i) for i in items]))

    def items(self) -> list[Item]:
        return [Item(**d) for d in json.loads((self.path / "plan.json").read_text())]

    def finished(self, index: int) -> bool:
        return self._outcome_path(index).is_file()

    def record(self, index: int, outcome: Outcome) -> None:
        _write(self._outcome_path(index), json.dumps(dataclasses.asdict(outcome)))

    def outcomes(self) -> dict[int, Outcome]:
        """Every recorded outcome, by item index."""
        return {
            int(p.stem): Outcome(**json.loads(p.read_text())) for p in (self.path / "outcomes").glob("*.json")
        }

    def count_claim(self, index: int) -> int:
        """Count one more claim of item ``index`` (call while holding its lease); return the count."""
        path = self.path / "claims" / str(index)
        count = int(path.read_text()) + 1 if path.is_file() else 1
        _write(path, str(count))
        return count

    def _outcome_path(self, index: int) -> Path:
        return self.path / "outcomes" / f"{index}.json"


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
