"""``python -m runners.train [overrides]``: the one runner (Hydra 1.3 app over ``conf/train.yaml``).

Validates the config (one-line errors, exit code 2), builds data, model, training mode and method,
estimates transferability for DOIT (eq. 6), trains with ``runners.loop``, and writes ``result.json``,
``metrics.jsonl``, ``switches.csv`` (DOIT strategies), ``config.yaml``, ``checkpoint.pt`` and ``run.png``
into the run's output dir. Re-running with the same output dir resumes from ``checkpoint.pt`` (or just
re-reports a finished run). ``run(cfg, out_dir, choices)`` is the same without Hydra (tests, benchmarks).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from runners import schema
from runners.schema import ConfigError, bad

log = logging.getLogger("runners.train")
_USER_FULL_ERROR = "RUNNERS_USER_HYDRA_FULL_ERROR"  # the user's own HYDRA_FULL_ERROR, before main() sets it


def _container(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


def _comparable(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in schema.VOLATILE_KEYS}


def _check_same(stored: dict, config: dict, out_dir: Path, what: str) -> None:
    if _comparable(stored) != _comparable(config):
        diff = sorted(k for k in set(stored) | set(config)
                      if k not in schema.VOLATILE_KEYS and stored.get(k) != config.get(k))
        raise bad("hydra.run.dir", f"{out_dir} holds {what} with a different config (differs in "
                  f"{', '.join(diff)}); rerun with the same overrides or choose a new hydra.run.dir")


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise bad("device", f"{name!r} requested but CUDA is not available", ("auto", "cpu"))
    return torch.device(name)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def summary(result: dict) -> str:
    """The short summary printed at the end of a run."""
    m, t, d = result["metrics"], result["timing"], result["doit"]
    lines = [f"{result['run']['method']} on {result['run']['dataset']}/{result['run']['model']} "
             f"(seed {result['run']['seed']}): final test acc {m['final_test_acc']:.2f}%, "
             f"best {m['best_test_acc']:.2f}%, train loss {m['final_train_loss']:.4f}",
             f"wall {t['wall_time_s']:.1f} s (training {t['train_time_s']:.1f} s, {t['epochs_run']} epochs, "
             f"{t['steps']} steps; converged at epoch {t['converged_epoch']})"]
    if d is not None:
        share = ", ".join(f"{k} {v:.0%}" for k, v in sorted(d["share"].items(), key=lambda kv: -kv[1]) if v > 0)
        lines.append(f"DOIT: {d['n_switches']} switches in {d['n_cycles']} cycles, omega_t {d['omega_t']:.3f}, "
                     f"controller {t['controller_time_s']:.2f} s; share: {share}")
    return "\n".join(lines)


def _run_info(cfg, choices: dict, lr) -> dict:
    m, is_doit = cfg.method, cfg.method.kind == "doit"
    return {"experiment": cfg.experiment_name, "scale": cfg.scale, "dataset": cfg.dataset.name,
            "model": cfg.model.name, "mode": cfg.mode, "method": m.name,
            "optimizer": None if is_doit else m.optimizer, "lr": lr,
            "space": cfg.space.name if is_doit else None, "ablation": choices.get("ablation") or "none",
            "variant": cfg.variant, "seed": int(cfg.seed),
            "tau": int(m.tau) if is_doit else None, "n_ini": int(m.n_ini) if is_doit else None,
            "n_components": int(m.n_components) if is_doit else None,
            "compression": m.compression if is_doit else None,
            "epochs": int(cfg.epochs), "batch_size": int(cfg.batch_size)}


def _build_result(cfg, choices, config, state, opt, transfer, lr, wall_s) -> dict:
    from runners.results import SCHEMA

    last = state.metrics[-1]
    is_doit = cfg.method.kind == "doit"
    return {
        "schema": SCHEMA, "status": "complete", "run": _run_info(cfg, choices, lr),
        "metrics": {"final_test_acc": last["test_acc"], "best_test_acc": state.best_test_acc,
                    "final_train_acc": last["train_acc"], "final_train_loss": last["train_loss"],
                    "test_f1": last.get("test_f1"), "test_acc3": last.get("test_acc3"),
                    "test_acc5": last.get("test_acc5"), "val_acc": last.get("val_acc")},
        "timing": {"train_time_s": state.train_time_s, "wall_time_s": wall_s,
                   "transfer_time_s": float(transfer["time_s"]) if transfer else 0.0,
                   "controller_time_s": float(opt.controller_time_s) if is_doit else 0.0,
                   "converged_epoch": state.converged_epoch, "converged_time_s": state.converged_time_s,
                   "target_acc": cfg.target_acc, "time_to_target_s": state.time_to_target_s,
                   "epochs_run": state.epoch, "steps": state.step},
        "doit": {"n_switches": int(opt.switch_count), "n_cycles": int(opt.n_cycles), "share": opt.share(),
                 "omega_t": float(opt.omega_t)} if is_doit else None,
        "config": config,
    }


def compose(overrides: list[str]) -> tuple[DictConfig, dict]:
    """``(cfg, choices)`` of ``conf/train.yaml`` with ``overrides`` (no ``hydra`` node): input of ``run``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    with initialize_config_dir(version_base="1.3", config_dir=str(schema.CONF_DIR)):
        cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def run(cfg: DictConfig, out_dir: Path, choices: dict | None = None) -> dict:
    """Train (or resume, or re-report) the run of ``cfg`` in ``out_dir``; return ``result.json``'s dict."""
    t_start = time.perf_counter()
    choices = dict(choices or {})
    schema.validate(cfg, choices)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = _container(cfg)
    result_path = out_dir / "result.json"
    if result_path.exists():
        stored = json.loads(result_path.read_text())
        if stored.get("status") == "complete":
            _check_same(stored["config"], config, out_dir, "a finished run")
            print(summary(stored))
            return stored

    import torch

    from doit.compression import select_state
    from runners import checkpoint, results
    from runners.data import build_data
    from runners.loop import Trainer
    from runners.methods import build_method, effective_lr
    from runners.models import build_model
    from runners.modes import apply_mode
    from runners.progress import Progress
    from runners.transfer import estimate_transferability

    device = resolve_device(str(cfg.device))
    if cfg.amp and device.type != "cuda":
        log.info("amp=true ignored on %s (mixed precision is GPU only)", device)
    if cfg.get("threads") is not None:
        torch.set_num_threads(int(cfg.threads))
    seed_everything(int(cfg.seed))
    data = build_data(cfg.dataset, cfg.model, int(cfg.batch_size), int(cfg.seed), device)
    model = build_model(cfg.model, data).to(device)
    mode = apply_mode(model, cfg.mode, cfg)
    is_doit = cfg.method.kind == "doit"
    ckpt = checkpoint.load(out_dir / "checkpoint.pt")
    if ckpt is not None:
        _check_same(ckpt["config"], config, out_dir, "a checkpoint")
        transfer = ckpt["transfer"]
    else:
        transfer = estimate_transferability(model, data, cfg) if is_doit else None
    params = [p for _, p in mode.trainable_params]
    state = select_state(mode.trainable_params, mode.state_patterns) if is_doit else None
    opt, sched = build_method(cfg, params, state, len(data.train),
                              omega_t=transfer["omega_t"] if transfer else None)
    lr = effective_lr(cfg)
    results.write_text(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    wall_before = float(ckpt["wall_time_s"]) if ckpt else 0.0

    def save_checkpoint() -> None:
        checkpoint.save(out_dir / "checkpoint.pt", {
            "version": 1, "config": config, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else None, "trainer": trainer.state_dict(),
            "rng": checkpoint.rng_state(), "transfer": transfer,
            "wall_time_s": wall_before + time.perf_counter() - t_start})

    def write_epoch_files(loop_state) -> None:
        results.write_jsonl(out_dir / "metrics.jsonl", loop_state.metrics)
        if is_doit:
            results.write_switches(out_dir / "switches.csv", opt.log, opt.labels)

    trainer = Trainer(model, opt, sched, data, epochs=int(cfg.epochs), device=device, is_doit=is_doit,
                      amp=bool(cfg.amp), tol=float(cfg.convergence.tol), patience=int(cfg.convergence.patience),
                      stop=bool(cfg.convergence.stop), target_acc=cfg.target_acc,
                      checkpoint_every_steps=int(cfg.checkpoint_every_steps),
                      checkpoint_every_s=float(cfg.checkpoint_every_s or 0), on_checkpoint=save_checkpoint,
                      on_epoch=write_epoch_files)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if sched is not None:
            sched.load_state_dict(ckpt["scheduler"])
        trainer.load_state_dict(ckpt["trainer"])
        checkpoint.set_rng_state(ckpt["rng"])
        log.info("resumed from %s at epoch %d, step %d", out_dir / "checkpoint.pt", trainer.state.epoch,
                 trainer.state.step)
    trainer.progress = progress = Progress(cfg.progress, int(cfg.epochs) * len(data.train), trainer.state.step)
    if not trainer.finished:
        trainer.run()
    else:
        write_epoch_files(trainer.state)
    progress.close()
    loop_state = trainer.state
    if cfg.plot:
        from runners.plots import plot_run

        fallback = cfg.method.name if is_doit else f"{cfg.method.optimizer}(lr={lr:g})"
        plot_run(out_dir / "run.png", torch.cat(loop_state.step_losses).tolist() if loop_state.step_losses else [],
                 loop_state.metrics, opt.log if is_doit else None, fallback,
                 f"{cfg.method.name} on {cfg.dataset.name}/{cfg.model.name}, seed {cfg.seed}")
    result = _build_result(cfg, choices, config, loop_state, opt, transfer, lr,
                           wall_before + time.perf_counter() - t_start)
    results.check_result(result)
    results.write_json(result_path, result)
    print(summary(result))
    return result


def _task(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from runners import preemption

    hc = HydraConfig.get()
    preemption.install()
    try:
        run(cfg, Path(hc.runtime.output_dir), dict(hc.runtime.choices))
    except ConfigError as err:  # SystemExit passes Hydra's job wrapper without its multi-line report
        if os.environ.get(_USER_FULL_ERROR) == "1":
            raise
        raise SystemExit(f"error: {err}") from None


def _hydra_main() -> None:
    import hydra

    hydra.main(version_base="1.3", config_path=str(schema.CONF_DIR), config_name="train")(_task)()


def main(argv: list[str] | None = None) -> int:
    """The console entry: one ``error: ...`` line on stderr and exit code 2 for any config error."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    argv = sys.argv[1:] if argv is None else argv
    user_full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ[_USER_FULL_ERROR] = "1" if user_full_error else "0"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra raise instead of printing multi-line reports
    try:
        schema.check_overrides(schema.override_args(argv))
        _hydra_main()
    except ConfigError as err:
        if user_full_error:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (HydraException, OmegaConfBaseException) as err:
        if user_full_error:
            raise
        print(f"error: {schema.hydra_error_line(err, schema.override_args(argv))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
