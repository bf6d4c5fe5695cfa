"""A dataset that changes between a run and its resume: one line naming ``dataset.root``.

``checkpoint.pt`` records a fingerprint of the data the run trained and evaluated on
(``runners.data.fingerprint``); a resume on other data ends with exit code 2 and one line saying which
split changed, instead of silently mixing two datasets. The checkpoint stays as it was: with the original
files back, the same command resumes to the result of an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import fakedata
import pytest
from conftest import REPO
from faultcheck import assert_same_run, checkpoint_step, cli, one_error_line
from omegaconf import OmegaConf

from runners import results
from runners.data import build_data
from runners.data.fingerprint import check_unchanged, fingerprint
from runners.schema import ConfigError

ARGS = ["dataset=mnist", "dataset.download=false", "method=adam", "epochs=2", "progress=off", "plot=false"]
TEST_IMAGES = Path("MNIST/raw/t10k-images-idx3-ubyte")


@pytest.fixture
def default_sigint():
    """SIGINT as in a fresh process, so the run's handler takes it (and it is put back afterwards)."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


def _interrupted_run(root: Path, out: Path, capsys, monkeypatch) -> None:
    """The run of ``ARGS`` on ``root``, stopped by a real SIGINT after its first epoch (checkpoint at step 7)."""
    write_jsonl = results.write_jsonl

    def write_then_interrupt(path, rows):
        write_jsonl(path, rows)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(results, "write_jsonl", write_then_interrupt)
    code, _, err = cli(capsys, [*ARGS, f"dataset.root={root}", f"hydra.run.dir={out}"])
    monkeypatch.setattr(results, "write_jsonl", write_jsonl)
    assert code == 130 and one_error_line(err).startswith("error: interrupted by SIGINT at step 7;"), err
    assert checkpoint_step(out) == 7


def test_a_replaced_file_is_refused_on_resume_and_the_original_resumes(
    default_sigint, tmp_path, capsys, monkeypatch
):
    root, out = fakedata.make_mnist(tmp_path / "data"), tmp_path / "run"
    _interrupted_run(root, out, capsys, monkeypatch)
    original, saved = (root / TEST_IMAGES).read_bytes(), (out / "checkpoint.pt").read_bytes()
    other = fakedata.make_mnist(tmp_path / "other", seed=5)
    shutil.copyfile(other / TEST_IMAGES, root / TEST_IMAGES)  # same size, other images

    code, _, err = cli(capsys, [*ARGS, f"dataset.root={root}", f"hydra.run.dir={out}"])
    assert code == 2
    assert one_error_line(err) == (
        f"error: dataset.root: the mnist data under {root} changed since {out / 'checkpoint.pt'} was written "
        "(test: other contents of the same size (100 examples, 79,200 bytes)); restore the files the run "
        "started with, or rerun with resume=false to start over on the new data"
    )
    assert (out / "checkpoint.pt").read_bytes() == saved

    (root / TEST_IMAGES).write_bytes(original)
    assert cli(capsys, [*ARGS, f"dataset.root={root}", f"hydra.run.dir={out}"])[0] == 0
    ref = tmp_path / "ref"
    assert cli(capsys, [*ARGS, f"dataset.root={root}", f"hydra.run.dir={ref}"])[0] == 0
    assert_same_run(ref, out)


def test_a_truncated_file_is_one_line_naming_the_root(default_sigint, tmp_path, capsys, monkeypatch):
    root, out = fakedata.make_mnist(tmp_path / "data"), tmp_path / "run"
    _interrupted_run(root, out, capsys, monkeypatch)
    saved = (out / "checkpoint.pt").read_bytes()
    images = root / TEST_IMAGES
    images.write_bytes(images.read_bytes()[:1000])

    code, _, err = cli(capsys, [*ARGS, f"dataset.root={root}", f"hydra.run.dir={out}"])
    assert code == 2 and one_error_line(err).startswith("error: dataset.root: "), err
    assert (out / "checkpoint.pt").read_bytes() == saved


def test_streamed_folders_notice_a_truncated_image(tmp_path):
    wnids = ["n01440764", "n01443537"]
    fakedata.make_imagefolder(tmp_path / "train", wnids, n_per_class=6, size=16)
    fakedata.make_imagefolder(tmp_path / "val", wnids, n_per_class=2, size=16, seed=1)
    cfg = OmegaConf.load(REPO / "conf/dataset/imagenet.yaml")
    cfg.root, cfg.workers = str(tmp_path), 0
    model = OmegaConf.create({"pretrained": True, "image_size": 16})
    before = fingerprint(build_data(cfg, model, 4, 0, "cpu"))
    assert before == fingerprint(build_data(cfg, model, 4, 0, "cpu"))
    image = next((tmp_path / "val" / wnids[0]).iterdir())
    image.write_bytes(image.read_bytes()[:50])
    after = fingerprint(build_data(cfg, model, 4, 0, "cpu"))
    assert after["train"] == before["train"] and after["test"] != before["test"]
    with pytest.raises(ConfigError) as info:
        check_unchanged(before, after, cfg, tmp_path / "run" / "checkpoint.pt")
    assert str(info.value).startswith(f"dataset.root: the imagenet data under {tmp_path} changed since ")
    assert "(test: 4 examples, " in str(info.value) and "\n" not in str(info.value)
