"""The embedded transfer setting: digits 0-4 pre-training, fine-tuning on digits 5-9."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from runners.data import digits
from runners.models import small
from runners.schema import ConfigError
from runners.transfer import estimate_transferability


def _model_cfg(arch: str) -> OmegaConf:
    hidden = 64 if arch == "cnn" else [128, 64]
    return OmegaConf.create(
        {
            "name": arch,
            "arch": arch,
            "channels": [16, 32],
            "hidden": hidden,
            "pretrained": True,
            "source_classes": [0, 1, 2, 3, 4],
            "pretrain_epochs": 10,
        }
    )


def _target(model_cfg):
    return digits.build(OmegaConf.create({"classes": [5, 6, 7, 8, 9]}), model_cfg, 32, 0, "cpu")


def test_class_subset_is_relabelled_and_disjoint_from_the_source():
    _, y_tr, _, y_te = digits.split(0.2, 0, [5, 6, 7, 8, 9])
    assert sorted(y_tr.unique().tolist()) == sorted(y_te.unique().tolist()) == [0, 1, 2, 3, 4]
    x_all, y_all, _, _ = digits.split(0.2, 0, None)
    assert len(y_tr) == int((y_all >= 5).sum()) and len(x_all) == 1437


def test_pretrained_model_is_cached_deterministic_and_keeps_its_source_head(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("DOIT_CACHE", str(tmp_path / "a"))
    cfg = _model_cfg("cnn")
    data = _target(cfg)
    model = small.build(cfg, data)
    assert list((tmp_path / "a").glob("digits-cnn-*.pt")), "the pre-trained weights are cached"
    again = small.build(cfg, data)  # from the cache
    monkeypatch.setenv("DOIT_CACHE", str(tmp_path / "b"))
    fresh = small.build(cfg, data)  # trained anew: the same weights
    for a, b, c in zip(
        model.source_head.parameters(),
        again.source_head.parameters(),
        fresh.source_head.parameters(),
        strict=True,
    ):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert not any(p.requires_grad for p in model.source_head.parameters())
    x_src, y_src = digits.split(0.2, 0, [0, 1, 2, 3, 4])[2:]
    feats = []
    model.fc.register_forward_hook(lambda _m, args, _o: feats.append(args[0]))
    model.eval()
    with torch.no_grad():
        logits = model(x_src)
        source_acc = (model.source_head(feats[0]).argmax(1) == y_src).float().mean().item()
    assert logits.shape == (len(y_src), 5)  # forward ends at the new head, not at the source head
    assert source_acc > 0.9


def test_transferability_weight_lies_strictly_between_zero_and_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DOIT_CACHE", str(tmp_path))
    for arch in ("cnn", "mlp"):
        model_cfg = _model_cfg(arch)
        data = _target(model_cfg)
        model = small.build(model_cfg, data)
        cfg = OmegaConf.create(
            {
                "seed": 0,
                "model": model_cfg,
                "method": {"omega_t": None, "beta": 0.5, "transfer_samples": 1000},
            }
        )
        out = estimate_transferability(model, data, cfg)
        assert 0.0 < out["omega_t"] < 1.0, out
        assert out["leep"] is not None and out["logme"] is not None and 0.0 < out["omega_p"] <= 1.0


def test_runner_records_real_transferability_on_the_transfer_setting(tmp_path, monkeypatch):
    from runners.train import compose, run

    monkeypatch.setenv("DOIT_CACHE", str(tmp_path / "cache"))
    cfg, choices = compose(
        ["dataset=digits_transfer", "model.pretrained=true", "epochs=1", "progress=off", "plot=false"]
    )
    result = run(cfg, tmp_path / "run", choices)
    assert 0.0 < result.doit.omega_t < 1.0
    assert result.doit.logme is not None and result.doit.leep is not None and result.doit.omega_p is not None


def test_a_run_is_the_same_whether_it_pretrained_the_digits_model_or_loaded_it(tmp_path, monkeypatch):
    """Pre-training in the run's own process leaves no gradients behind: the loop zeroes them after each
    step, so stale ones would join the first update (a queue worker's first run differed from the rest)."""
    from runners.train import compose, run

    monkeypatch.setenv("DOIT_CACHE", str(tmp_path / "cache"))
    cfg, choices = compose(
        [
            "dataset=digits_transfer",
            "model.pretrained=true",
            "method=sgd",
            "epochs=1",
            "progress=off",
            "plot=false",
        ]
    )
    cold = run(cfg, tmp_path / "cold", choices)  # pre-trains and caches the weights
    warm = run(cfg, tmp_path / "warm", choices)  # loads them
    epochs = [
        [
            {k: v for k, v in json.loads(line).items() if k != "time_s"}
            for line in (tmp_path / d / "metrics.jsonl").open()
        ]
        for d in ("cold", "warm")
    ]
    assert epochs[0] == epochs[1]
    assert cold.metrics.final_train_loss == warm.metrics.final_train_loss


def test_pretraining_resizes_the_digits_to_a_larger_grey_task(tmp_path, monkeypatch):
    """scale=mnist: the small CNN pre-trained on all ten digits resized to 28x28, a fresh 10-way head."""
    from types import SimpleNamespace

    torch.set_num_threads(1)
    monkeypatch.setenv("DOIT_CACHE", str(tmp_path))
    cfg = _model_cfg("cnn")
    cfg.merge_with({"channels": [4, 8], "source_classes": list(range(10)), "pretrain_epochs": 1})
    model = small.build(cfg, SimpleNamespace(task="image", input_shape=(1, 28, 28), num_classes=10))
    assert model.source_head.out_features == 10 and model.fc.out_features == 10
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert len(list(tmp_path.glob("digits-cnn-*.pt"))) == 1
    rgb = SimpleNamespace(task="image", input_shape=(3, 28, 28), num_classes=10)
    with pytest.raises(ConfigError, match="^model.pretrained: .*grey"):
        small.build(cfg, rgb)
