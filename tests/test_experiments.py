"""Every experiment config composes at both scales (``scale=paper`` by itself, ``scale=embedded``) and its
sweep is sane: embedded sweeps keep the paper's methods and ablations on offline data only, with 5 seeds
(the paper's 3 at paper scale); DOIT searches the paper's 15 candidates; the embedded form of every
experiment is the pre-trained analogue (digits_transfer, model.pretrained=true), as the paper fine-tunes
pre-trained models throughout."""

from __future__ import annotations

import copy
import functools
import itertools

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from runners import checks, config
from runners.schema import CONF_DIR

EXPERIMENTS = config.group_options("experiment")
# Composing a sweep's runs one by one costs a Hydra composition each (and the runner's check): the quick
# suite does it for these experiments (Tables 1 and 7, the figures that search other spaces, the DOIT+ and
# one-run comparisons), the full suite (--full) for every one.
POINTS_QUICK = {"table1_grid", "table1_fixed", "table7_ablations", "fig9_case", "fig11_spaces", "one_run"}
EXPERIMENT_POINTS = [n if n in POINTS_QUICK else pytest.param(n, marks=pytest.mark.slow) for n in EXPERIMENTS]
OFFLINE_DATASETS = {"digits", "digits_transfer"}
SEEDS = {"paper": ["0", "1", "2"], "embedded": ["0", "1", "2", "3", "4"], "mnist": ["0", "1", "2"]}
CONFIRM_SEEDS = {"paper": ["100", "101", "102"], "embedded": ["100", "101", "102", "103", "104"]}
# the one-run table's fresh seeds and DOIT+ round 2's development seeds (README "Beyond the paper")
ONE_RUN_SEEDS = {"paper": ["0", "1", "2"], "embedded": ["300", "301", "302", "303", "304"]}
DEV2_SEEDS = {"paper": ["200", "201", "202"], "embedded": ["200", "201", "202", "203", "204"]}


def expected_seeds(name: str, scale: str) -> list[str]:
    if name.startswith("beyond_"):
        return CONFIRM_SEEDS[scale]
    if name.startswith("one_run"):
        return ONE_RUN_SEEDS[scale]
    if name == "plus2_dev":
        return DEV2_SEEDS[scale]
    return SEEDS[scale]


# the paper's space (Section 5.1, Appendix D's "original HP space"): 5 optimizers x lr 0.1, 0.01, 0.001
PAPER15 = {
    (opt, tuple(sorted({"lr": lr, **({"momentum": 0.9} if opt == "sgdm" else {})}.items())))
    for opt in ("sgd", "sgdm", "adagrad", "rmsprop", "adam")
    for lr in (0.1, 0.01, 0.001)
}
# DOIT experiments that search another space on purpose: Figure 11 grows it, Figure 9 restricts it to
# SGD and SGDM, table7_one_lr is Table 7's "one lr per optimizer" ablation row
OTHER_SPACE = {"fig11_spaces": None, "fig9_case": "sgd_sgdm", "table7_one_lr": "one_lr"}
OFFLINE_MODELS = {"cnn", "mlp"}
GROUPS = ("dataset", "model", "method", "space", "ablation")
SCALES = ("paper", "embedded")


def _compose(name: str, scale: str, overrides=()):
    """The experiment's config (with the ``hydra`` node) at ``scale``: a private copy of a cached composition
    (the tests here compose each experiment several times)."""
    return copy.deepcopy(_composed(name, scale, tuple(overrides)))


@functools.cache
def _composed(name: str, scale: str, overrides: tuple[str, ...]):
    extra = [] if scale == "paper" else [f"scale={scale}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            "train", overrides=[f"experiment={name}", *extra, *overrides], return_hydra_config=True
        )


def _sweep(cfg) -> dict[str, list[str]]:
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True) or {}
    return {k: [v.strip() for v in str(val).split(",")] for k, val in params.items()}


def test_no_experiment_keeps_an_embedded_twin():
    assert not [e for e in config.group_options("experiment") if e.endswith("_embedded")]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_composes_and_sweeps_known_options(name, scale):
    cfg = _compose(name, scale)
    assert cfg.experiment_name == name and cfg.scale == scale
    suffix = "_embedded" if scale == "embedded" else ""
    assert cfg.hydra.sweep.dir == f"outputs/sweeps/{name}{suffix}"
    assert cfg.epochs == (6 if scale == "embedded" else 100)
    sweep = _sweep(cfg)
    # beyond_*: DOIT+'s confirmation seeds, never used while developing it (README "Beyond the paper")
    assert sweep["seed"] == expected_seeds(name, scale)
    for group in GROUPS:
        for option in sweep.get(group, []):
            assert option in config.group_options(group), f"{name}: {group}={option} does not exist"


