"""Bad input ends with exit code != 0 and ONE line on stderr naming the key, never a traceback."""

from __future__ import annotations

import pytest
from conftest import compose_train, run_cli

from runners.schema import ConfigError, check_overrides, override_args, validate

CLI_CASES = [  # overrides, key the line must name, a valid choice it must list (or None)
    (["method=foo"], "method", "adam"),
    (["ablation=nope"], "ablation", "no_transfer"),
    (["space=paper5,nope", "-m"], "space", "paper5_lr3"),
    (["model=nope"], "model", "cnn"),
    (["foo=1"], "foo", None),
    (["method.nope=1"], "method.nope", None),
    (["method.tau=0"], "method.tau", None),
    (["method.tau=-3"], "method.tau", None),
    (["lr=0", "method=adam"], "lr", None),
    (["method=sgd", "method.lr=-0.1"], "method.lr", None),
    (["method.n_ini=-1"], "method.n_ini", None),
    (["epochs=0"], "epochs", None),
    (["method.schedule=eq9"], "method.schedule", "no_halving"),
    (["dataset=mnist", "dataset.root=/nonexistent/mnist"], "dataset.root", None),
    (["method=adam", "ablation=no_transfer"], "ablation", None),
    (["seed="], "seed", None),
]


@pytest.mark.parametrize(("overrides", "key", "valid"), CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_bad_input_one_line(overrides, key, valid, tmp_path):
    proc = run_cli([*overrides, f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep"], timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert lines[0].startswith(f"error: {key}:"), lines[0]
    if valid is not None:
        assert "valid:" in lines[0] and valid in lines[0], lines[0]


def test_override_args_drop_flags():
    assert override_args(["-m", "--cfg", "job", "a=1", "--info", "config", "-cn", "x", "b=2"]) == ["a=1", "b=2"]


def test_check_overrides_accepts_known_options():
    check_overrides(["method=adam,doit", "space=extended", "ablation=umap", "hydra/launcher=basic", "epochs=2"])


@pytest.mark.parametrize(("overrides", "key"), [
    (["batch_size=0"], "batch_size"), (["device=tpu"], "device"), (["mode=half"], "mode"),
    (["convergence.patience=0"], "convergence.patience"), (["method.alpha=2"], "method.alpha"),
    (["method.strategy=greedy"], "method.strategy"), (["lr=0.1"], "lr"), (["threads=0"], "threads"),
    (["progress=fancy"], "progress"), (["method.omega_t=1.5"], "method.omega_t"),
])
def test_validate_names_key(overrides, key):
    cfg, choices = compose_train(overrides)
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        validate(cfg, choices)
    assert "\n" not in str(pytest.raises(ConfigError, validate, cfg, choices).value)


def test_validate_accepts_every_method_default():
    from runners.schema import group_options

    for method in group_options("method"):
        cfg, choices = compose_train([f"method={method}"])
        validate(cfg, choices)
