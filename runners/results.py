"""Result files of one run (docs/architecture.md): atomic writers and the ``result.json`` schema.

Every file is written to a temporary name in the same directory and moved into place with
``os.replace``, so a killed run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

SCHEMA = 1
RUN_KEYS = ("experiment", "scale", "dataset", "model", "mode", "method", "optimizer", "lr", "space", "ablation",
            "variant", "seed", "tau", "n_ini", "n_components", "compression", "epochs", "batch_size")
METRIC_KEYS = ("final_test_acc", "best_test_acc", "final_train_acc", "final_train_loss", "test_f1", "test_acc3",
               "test_acc5", "val_acc")
TIMING_KEYS = ("train_time_s", "wall_time_s", "transfer_time_s", "controller_time_s", "converged_epoch",
               "converged_time_s", "target_acc", "time_to_target_s", "epochs_run", "steps")
DOIT_KEYS = ("n_switches", "n_cycles", "share", "omega_t")
TOP_KEYS = ("schema", "status", "run", "metrics", "timing", "doit", "config")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + ``os.replace``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, allow_nan=True) + "\n")


def write_jsonl(path: Path, rows: Iterable[Mapping]) -> None:
    write_text(path, "".join(json.dumps(dict(r)) + "\n" for r in rows))


def switches_rows(log: list[dict], labels: list[str]) -> tuple[list[str], list[list]]:
    """``switches.csv`` header and rows from DOIT's per-cycle log (one row per cycle)."""
    header = ["cycle", "step", "config", "phase", "score", "recovered"]
    header += [f"{what}[{lab}]" for lab in labels for what in ("mean", "sd", "acq")]
    rows = []
    for rec in log:
        cand = {c["config"]: c for c in rec.get("candidates") or []}
        row = [rec["cycle"], rec["step"], rec["config"], rec["phase"], rec["score"], rec["recovered"]]
        for lab in labels:
            c = cand.get(lab)
            row += [c["mean"], c["sd"], c["acq"]] if c else ["", "", ""]
        rows.append(row)
    return header, rows


def write_switches(path: Path, log: list[dict], labels: list[str]) -> None:
    header, rows = switches_rows(log, labels)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    write_text(path, buf.getvalue())


def check_result(result: Mapping) -> None:
    """Raise ``ValueError`` unless ``result`` has exactly the documented ``result.json`` keys."""
    def same(where: str, got: Iterable, want: tuple) -> None:
        if set(got) != set(want):
            raise ValueError(f"result.json {where}: keys {sorted(set(got) ^ set(want))} differ from the schema")

    same("top level", result, TOP_KEYS)
    same("run", result["run"], RUN_KEYS)
    same("metrics", result["metrics"], METRIC_KEYS)
    same("timing", result["timing"], TIMING_KEYS)
    if result["doit"] is not None:
        same("doit", result["doit"], DOIT_KEYS)
