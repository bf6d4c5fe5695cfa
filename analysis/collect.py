"""Find and load run results (``result.json``, docs/architecture.md) under a results root.

Every run directory becomes one flat row; corrupted, partial (``status != "complete"``), foreign
(no/other ``schema``) and duplicate files are listed with a reason and skipped, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SCHEMA = 1
RUN_KEYS = ("experiment", "scale", "dataset", "model", "mode", "method", "optimizer", "lr", "space",
            "ablation", "variant", "seed", "tau", "n_ini", "n_components", "compression", "epochs",
            "batch_size")
METRIC_KEYS = ("final_test_acc", "best_test_acc", "final_train_acc", "final_train_loss", "test_f1",
               "test_acc3", "test_acc5", "val_acc")
TIMING_KEYS = ("train_time_s", "wall_time_s", "transfer_time_s", "controller_time_s", "converged_epoch",
               "converged_time_s", "target_acc", "time_to_target_s", "epochs_run", "steps")
# Identity of one run inside a table; a second complete result with the same identity is a duplicate.
IDENTITY = ("experiment", "scale", "dataset", "model", "mode", "method", "optimizer", "lr", "space_name",
            "ablation", "variant", "seed", "tau", "n_ini", "n_components", "compression", "initial",
            "schedule", "scheduler")


@dataclass
class Collection:
    """Loaded runs (one row per run) and the files that were skipped, with the reason."""

    runs: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)


# torch defaults of the hyperparameters that candidate spaces vary (Figure 11), for null entries.
_DEFAULTS = {"momentum": 0.0, "weight_decay": 0.0, "alpha": 0.99}


def hyper_of(optimizer: str | None, method_cfg: dict) -> dict:
    """A single-optimizer run's lr and space hyperparameters, nulls replaced by the torch defaults."""
    given = dict(method_cfg.get("hyper") or {})
    out = {k: given.get(k) if given.get(k) is not None else v for k, v in _DEFAULTS.items()}
    if optimizer == "sgdm" and given.get("momentum") is None:
        out["momentum"] = 0.9
    out["lr"] = method_cfg.get("lr")
    return out


def _flatten(result: dict, path: Path) -> dict:
    run, metrics, timing = result["run"], result.get("metrics") or {}, result.get("timing") or {}
    config = result.get("config") or {}
    method_cfg = config.get("method") or {}
    space_cfg = config.get("space") or {}
    doit = result.get("doit") or {}
    row = {key: run.get(key) for key in RUN_KEYS}
    row.update({key: metrics.get(key) for key in METRIC_KEYS})
    row.update({key: timing.get(key) for key in TIMING_KEYS})
    switching = run.get("method") in ("doit", "random", "cyclical")
    row["initial"] = method_cfg.get("initial") if switching else None
    row["schedule"] = method_cfg.get("schedule") if switching else None
    row["scheduler"] = (method_cfg.get("scheduler") or {}).get("kind") if isinstance(
        method_cfg.get("scheduler"), dict) else method_cfg.get("scheduler")
    row["space_name"] = space_cfg.get("name", run.get("space")) if run.get("space") is not None else None
    row["space_grid"] = json.dumps(space_cfg.get("grid"), sort_keys=True) if space_cfg.get("grid") else None
    row["hyper"] = json.dumps(hyper_of(run.get("optimizer"), method_cfg), sort_keys=True)
    row["n_switches"] = doit.get("n_switches")
    row["n_cycles"] = doit.get("n_cycles")
    row["omega_t"] = doit.get("omega_t")
    row["path"] = str(path.parent)
    row["mtime"] = path.stat().st_mtime if path.exists() else 0.0
    return row


def _check(result) -> str | None:
    """Why ``result`` is not a usable complete run, or None."""
    if not isinstance(result, dict) or "run" not in result:
        return "foreign file: no 'run' section"
    if result.get("schema") != SCHEMA:
        return f"foreign file: schema {result.get('schema')!r} (expected {SCHEMA})"
    if result.get("status") != "complete":
        return f"partial run: status {result.get('status')!r}"
    run = result["run"]
    missing = [k for k in ("dataset", "model", "method", "seed") if run.get(k) is None]
    if missing:
        return f"incomplete 'run' section: missing {', '.join(missing)}"
    if (result.get("metrics") or {}).get("final_test_acc") is None:
        return "incomplete 'metrics' section: missing final_test_acc"
    return None


def load_results(root: str | Path) -> Collection:
    """Every ``result.json`` under ``root`` (recursively), flattened; bad files go to ``skipped``."""
    root = Path(root)
    rows, skipped = [], []
    for path in sorted(root.rglob("result.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            skipped.append((str(path), f"corrupted: {type(err).__name__}: {str(err).splitlines()[0]}"))
            continue
        reason = _check(result)
        if reason:
            skipped.append((str(path), reason))
            continue
        try:
            rows.append(_flatten(result, path))
        except (AttributeError, TypeError, KeyError) as err:
            skipped.append((str(path), f"malformed: {type(err).__name__}: {err}"))
    if not rows:  # keep the columns, so an empty results root renders empty tables
        empty = _flatten({"run": {}}, root / "result.json")
        return Collection(pd.DataFrame(columns=list(empty)), skipped)
    runs = pd.DataFrame(rows)
    runs = runs.sort_values("mtime")
    key = runs[list(IDENTITY)].apply(lambda r: "|".join(map(str, r)), axis=1)
    dup = key.duplicated(keep="last")
    keep_path = dict(zip(key[~dup], runs.loc[~dup, "path"], strict=True))
    skipped += [(f"{p}/result.json", f"duplicate run: newer copy in {keep_path[k]}")
                for p, k in zip(runs.loc[dup, "path"], key[dup], strict=True)]
    return Collection(runs[~dup].reset_index(drop=True), skipped)