@pytest.mark.parametrize("name", EXPERIMENT_POINTS)
def test_the_first_embedded_sweep_point_passes_the_runners_check(name):
    """The first point of the sweep is a valid runner config (e.g. YAML's bare `off` is false); at the
    embedded scale only: the paper's data is not on this machine."""
    scale = "embedded"
    sweep = _sweep(_compose(name, scale))
    point = _compose(name, scale, [f"{k}={v[0]}" for k, v in sweep.items()])
    choices = dict(point.hydra.runtime.choices)
    with open_dict(point):
        del point["hydra"]
    checks.check(point, choices)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_embedded_uses_offline_data_and_keeps_methods_ablations_and_seeds(name):
    paper, embedded = _sweep(_compose(name, "paper")), _sweep(_compose(name, "embedded"))
    cfg = _compose(name, "embedded")
    assert set(embedded.get("dataset", [cfg.dataset.name])) <= OFFLINE_DATASETS
    assert set(embedded.get("model", [cfg.model.name])) <= OFFLINE_MODELS
    assert cfg.dataset.name in OFFLINE_DATASETS and cfg.model.name in OFFLINE_MODELS
    assert cfg.method.tau == 10 and not cfg.plot and cfg.progress == "off"
    for key in set(paper) - {"dataset", "model", "seed", "method.n_ini", "method.tau", "method.n_components"}:
        assert embedded[key] == paper[key], f"{name}: embedded sweeps {key} differently"


def test_embedded_cold_start_follows_the_experiment():
    assert _compose("table1_fixed", "embedded").method.n_ini == 5  # paper: 50
    assert _compose("table7_strategies", "embedded").method.n_ini == 2  # paper: 20


def _candidates(grid) -> set:
    grid = OmegaConf.to_container(grid, resolve=True)
    return {
        (opt, tuple(sorted(zip(hp, point, strict=True))))
        for opt, hp in grid.items()
        for point in itertools.product(*hp.values())
    }


def test_paper15_is_the_papers_space_and_one_lr_the_default_lrs():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        default = compose("train")
        one_lr = compose("train", overrides=["space=one_lr"])
    assert default.space.name == "paper15" and _candidates(default.space.grid) == PAPER15
    lrs = {opt: dict(point)["lr"] for opt, point in _candidates(one_lr.space.grid)}
    assert lrs == {"sgd": 0.01, "sgdm": 0.01, "adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001}


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_doit_experiment_searches_the_15_paper_candidates(name, scale):
    cfg = _compose(name, scale)
    sweep = _sweep(cfg)
    if "doit" not in sweep.get("method", [cfg.method.name]):
        return  # no DOIT run in this sweep
    if name in OTHER_SPACE:
        if OTHER_SPACE[name]:
            assert cfg.space.name == OTHER_SPACE[name]
        else:
            assert "paper15" in sweep["space"]
        return
    assert "space" not in sweep and cfg.space.name == "paper15", name
    doit = _compose(name, scale, ["method=doit"]) if cfg.method.name != "doit" else cfg
    assert _candidates(doit.space.grid) == PAPER15, name


@pytest.mark.parametrize("name", EXPERIMENT_POINTS)
def test_embedded_form_is_the_pretrained_analogue_for_every_run(name):
    """The paper fine-tunes pre-trained models in every table and figure (section 5.1: "4 ImageNet
    pre-trained models"): every embedded run, DOIT and baselines alike, fine-tunes the digits 0-4 model."""
    cfg = _compose(name, "embedded")
    sweep = _sweep(cfg)
    assert sweep["dataset"] == ["digits_transfer"], name
    for method in sweep.get("method", [cfg.method.name]):
        point = _compose(
            name,
            "embedded",
            [f"{k}={v[0]}" for k, v in sweep.items() if k != "method"] + [f"method={method}"],
        )
        assert point.dataset.name == "digits_transfer" and point.model.pretrained is True, (name, method)


def test_peft_tables_stop_at_convergence():
    for name in (
        "table2_cv_grid",
        "table2_cv_fixed",
        "table2_nlp_grid",
        "table2_nlp_fixed",
        "table6_grid",
        "table6_fixed",
    ):
        for scale in SCALES:
            assert _compose(name, scale).convergence.stop is True, (name, scale)


MNIST_EXPERIMENTS = ("table1_grid", "table1_fixed", "table7_strategies", "table7_ablations", "table7_one_lr")


@pytest.mark.parametrize("name", MNIST_EXPERIMENTS)
def test_mnist_scale_is_tables_1_and_7_on_real_mnist_with_the_pretrained_small_cnn(name):
    """scale=mnist (make reproduce-mnist): the real MNIST, 3 seeds, the small CNN pre-trained on digits,
    270 switch cycles (2,700 steps at tau 10) of which 25 cold start, DOIT's 15 candidates."""
    cfg = _compose(name, "mnist")
    assert cfg.scale == "mnist" and cfg.hydra.sweep.dir == f"outputs/sweeps/{name}_mnist"
    sweep = _sweep(cfg)
    assert sweep["seed"] == ["0", "1", "2"] and sweep["dataset"] == ["mnist"] and sweep["model"] == ["cnn"]
    assert cfg.model.pretrained is True and list(cfg.model.source_classes) == list(range(10))
    assert (cfg.dataset.train_size, cfg.epochs, cfg.batch_size) == (24000, 4, 32)
    assert (cfg.method.tau, cfg.method.n_ini) == (10, 25)
    assert cfg.space.name == ("one_lr" if name == "table7_one_lr" else "paper15")


def test_table1_fixed_runs_the_four_hybrids_and_doit():
    assert _sweep(_compose("table1_fixed", "mnist"))["method"] == [
        "swats",
        "padam",
        "adabound",
        "agd",
        "doit",
    ]
