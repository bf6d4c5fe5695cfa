"""Each paper dataset x architecture, fabricated and tiny, through the real runner (in-process) for a few steps."""

from __future__ import annotations

import json

import fakedata
import pytest
from conftest import needs
from hydra import compose, initialize_config_dir
from test_data_torchvision import patched_md5

from runners.schema import CONF_DIR
from runners.train import run

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331"]


def fabricate(name, root):
    if name in ("mnist", "usps"):
        getattr(fakedata, f"make_{name}")(root, n_train=48, n_test=24)
        return {}
    if name == "cifar10":
        return fakedata.make_cifar10(root, n_per_batch=10)
    if name == "stl10":
        return fakedata.make_stl10(root, n_train=20, n_test=20)
    if name == "imagenet":
        fakedata.make_imagefolder(root / "train", WNIDS, n_per_class=4, size=36)
        fakedata.make_imagefolder(root / "val", WNIDS, n_per_class=2, size=36, seed=1)
        return {}
    fakedata.make_glue(root, name, n_train=32, n_dev=16)
    return {}


CASES = [  # dataset, model, mode, extra overrides
    ("mnist", "resnet18", "full", []),
    ("usps", "mobilenet_v2", "head", []),
    ("cifar10", "resnet152", "full", []),
    ("stl10", "vit", "head", ["model.image_size=32"]),
    ("imagenet", "resnet18", "full", ["model.image_size=32", "dataset.workers=0"]),
    ("mrpc", "roberta", "lora", []),
    ("qqp", "llama7b", "lora", []),
    ("wnli", "roberta", "full", []),
]


@pytest.mark.parametrize("dataset,model,mode,extra", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_runner_few_steps(tmp_path, dataset, model, mode, extra):
    if model in ("roberta", "llama7b"):
        needs("peft", "nlp")
    if model == "vit":
        pytest.importorskip("timm")
    sums = fabricate(dataset, tmp_path)
    overrides = [
        f"dataset={dataset}",
        f"model={model}",
        f"mode={mode}",
        f"dataset.root={tmp_path}",
        "model.pretrained=false",
        "model.tiny=true",
        "epochs=1",
        "batch_size=8",
        "method.tau=2",
        "method.n_ini=1",
        "plot=false",
        "progress=off",
        *extra,
    ]
    if dataset in ("mnist", "usps", "cifar10", "stl10", "mrpc", "qqp", "wnli"):
        overrides.append("dataset.download=false")
    if model in ("roberta", "llama7b"):
        overrides.append(f"model.tokenizer={fakedata.make_tokenizer(tmp_path / 'tok')}")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    choices = {"dataset": dataset, "model": model, "method": "doit", "space": "paper5", "ablation": "none"}
    with patched_md5(sums):
        result = run(cfg, tmp_path / "out", choices)
    assert result.status == "complete" and result.run.mode == mode
    assert result.timing.steps >= 2 and result.doit.omega_t == 0.0
    stored = json.loads((tmp_path / "out" / "result.json").read_text())
    metrics = stored["metrics"]
    assert 0.0 <= metrics["final_test_acc"] <= 100.0
    if dataset in ("mrpc", "qqp", "wnli"):
        assert metrics["test_f1"] is not None
    if dataset == "imagenet":
        assert metrics["test_acc3"] is not None and metrics["test_acc5"] is not None
