"""Model families at tiny size with weights off: build, forward, head naming; missing weights offline."""

from __future__ import annotations

import urllib.error
from types import SimpleNamespace

import fakedata
import pytest
import torch
from omegaconf import OmegaConf

from runners.models import build_model
from runners.schema import ConfigError

DATA = SimpleNamespace(num_classes=7, task="image", input_shape=(3, 32, 32))


def cfg(name, **kw):
    c = OmegaConf.load(f"conf/model/{name}.yaml")
    c.merge_with({"pretrained": False, "tiny": True, **kw})
    return c


@pytest.mark.parametrize(
    "name,head", [("resnet18", "fc"), ("resnet152", "fc"), ("mobilenet_v2", "classifier.1"), ("vit", "head")]
)
def test_vision_families(name, head):
    if name == "vit":
        pytest.importorskip("timm")
    model = build_model(cfg(name, image_size=32), DATA)
    assert model.head_modules == [head]
    assert model.get_submodule(head).out_features == 7 and not hasattr(model, "source_head")
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7)


def test_resnet18_full_size_matches_torchvision():
    from torchvision.models import resnet18

    model = build_model(cfg("resnet18", tiny=False), DATA)
    reference = resnet18(num_classes=7)
    assert [(n, p.shape) for n, p in model.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]


@pytest.mark.parametrize("name,pool", [("roberta", "first"), ("llama7b", "last")])
def test_text_families(tmp_path, name, pool):
    pytest.importorskip("transformers")
    model = build_model(
        cfg(name, tokenizer=str(fakedata.make_tokenizer(tmp_path))), SimpleNamespace(num_classes=2)
    )
    assert model.pool == pool and model.head_modules == ["head"]
    ids = torch.randint(5, 20, (3, 6))
    mask = torch.ones_like(ids)
    mask[0, 4:] = 0
    out = model(input_ids=ids, attention_mask=mask)
    assert out.shape == (3, 2)
    if pool == "last":  # padding after the last real token must not change the result
        ids2 = ids.clone()
        ids2[0, 4:] = 0
        torch.testing.assert_close(model(input_ids=ids2, attention_mask=mask)[0], out[0])


def test_pretrained_weights_missing_offline_is_one_line(tmp_path, monkeypatch):
    def no_network(*_args, **_kw):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(ConfigError) as err:
        build_model(cfg("resnet18", pretrained=True, tiny=False), DATA)
    text = str(err.value)
    assert "\n" not in text and "model.pretrained" in text and "resnet18" in text


def test_weights_missing_scratch_trains_from_random_weights_with_one_line(tmp_path, monkeypatch, caplog):
    def no_network(*_args, **_kw):
        raise AssertionError("weights_missing=scratch must not try to download")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    model = build_model(cfg("resnet18", pretrained=True, tiny=False, weights_missing="scratch"), DATA)
    assert model.weights_loaded is False and not hasattr(model, "source_head")
    lines = [r.getMessage() for r in caplog.records if "weights_missing" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and "training from scratch" in lines[0]
    assert str(tmp_path) in lines[0]


def test_weights_missing_accepts_error_or_scratch():
    with pytest.raises(ConfigError, match="model.weights_missing"):
        from runners.models import check_model

        check_model(cfg("resnet18", weights_missing="maybe"))


def test_text_checkpoint_missing_is_one_line(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(ConfigError) as err:
        build_model(
            cfg("roberta", pretrained=True, tiny=False, hf_name=str(tmp_path / "absent")),
            SimpleNamespace(num_classes=2),
        )
    assert "\n" not in str(err.value) and "absent" in str(err.value)
