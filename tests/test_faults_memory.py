"""GPU memory runs out: in a training step, an evaluation or the setup.

``torch.OutOfMemoryError`` (raised here on the CPU by the patched step, evaluation or model builder) ends
the run with one line naming where and what to change (``batch_size``, ``amp=true``, ``model.image_size``)
and exit code 1; the last good checkpoint stays as it was (nothing of the failed step is written), and the
same command resumes from it to the result of an uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import compose_train
from faultcheck import assert_same_run, checkpoint_step, cli, one_error_line

from runners import evaluation, train
from runners.cli import main
from runners.loop import Trainer

ARGS = ["method=adam", "epochs=3", "checkpoint_every_steps=20", "progress=off", "plot=false"]
TORCH_MESSAGE = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main([*ARGS, f"hydra.run.dir={out}"]) == 0
    return out


def _advice(out: Path, step: int) -> str:
    return (
        "; to fit, try a smaller batch_size (now 32) or amp=true in a new hydra.run.dir (or with resume=false); "
        f"{out / 'checkpoint.pt'} of step {step} is kept (the same command retries from it)"
    )


def _fails_when(condition, kept: dict, out: Path):
    """A stand-in that raises torch's OutOfMemoryError once ``condition()`` holds, noting the checkpoint then."""

    def fail():
        if condition():
            kept["bytes"] = (out / "checkpoint.pt").read_bytes()
            raise torch.OutOfMemoryError(TORCH_MESSAGE)

    return fail


def test_out_of_memory_in_a_training_step(reference, tmp_path, capsys, monkeypatch):
    out, kept, step = tmp_path / "run", {}, Trainer._step

    def step_or_fail(self, batch):
        _fails_when(lambda: self.state.step == 50, kept, out)()
        return step(self, batch)

    monkeypatch.setattr(Trainer, "_step", step_or_fail)
    code, _, err = cli(capsys, [*ARGS, f"hydra.run.dir={out}"])
    assert code == 1
    assert one_error_line(err) == (
        "error: GPU out of memory in training step 51 (epoch 2); tried to allocate 2.00 GiB"
        + _advice(out, 40)
    )
    assert (out / "checkpoint.pt").read_bytes() == kept["bytes"] and checkpoint_step(out) == 40
    monkeypatch.setattr(Trainer, "_step", step)
    assert cli(capsys, [*ARGS, f"hydra.run.dir={out}"])[0] == 0
    assert_same_run(reference, out)


def test_out_of_memory_in_an_evaluation(reference, tmp_path, capsys, monkeypatch):
    out, kept, evaluate = tmp_path / "run", {}, evaluation.evaluate

    def evaluate_or_fail(*args, **kwargs):
        _fails_when(lambda: True, kept, out)()
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", evaluate_or_fail)
    code, _, err = cli(capsys, [*ARGS, f"hydra.run.dir={out}"])
    assert code == 1
    assert one_error_line(err) == (
        "error: GPU out of memory in the evaluation after epoch 1; tried to allocate 2.00 GiB"
        + _advice(out, 40)
    )
    assert (out / "checkpoint.pt").read_bytes() == kept["bytes"] and not (out / "metrics.jsonl").exists()
    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    assert cli(capsys, [*ARGS, f"hydra.run.dir={out}"])[0] == 0
    assert_same_run(reference, out)


def test_out_of_memory_in_the_setup(tmp_path, capsys, monkeypatch):
    def build_model(*args):
        raise torch.OutOfMemoryError(TORCH_MESSAGE)

    monkeypatch.setattr(train, "build_model", build_model)
    code, _, err = cli(capsys, [*ARGS, f"hydra.run.dir={tmp_path / 'run'}"])
    assert code == 1
    assert one_error_line(err) == (
        "error: GPU out of memory in the setup (data, model or transferability); tried to allocate 2.00 GiB; "
        "to fit, try a smaller batch_size (now 32) or amp=true in a new hydra.run.dir (or with resume=false); "
        "no checkpoint was written yet"
    )


def test_the_advice_names_the_image_size_and_leaves_out_amp_when_on():
    cfg, _ = compose_train(["model=resnet18", "model.image_size=224", "amp=true", "batch_size=256"])
    err = train._out_of_memory(cfg, torch.OutOfMemoryError("CUDA out of memory."), Path("run"), None)
    assert str(err) == (
        "GPU out of memory in the setup (data, model or transferability); to fit, try a smaller batch_size "
        "(now 256) or a smaller model.image_size (now 224) in a new hydra.run.dir (or with resume=false); "
        "no checkpoint was written yet"
    )
