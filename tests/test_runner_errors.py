"""Bad input ends with exit code 2 and ONE line on stderr naming the key, never a traceback, nothing written."""

from __future__ import annotations

import pytest
from conftest import compose_train, run_cli

from runners import checks
from runners.cli import main
from runners.config import group_options
from runners.schema import ConfigError

# overrides, key the line must name, a valid choice it must list (or None)
CASES = [
    (["method=foo"], "method", "adam"),
    (["ablation=nope"], "ablation", "no_transfer"),
    (["model=nope"], "model", "cnn"),
    (["foo=1"], "foo", None),
    (["+foo=1"], "foo", None),
    (["method.nope=1"], "method.nope", None),
    (["method.tau=0"], "method.tau", None),
    (["+method.hyper.momentum=0"], "method.hyper", None),  # found by the fuzz test: an OmegaConf traceback
    (["method.tau=-3"], "method.tau", None),
    (["lr=0", "method=adam"], "lr", None),
    (["method=sgd", "method.lr=-0.1"], "method.lr", None),
    (["method.n_ini=-1"], "method.n_ini", None),
    (["epochs=0"], "epochs", None),
    (["epochs=abc"], "epochs", None),
    (["method.schedule=eq9"], "method.schedule", "no_halving"),
    (["method.strategy=greedy"], "method.strategy", "cyclical"),
    (["mode=half"], "mode", "lora"),
    (["progress=fancy"], "progress", "off"),
    (["method=adam", "ablation=no_transfer"], "ablation", None),
    (["seed="], "seed", None),
    (["seed=4294967296"], "seed", None),
    (["seed=-1"], "seed", None),
    (["method.w_min=1.5"], "method.w_min", None),
    (["method.w_min=-0.1"], "method.w_min", None),
    (["method.alpha=2"], "method.alpha", None),
    (["method.omega_t=1.5"], "method.omega_t", None),
    (["dataset.test_size=0"], "dataset.test_size", None),
    (["dataset.test_size=1.5"], "dataset.test_size", None),
    (["method.explode_factor=nan"], "method.explode_factor", None),
    (["model.hidden=0"], "model.hidden", None),
    (["model.channels=[0,16]"], "model.channels", None),
    (["device=cuda:7"], "device", "cpu"),
    (["device=meta"], "device", "cpu"),
    (["device=cpu:3"], "device", "cpu"),
    (["device=tpu"], "device", "cpu"),
    (["space=null"], "space", "paper15"),
    (["method=null"], "method", "adam"),
    (["scale=[0,16]"], "scale", "embedded"),
    (["space.grid={}"], "space.grid", None),
    (["space.grid.sgd.lr=[]"], "space.grid.sgd.lr", None),
    (["+space.grid.foo.lr=[0.1]"], "space.grid.foo", "adam"),
    (["method.state_layers=[nomatch*]"], "method.state_layers", None),
    (["dataset.loader=this"], "dataset.loader", "digits"),
    (["model.builder=os"], "model.builder", "small"),
    (["batch_size=0"], "batch_size", None),
    (["threads=0"], "threads", None),
    (["convergence.patience=0"], "convergence.patience", None),
    (["lr=0.1"], "lr", None),
    (["method=adam", "+method.hyper.foo=1"], "method.hyper", None),
    (["method=steplr", "+method.scheduler_kw.foo=1"], "method.scheduler", "cosine"),
    (["dataset=imagenet", "dataset.root=/nonexistent/imagenet"], "dataset.root", None),
    (["hydra.run.dir="], "hydra.run.dir", None),
]


@pytest.mark.parametrize(("overrides", "key", "valid"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(overrides, key, valid, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # hydra.run.dir= would mean the current dir
    run_dir = tmp_path / "run"
    args = [f"hydra.run.dir={run_dir}", "epochs=1", "progress=off", "plot=false"]
    code = main([*args, *overrides])  # later overrides win
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {key}:"), lines[0]
    if valid is not None:
        assert "valid:" in lines[0] and valid in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == [], "a refused run writes nothing"


def test_close_match_is_named(capsys, tmp_path):
    assert main(["+epoch=2", f"hydra.run.dir={tmp_path}/run"]) == 2
    assert "did you mean epochs?" in capsys.readouterr().err


def test_run_dir_inside_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main([f"hydra.run.dir={tmp_path}/file/run", "epochs=1"]) == 2
    assert capsys.readouterr().err.startswith("error: hydra.run.dir:")


def test_cli_subprocess_one_line(tmp_path):
    """The process itself: ``python -m runners.train`` exits 2 with the one line on stderr."""
    proc = run_cli(["method.tau=0", f"hydra.run.dir={tmp_path}/run"], timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith(
        "error: method.tau:"
    )
    assert not (tmp_path / "run").exists()


def test_sweep_with_an_unknown_option_is_one_line(tmp_path, capsys):
    assert main(["-m", "space=paper15,nope", f"hydra.sweep.dir={tmp_path}/sweep"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: space:") and "one_lr" in err and len(err.strip().splitlines()) == 1
    # no job started (Hydra has written the sweep's multirun.yaml by the time the second point is composed)
    assert not list(tmp_path.rglob("result.json")) and not list(tmp_path.rglob("config.yaml"))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["batch_size=0"], "batch_size"),
        (["device=tpu"], "device"),
        (["method.alpha=2"], "method.alpha"),
        (["lr=0.1"], "lr"),
        (["threads=0"], "threads"),
        (["method.omega_t=1.5"], "method.omega_t"),
    ],
)
def test_check_names_key(overrides, key):
    cfg, choices = compose_train(overrides)
    with pytest.raises(ConfigError, match=rf"^{key}: ") as info:
        checks.check(cfg, choices)
    assert "\n" not in str(info.value)


def test_every_method_default_passes_the_check_and_a_bad_lr_does_not():
    """Each method's own defaults are runnable; the same check refuses each of them with lr=0 (so it did look)."""
    refused, passed = {}, []
    for method in group_options("method"):
        cfg, choices = compose_train([f"method={method}"])
        assert cfg.method.name == method
        try:
            checks.check(cfg, choices)
        except ConfigError as err:
            refused[method] = str(err)
        else:
            passed.append(method)
        cfg.lr = 0.0
        with pytest.raises(ConfigError, match=r"^lr: "):
            checks.check(cfg, choices)
    assert refused == {} and passed == group_options("method")
