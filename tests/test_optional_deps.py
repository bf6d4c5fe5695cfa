"""An optional dependency missing at run time is one line, never a traceback: the runner's
``error: <key>: ...`` with exit code 2 and nothing written, saying what to install. Each package is hidden
(``sys.modules[name] = None`` makes ``import name`` fail) whether or not this machine has it."""

from __future__ import annotations

import sys

import pytest

from runners.cli import main

BASE = ["epochs=1", "progress=off", "plot=false"]
CASES = {
    "umap compression": (
        "umap",
        ["method.compression=umap"],
        'error: method.compression: compression="umap" needs umap-learn: pip install -e ".[umap]"',
    ),
    "umap ablation": (
        "umap",
        ["ablation=umap"],
        'error: method.compression: compression="umap" needs umap-learn: pip install -e ".[umap]"',
    ),
    "umap in a sweep": (
        "umap",
        [
            "-m",
            "ablation=umap",
        ],  # refused before the sweep starts (a run that fails mid-sweep is named in the sweep's line)
        'error: method.compression: compression="umap" needs umap-learn: pip install -e ".[umap]"',
    ),
    "peft for LoRA": ("peft", ["mode=lora"], "error: mode=lora needs peft: pip install -e '.[nlp]'"),
    "datasets for GLUE": (
        "datasets",
        ["dataset=mrpc", "model=minilm", "dataset.download=true", "dataset.root={tmp}/no_glue_here"],
        "error: GLUE via HuggingFace needs the nlp extra: pip install -e '.[nlp]'",
    ),
}


@pytest.mark.parametrize(("module", "overrides", "line"), CASES.values(), ids=CASES.keys())
def test_missing_optional_package_is_one_line(module, overrides, line, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)
    out = tmp_path / "out"
    args = [a.format(tmp=tmp_path) for a in overrides]
    code = main([*args, *BASE, f"hydra.run.dir={out}", f"hydra.sweep.dir={out}"])  # -m first
    err = capsys.readouterr().err
    assert (code, err) == (2, line + "\n")
    assert not out.exists()
