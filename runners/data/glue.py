"""GLUE sentence-pair tasks of the paper (section 5): MRPC, QQP, WNLI; metrics accuracy and F1.

Source: a local copy in the original GLUE layout (``dataset.root/<TASK>/train.tsv`` and ``dev.tsv``,
as GLUE's download script writes them) when present, else HuggingFace ``datasets``
(``nyu-mll/glue``, cached under ``dataset.root``) when ``dataset.download`` is true. GLUE's test
labels are hidden, so GLUE's validation split is the test set; the runner's validation split
(``dataset.val_size``) is carved from GLUE's training split, stratified, seeded by
``dataset.split_seed``. Pairs are tokenised once with the
model's tokenizer (padded to the longest pair, at most ``dataset.max_length`` tokens) and kept as
tensors on the device.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from runners.data import DataBundle, TensorBatches, val_split
from runners.schema import ConfigError

# task -> (first sentence, second sentence, label) columns of the original TSV files, and of HF datasets.
TSV_COLUMNS = {
    "mrpc": ("#1 String", "#2 String", "Quality"),
    "qqp": ("question1", "question2", "is_duplicate"),
    "wnli": ("sentence1", "sentence2", "label"),
}
HF_COLUMNS = {
    "mrpc": ("sentence1", "sentence2", "label"),
    "qqp": ("question1", "question2", "label"),
    "wnli": ("sentence1", "sentence2", "label"),
}


def _from_tsv(folder: Path, task: str) -> dict[str, tuple[list, list, list]]:
    import pandas as pd

    a, b, y = TSV_COLUMNS[task]
    out = {}
    for split, name in (("train", "train.tsv"), ("test", "dev.tsv")):
        frame = pd.read_csv(
            folder / name,
            sep="\t",
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            on_bad_lines="skip",
            dtype=str,
        )
        missing = {a, b, y} - set(frame.columns)
        if missing:
            raise ConfigError(
                f"dataset.root: {folder / name} lacks the GLUE columns {sorted(missing)}; "
                f"expected the original GLUE {task.upper()} TSV layout"
            )
        frame = frame[frame[y].str.fullmatch(r"\d+")]
        out[split] = (frame[a].tolist(), frame[b].tolist(), frame[y].astype(int).tolist())
    return out


def _from_hub(dataset_cfg, task: str) -> dict[str, tuple[list, list, list]]:
    try:
        import datasets
    except ImportError:
        raise ConfigError("GLUE via HuggingFace needs the nlp extra: pip install -e '.[nlp]'") from None
    try:
        glue = datasets.load_dataset(
            dataset_cfg.get("hf_path", "nyu-mll/glue"),
            task,
            cache_dir=str(Path(str(dataset_cfg.root)).expanduser()),
        )
    except (OSError, ConnectionError, ValueError) as err:
        raise ConfigError(
            f"dataset.root: GLUE {task.upper()} could not be downloaded ({type(err).__name__}); "
            f"with no network, put train.tsv/dev.tsv under {dataset_cfg.root}/{task.upper()}"
        ) from None
    a, b, y = HF_COLUMNS[task]
    return {
        split: (glue[hf][a], glue[hf][b], glue[hf][y])
        for split, hf in (("train", "train"), ("test", "validation"))
    }


def load_pairs(dataset_cfg) -> dict[str, tuple[list, list, list]]:
    """``{"train": (sentences1, sentences2, labels), "test": (...)}`` of ``dataset_cfg.task``."""
    task = str(dataset_cfg.task).lower()
    if task not in TSV_COLUMNS:
        raise ConfigError(f"dataset.task={task!r} is not valid; choose one of {', '.join(TSV_COLUMNS)}")
    folder = Path(str(dataset_cfg.root)).expanduser() / task.upper()
    if (folder / "train.tsv").is_file() and (folder / "dev.tsv").is_file():
        return _from_tsv(folder, task)
    if not dataset_cfg.get("download", True):
        raise ConfigError(
            f"dataset.root: GLUE {task.upper()} not found (looked for {folder}/train.tsv and "
            "dev.tsv); set dataset.download=true (needs internet) or copy the GLUE TSV files there"
        )
    return _from_hub(dataset_cfg, task)


def build(dataset_cfg, model_cfg, batch_size: int, seed: int, device) -> DataBundle:
    from runners.models.text import load_tokenizer

    pairs = load_pairs(dataset_cfg)
    tok = load_tokenizer(model_cfg)
    max_length = int(dataset_cfg.get("max_length", 128))

    def tensors(a, b, y):
        enc = tok(
            list(a), list(b), truncation=True, max_length=max_length, padding="longest", return_tensors="pt"
        )
        return {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "labels": torch.tensor(list(y), dtype=torch.long),
        }

    train, test = tensors(*pairs["train"]), tensors(*pairs["test"])
    num_classes = max(int(train["labels"].max()), int(test["labels"].max())) + 1
    eval_bs = int(dataset_cfg.get("eval_batch_size", 256))
    val = None
    carved = val_split(dataset_cfg, train["labels"])
    if carved is not None:
        tr, va = (torch.from_numpy(i) for i in carved)
        val = TensorBatches({k: v[va] for k, v in train.items()}, eval_bs, shuffle=False, device=device)
        train = {k: v[tr] for k, v in train.items()}
    return DataBundle(
        train=TensorBatches(train, batch_size, shuffle=True, seed=seed, device=device),
        test=TensorBatches(test, eval_bs, shuffle=False, device=device),
        val=val,
        num_classes=max(num_classes, 2),
        task="text",
        input_shape=(train["input_ids"].shape[1],),
        metrics=["acc", "f1"],
    )
