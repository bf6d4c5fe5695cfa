"""MRPC / QQP / WNLI from fabricated GLUE TSV copies through the real loader (needs the nlp extra)."""

from __future__ import annotations

import fakedata
import pytest
from omegaconf import OmegaConf

from runners.data import build_data
from runners.data.glue import load_pairs
from runners.schema import ConfigError

pytest.importorskip("transformers")


@pytest.mark.parametrize("task", ["mrpc", "qqp", "wnli"])
def test_glue_tsv(tmp_path, task):
    fakedata.make_glue(tmp_path, task, n_train=12, n_dev=6)
    dataset = OmegaConf.load(f"conf/dataset/{task}.yaml")
    dataset.root, dataset.download = str(tmp_path), False
    pairs = load_pairs(dataset)
    a, b, y = pairs["train"]
    assert len(a) == 12 and y[:4] == [0, 1, 0, 1] and a[1] == b[1] and a[0] != b[0]
    model = OmegaConf.create({"tokenizer": str(fakedata.make_tokenizer(tmp_path / "tok")), "hf_name": None})
    data = build_data(dataset, model, 4, 0, "cpu")
    assert data.task == "text" and data.metrics == ["acc", "f1"] and data.num_classes == 2
    batch = next(iter(data.train))
    assert set(batch) == {"input_ids", "attention_mask", "labels"} and batch["input_ids"].shape[0] == 4
    assert int(batch["attention_mask"].sum(1).min()) >= 2 + 2 * 6 - 1  # [CLS] a [SEP] b [SEP], words in vocab


def test_missing_glue_offline_is_one_line(tmp_path):
    dataset = OmegaConf.load("conf/dataset/mrpc.yaml")
    dataset.root, dataset.download = str(tmp_path), False
    with pytest.raises(ConfigError) as err:
        load_pairs(dataset)
    assert (
        "\n" not in str(err.value) and "MRPC" in str(err.value) and "dataset.download=true" in str(err.value)
    )
