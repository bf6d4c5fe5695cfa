"""Units of the runner: batches, convergence rule, time to target, result files, progress lines."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from torch import nn

from analysis.record import EpochMetrics
from runners.data import DataBundle, TensorBatches
from runners.loop import LoopState, Trainer
from runners.plots import active_per_step
from runners.progress import Progress
from runners.results import switches_rows, write_json, write_jsonl


def _bundle(n=40, batch=8):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 2, 2, generator=g), torch.randint(0, 3, (n,), generator=g)
    return DataBundle(
        train=TensorBatches((x, y), batch, shuffle=True, seed=5),
        test=TensorBatches((x, y), 16, shuffle=False),
        num_classes=3,
        input_shape=(1, 2, 2),
    )


def test_tensor_batches_order_depends_on_seed_and_epoch_only():
    data = _bundle()
    first = [b[1] for b in data.train.epoch(3)]
    again = [b[1] for b in TensorBatches((data.train.tensors[0], data.train.tensors[1]), 8, True, 5).epoch(3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, [b[1] for b in data.train.epoch(4)], strict=True))
    tail = [b[1] for b in data.train.epoch(3, start=2)]
    assert all(torch.equal(a, b) for a, b in zip(first[2:], tail, strict=True))
    assert len(TensorBatches((torch.zeros(41), torch.zeros(41)), 8, False)) == 6
    text = TensorBatches({"input_ids": torch.zeros(5, 3), "labels": torch.arange(5)}, 2, False)
    assert set(next(iter(text))) == {"input_ids", "labels"}


def _trainer(lr, epochs, **kw):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return Trainer(model, opt, None, _bundle(), epochs=epochs, device="cpu", is_doit=False, **kw)


def test_convergence_rule_records_and_optionally_stops():
    # lr = 0: the epoch training loss never changes, so the rule triggers after `patience` unchanged epochs
    state = _trainer(0.0, 8, patience=3).run()
    assert state.converged_epoch == 4 and state.epoch == 8 and not state.stopped
    assert state.converged_time_s == state.metrics[3].time_s
    state = _trainer(0.0, 8, patience=3, stop=True).run()
    assert state.converged_epoch == 4 and state.epoch == 4 and state.stopped
    state = _trainer(0.5, 4, patience=3, tol=1e-12).run()
    assert state.converged_epoch is None


def test_time_to_target_and_metrics_rows():
    state = _trainer(0.5, 3, target_acc=1.0).run()
    assert state.time_to_target_s == state.metrics[0].time_s
    row = state.metrics[-1]
    assert row.step == state.step == 15 and 0 <= row.test_acc <= 100
    assert state.best_test_acc == max(r.test_acc for r in state.metrics)


def test_loop_state_round_trip_mid_epoch():
    trainer = _trainer(0.1, 2, checkpoint_every_steps=3)
    saved = []
    trainer.on_checkpoint = lambda: saved.append(trainer.state_dict()) if len(saved) == 0 else None
    trainer.run()
    state = LoopState.from_state_dict(saved[0]["loop"], "cpu")
    assert (state.step, state.batch, state.epoch, len(state.epoch_losses)) == (3, 3, 0, 3)


def _epoch(epoch, step=0, train_loss=1.0, test_acc=50.0):
    return EpochMetrics(epoch, step, 0.0, train_loss, 0, 50.0, 1.0, test_acc)


def test_switch_rows_and_atomic_writers(tmp_path):
    log = [
        {
            "cycle": 0,
            "step": 0,
            "config": "a()",
            "phase": "cold",
            "score": 0.5,
            "recovered": False,
            "candidates": [],
        },
        {
            "cycle": 1,
            "step": 25,
            "config": "b()",
            "phase": "surrogate",
            "score": None,
            "recovered": False,
            "candidates": [
                {"config": "a()", "mean": 1.0, "sd": 2.0, "acq": 3.0},
                {"config": "b()", "mean": 4.0, "sd": 5.0, "acq": 6.0},
            ],
        },
    ]
    header, rows = switches_rows(log, ["a()", "b()"])
    assert header[6:] == ["mean[a()]", "sd[a()]", "acq[a()]", "mean[b()]", "sd[b()]", "acq[b()]"]
    assert rows[0][6:] == [""] * 6 and rows[1][6:] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert active_per_step(30, log, "x") == ["a()"] * 25 + ["b()"] * 5
    write_json(tmp_path / "r.json", {"a": 1})
    write_jsonl(tmp_path / "m.jsonl", [_epoch(1), _epoch(2)])
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl", "r.json"]  # no temp files left


def test_progress_logs_lines_when_not_a_terminal(caplog):
    progress = Progress("auto", total_steps=10, every_s=0.0)
    assert progress.mode == "log"  # pytest captures stderr: not a terminal
    with caplog.at_level(logging.INFO, logger="runners.train"):
        progress.step(1, 1)
        progress.epoch(_epoch(1, step=5, train_loss=0.5, test_acc=90.0), "adam(lr=0.001)")
    assert "step 1/10" in caplog.text and "test_acc 90.00 [adam(lr=0.001)]" in caplog.text
    progress.close()


def test_preemption_checkpoints_at_step_boundary_then_hands_over(monkeypatch):
    from runners import preemption

    trainer = _trainer(0.1, 3)
    saved = []
    trainer.on_checkpoint = lambda: saved.append(trainer.state.step)

    class HandedOver(Exception):
        pass

    def after_checkpoint():
        raise HandedOver

    monkeypatch.setattr(preemption, "requested", lambda: trainer.state.step >= 7)
    monkeypatch.setattr(preemption, "after_checkpoint", after_checkpoint)
    with pytest.raises(HandedOver):
        trainer.run()
    assert saved == [5, 7] and trainer.state.batch == 2  # epoch end, then mid-epoch 2 at once


def test_evaluate_f1_and_topk():
    from contextlib import nullcontext

    from runners.evaluation import evaluate

    logits = torch.tensor(
        [[3.0, 2.0, 1.0, 0.0], [0.0, 3.0, 2.0, 1.0], [0.0, 1.0, 3.0, 2.0], [3.0, 0.0, 1.0, 2.0]]
    )
    y = torch.tensor([0, 2, 1, 1])

    class Fixed(nn.Module):
        def forward(self, x):
            return logits[x]

    out = evaluate(Fixed(), [(torch.arange(4), y)], ["acc", "f1", "acc3"], 4, nullcontext)
    assert out["acc"] == 25.0 and out["acc3"] == 75.0  # top-3 misses only the last row
    # predictions 0, 1, 2, 0: class 0 has P = 1/2, R = 1 (F1 2/3), classes 1 and 2 F1 0; macro over 3 labels
    assert out["f1"] == pytest.approx(100.0 * (2 / 3) / 3)


def test_fused_runs_record_it_and_build_fused_optimizers(tmp_path):
    """``fused=true``: the run's optimizer (a single one, or DOIT's candidates) is torch's fused kernel where
    it has one, and ``result.json`` records the setting."""
    from runners.methods import build_method
    from runners.train import compose, run

    cfg, choices = compose(["method=adam", "fused=true", "epochs=1", "progress=off", "plot=false"])
    result = run(cfg, tmp_path / "run", choices)
    assert result.status == "complete"
    assert json.loads((tmp_path / "run" / "result.json").read_text())["config"]["fused"] is True
    params = [torch.nn.Parameter(torch.zeros(3))]
    opt, _ = build_method(cfg, params, params, steps_per_epoch=10)
    assert opt.param_groups[0]["fused"] is True
    doit_cfg, _ = compose(["method=doit", "fused=true"])
    assert build_method(doit_cfg, params, params, steps_per_epoch=10)[0].fused
