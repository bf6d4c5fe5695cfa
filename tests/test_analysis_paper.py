"""The transcription of the paper's tables (analysis/paper_numbers.csv) against the paper's text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import REPO

from analysis.tables import load_paper, paper_rows

# the paper's full text (not redistributable): DOIT_PAPER_TEXT, else the shared copy beside the repository
PAPER = Path(
    os.environ.get("DOIT_PAPER_TEXT") or REPO.parent / "shared" / "paper" / "iomt-paper-full-text.txt"
)


def _normalise(text: str) -> str:
    """Drop LaTeX markup so '$96.00{\\scriptstyle\\pm0.94}$' reads '96.00±0.94'."""
    text = re.sub(r"\\(scriptstyle|overline|pm)", lambda m: "±" if m.group(1) == "pm" else "", text)
    return re.sub(r"[\s${}_]", "", text)


@pytest.fixture(scope="module")
def paper():
    return load_paper()


def test_every_table_and_shape(paper):
    counts = paper.groupby("table").size().to_dict()
    assert counts == {
        "table1": 72,
        "table2": 72,
        "table4": 16,
        "table5": 27,
        "table6": 108,
        "table7": 30,
        "table8": 12,
        "table9": 18,
        "table10": 18,
        "summary": 16,
    }
    assert set(paper["version"]) == {"iomt-full-text", "iclr2026-summary"}


@pytest.mark.parametrize(
    ("table", "dataset", "model", "method", "metric", "mean", "std"),
    [
        ("table1", "stl10", "vit", "doit", "test_acc", 98.21, 0.19),
        ("table1", "usps", "resnet18", "adagrad", "test_acc", 96.00, 0.94),
        ("table2", "qqp", "roberta", "padam", "test_f1", 80.93, 0.83),
        ("table5", "imagenet_a", "", "doit", "test_acc5", 41.32, None),
        ("table6", "stl10", "resnet152", "adabound", "time_s", 152592, None),
        ("table7", "mnist", "resnet18", "no_halving", "test_acc", 99.19, 0.08),
        ("table10", "usps", "resnet18", "umap", "train_acc", 98.56, 1.45),
    ],
)
def test_spot_cells(paper, table, dataset, model, method, metric, mean, std):
    r = paper_rows(paper, table=table, dataset=dataset, model=model, method=method, metric=metric)
    assert len(r) == 1
    assert r.iloc[0]["mean"] == pytest.approx(mean)
    assert (std is None and r.iloc[0]["std"] != r.iloc[0]["std"]) or r.iloc[0]["std"] == pytest.approx(std)


def test_cut_cells_are_missing_not_invented(paper):
    cut = paper_rows(paper, table="table1", dataset="cifar10", model="vit")
    assert len(cut) == 9 and cut["mean"].isna().all()
    assert (cut["text"].str.fullmatch(r"\d+\.")).all()


def test_doit_time_plus_transfer_time(paper):
    r = paper_rows(paper, table="table2", dataset="usps", method="doit", metric="time_s").iloc[0]
    assert (r["mean"], r["extra"]) == (2030, 2)


@pytest.mark.skipif(
    not PAPER.exists(),
    reason=f"the paper's full text is not in {PAPER}: set DOIT_PAPER_TEXT to iomt-paper-full-text.txt",
)
def test_cells_occur_in_the_paper_text(paper):
    """Every transcribed full-text cell (mean±std, or the number) occurs in the paper's text."""
    text = _normalise(PAPER.read_text())
    rows = paper[(paper["version"] == "iomt-full-text") & (paper["note"].str.contains("stray") == False)]  # noqa: E712
    absent = [
        f"{r.table}/{r.dataset}/{r.model}/{r.method}/{r.metric}: {r.text}"
        for r in rows.itertuples()
        if _normalise(r.text) not in text
    ]
    assert absent == []
