"""Issue 9: the tables read the paper-faithful runs. Embedded columns are the pre-trained analogue,
Table 7 shows omega_t (why its ablation rows differ) and a DOIT row over one lr per optimizer, the PEFT
tables report the time to the convergence stop, and the seeds per scale match the experiment configs."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from analysis import protocol
from runners import config
from runners.schema import CONF_DIR


def test_every_embedded_column_reads_the_pretrained_analogue():
    for spec in protocol.TABLES.values():
        for column in spec.columns_at("embedded"):
            assert column.runs["embedded"][0] == "digits_transfer", (spec.id, column.key)


def test_every_row_comes_from_an_existing_experiment():
    experiments = set(config.group_options("experiment"))
    for spec in protocol.TABLES.values():
        for row in spec.rows:
            assert row.experiment in experiments, (spec.id, row.key)


def test_table7_shows_omega_t_and_the_one_lr_row():
    t7 = protocol.TABLES["table7"]
    assert protocol.OMEGA in t7.metrics and protocol.OMEGA in protocol.TABLES["table8"].metrics
    one_lr = next(r for r in t7.rows if r.key == "one_lr")
    assert one_lr.experiment == "table7_one_lr" and ("space", "one_lr") in one_lr.match
    assert not one_lr.baseline
    assert [r.key for r in t7.rows] == [
        "random",
        "cyclical",
        "no_transfer",
        "no_halving",
        "halve",
        "one_lr",
        "doit",
    ]


def test_peft_tables_report_the_convergence_time():
    for table in ("table2", "table6"):
        metrics = protocol.TABLES[table].metrics
        assert protocol.CONV_TIME in metrics and protocol.TIME not in metrics


def test_seeds_per_scale_match_the_experiment_sweeps():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for scale, extra in (("paper", []), ("embedded", ["scale=embedded"])):
            cfg = compose("train", overrides=["experiment=table7_one_lr", *extra], return_hydra_config=True)
            seeds = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)["seed"]
            assert tuple(int(s) for s in seeds.split(",")) == protocol.SEEDS[scale]
