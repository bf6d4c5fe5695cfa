"""``run(cfg, out_dir, choices)``: the steps of one run; ``python -m runners.train [overrides]`` is its
command line (``runners.cli``).

``run`` checks the config (``runners.checks``), prepares the run dir (``runners.rundir``: re-report a
finished run, resume from ``checkpoint.pt``), builds data, model, training mode and method, estimates
transferability for DOIT (eq. 6), trains with ``runners.loop`` and writes ``result.json`` (the record of
``runners.report``), ``metrics.jsonl``, ``switches.csv`` (DOIT strategies), ``config.yaml``,
``checkpoint.pt`` and ``run.png`` into the run dir. Tests, benchmarks and work queues call it without Hydra;
what it raises is listed in its docstring and in ``runners.faults``.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from analysis.record import Result
from doit.compression import select_state
from runners import checkpoint, preemption, provenance, results, rundir
from runners.checks import check, resolve_device
from runners.config import compose, to_python
from runners.data import build_data
from runners.data.fingerprint import check_unchanged, fingerprint
from runners.errors import as_config_error
from runners.faults import Interrupted, OutOfMemory, out_of_memory
from runners.loop import Diverged, Trainer
from runners.methods import build_method, effective_hyper
from runners.models import build_model
from runners.modes import apply_mode
from runners.progress import Progress
from runners.report import build_result, summary
from runners.transfer import estimate_transferability

__all__ = ["compose", "run"]
log = logging.getLogger("runners.train")


def run(cfg: DictConfig, out_dir: Path, choices: dict | None = None) -> Result:
    """Train (or resume, or re-report) the run of ``cfg`` in ``out_dir``; return its ``result.json`` record.

    A run whose loss became non-finite returns its record with ``status`` "diverged". Whatever else stops
    a run raises, with ``str(err)`` the one line to show (``runners.faults.one_line`` adds the exit code):
    ``runners.schema.ConfigError`` (a user error: a config value, the run dir, a dataset that changed since
    the checkpoint), ``faults.WriteFailed`` (an ``OSError``: an artefact could not be written),
    ``faults.OutOfMemory`` (GPU memory in a step, an evaluation or the setup), ``faults.Interrupted`` (a
    ``BaseException``: SIGINT or SIGTERM once the checkpoint is written, when ``run`` is called inside
    ``with runners.preemption.handled():``; without it they stay Python's: ``KeyboardInterrupt``). The last
    good checkpoint and result files stay intact; rerunning resumes. Anything else is a bug and keeps its
    traceback.
    """
    t_start, choices, out_dir = time.perf_counter(), dict(choices or {}), Path(out_dir)
    check(cfg, choices)
    settings, switching = to_python(cfg), cfg.method.kind == "doit"  # kind doit: every switching strategy
    rundir.prepare(out_dir)
    if not cfg.resume:
        rundir.set_aside(out_dir)
    done = rundir.finished_result(out_dir, settings)
    if done is not None:
        print(summary(done))
        return done
    ckpt = rundir.load_checkpoint(out_dir, settings)
    if ckpt is None:
        rundir.remove_stale(out_dir)
    device = resolve_device(str(cfg.device))
    trainer = None
    try:
        _set_up_torch(cfg, device)
        data = build_data(cfg.dataset, cfg.model, int(cfg.batch_size), int(cfg.seed), device)
        data_print = fingerprint(data)
        if ckpt is not None:
            check_unchanged(ckpt.get("data"), data_print, cfg.dataset, out_dir / "checkpoint.pt")
        model = build_model(cfg.model, data).to(device)
        mode = apply_mode(model, cfg.mode, cfg)
        transfer = (
            ckpt["transfer"] if ckpt else estimate_transferability(model, data, cfg) if switching else None
        )
        with as_config_error("method.state_layers"):
            state = select_state(mode.trainable_params, mode.state_patterns) if switching else None
        opt, sched = build_method(
            cfg,
            [p for _, p in mode.trainable_params],
            state,
            len(data.train),
            omega_t=transfer["omega_t"] if transfer else None,
        )
        results.write_text(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
        wall_before = float(ckpt["wall_time_s"]) if ckpt else 0.0

        def elapsed() -> float:
            return wall_before + time.perf_counter() - t_start

        saved = {"transfer": transfer, "data": data_print}
        trainer = _trainer(cfg, model, opt, sched, data, device, out_dir, settings, saved, elapsed)
        if ckpt is not None:
            _restore(ckpt, model, opt, sched, trainer, out_dir)
        trainer.progress = Progress(cfg.progress, int(cfg.epochs) * len(data.train), trainer.state.step)
        diverged = _train(trainer, out_dir)
    except (OutOfMemory, torch.OutOfMemoryError) as err:
        saved_step = (
            trainer.saved_step if trainer is not None else ckpt["trainer"]["loop"]["step"] if ckpt else None
        )
        raise _out_of_memory(cfg, err, out_dir, saved_step) from None
    if cfg.plot:
        _plot(cfg, out_dir, trainer.state, opt if switching else None)
    result = build_result(
        cfg, choices, settings, trainer.state, model, opt, transfer, elapsed(), diverged, data.num_classes
    )
    result.env = provenance.environment(device)
    results.write_result(out_dir / "result.json", result)
    print(summary(result))
    signum = preemption.requested_signal()
    if signum in preemption.STOP_SIGNALS:  # it arrived after the last step boundary: the run is complete
        raise Interrupted(signum, f" after the run ended; {out_dir / 'result.json'} is complete")
    return result


def _train(trainer: Trainer, out_dir: Path) -> Diverged | None:
    """Run (or finish) the loop; the divergence it stopped at, if any. A signal's stop names the checkpoint."""
    try:
        trainer.run() if not trainer.finished else trainer.on_epoch(trainer.state)
    except Diverged as err:
        trainer.on_epoch(trainer.state)  # metrics.jsonl and switches.csv up to the divergence
        return err
    except Interrupted as err:
        raise Interrupted(
            err.signum,
            f" at step {trainer.state.step}; {out_dir / 'checkpoint.pt'} holds it: run the same command "
            "to resume",
        ) from None
    finally:
        trainer.progress.close()
    return None


def _out_of_memory(cfg, err, out_dir: Path, saved_step: int | None) -> OutOfMemory:
    """``err`` (torch's, or the loop's ``OutOfMemory``) with what to change and what was kept."""
    if not isinstance(err, OutOfMemory):
        err = out_of_memory(err, "the setup (data, model or transferability)")
    change = [f"a smaller batch_size (now {cfg.batch_size})"]
    if not cfg.amp:
        change.append("amp=true")
    if cfg.model.get("image_size"):
        change.append(f"a smaller model.image_size (now {cfg.model.image_size})")
    kept = (
        f"{out_dir / 'checkpoint.pt'} of step {saved_step} is kept (the same command retries from it)"
        if saved_step is not None
        else "no checkpoint was written yet"
    )
    options = f"{', '.join(change[:-1])} or {change[-1]}" if len(change) > 1 else change[0]
    advice = f"; to fit, try {options} in a new hydra.run.dir (or with resume=false); {kept}"
    return OutOfMemory(err.where, err.detail, advice)


def _set_up_torch(cfg, device) -> None:
    """Seed every RNG with ``cfg.seed``, set torch's CPU threads and cuDNN's deterministic algorithms."""
    if cfg.amp and device.type != "cuda":
        log.info("amp=true ignored on %s (mixed precision is GPU only)", device)
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def _trainer(
    cfg, model, opt, sched, data, device, out_dir: Path, settings: dict, saved: dict, elapsed
) -> Trainer:
    """The loop, with its checkpoint (``saved``: the transferability estimate and the data's fingerprint
    go in as they are) and per-epoch file writers."""
    switching = cfg.method.kind == "doit"

    def save_checkpoint() -> None:
        checkpoint.save(
            out_dir / "checkpoint.pt",
            {
                "version": checkpoint.VERSION,
                "config": settings,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "trainer": trainer.state_dict(),
                "rng": checkpoint.rng_state(),
                **saved,
                "wall_time_s": elapsed(),
            },
        )

    def write_epoch_files(loop_state) -> None:
        results.write_jsonl(out_dir / "metrics.jsonl", loop_state.metrics)
        if switching:
            results.write_switches(out_dir / "switches.csv", opt.log, opt.labels)

    trainer = Trainer(
        model,
        opt,
        sched,
        data,
        epochs=int(cfg.epochs),
        device=device,
        is_doit=switching,
        amp=bool(cfg.amp),
        tol=float(cfg.convergence.tol),
        patience=int(cfg.convergence.patience),
        stop=bool(cfg.convergence.stop),
        target_acc=cfg.target_acc,
        checkpoint_every_steps=int(cfg.checkpoint_every_steps),
        checkpoint_every_s=float(cfg.checkpoint_every_s),
        on_checkpoint=save_checkpoint,
        on_epoch=write_epoch_files,
    )
    return trainer


def _restore(ckpt: dict, model, opt, sched, trainer: Trainer, out_dir: Path) -> None:
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    if sched is not None:
        sched.load_state_dict(ckpt["scheduler"])
    trainer.load_state_dict(ckpt["trainer"])
    checkpoint.set_rng_state(ckpt["rng"])
    log.info(
        "resumed from %s at epoch %d, step %d",
        out_dir / "checkpoint.pt",
        trainer.state.epoch,
        trainer.state.step,
    )


def _plot(cfg, out_dir: Path, loop_state, doit_opt) -> None:
    from runners.plots import plot_run

    if doit_opt is not None:
        fallback = cfg.method.name
    else:
        used = effective_hyper(cfg)
        fallback = f"{used.optimizer}(lr={used.lr:g})"
    losses = torch.cat(loop_state.step_losses).tolist() if loop_state.step_losses else []
    plot_run(
        out_dir / "run.png",
        losses,
        loop_state.metrics,
        doit_opt.log if doit_opt is not None else None,
        fallback,
        f"{cfg.method.name} on {cfg.dataset.name}/{cfg.model.name}, seed {cfg.seed}",
    )


if __name__ == "__main__":  # python -m runners.train: the command line (runners.cli)
    from runners.cli import main

    sys.exit(main())
