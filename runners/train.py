"""``python -m runners.train [overrides]``: the one runner (Hydra 1.3 app over ``conf/train.yaml``).

The config is checked before anything is written (``runners.config.Preflight``, a Hydra callback); then
``run`` builds data, model, training mode and method, estimates transferability for DOIT (eq. 6), trains
with ``runners.loop`` and writes ``result.json`` (``analysis.record.Result``), ``metrics.jsonl``,
``switches.csv`` (DOIT strategies), ``config.yaml``, ``checkpoint.pt`` and ``run.png`` into the run dir.
Re-running with the same run dir resumes from ``checkpoint.pt`` or re-reports a finished run.
``run(cfg, out_dir, choices)`` is the same without Hydra (tests, benchmarks, work queues); what it raises is
listed in its docstring and in ``runners.faults``. Any user error ends with one ``error: <key>: <problem>``
line on stderr and exit code 2; a diverged run, a failed write or GPU memory with one line and 1; SIGINT
and SIGTERM, after a checkpoint, with one line saying how to resume and 130 / 143. In a sweep (``-m``) a
diverged or failed run does not stop the others: the launcher reports them at the end
(``hydra_plugins.doit_launchers``).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from analysis.record import DoitSummary, Metrics, Result, RunInfo, Timing, at_chance
from doit.compression import select_state
from runners import checkpoint, config, preemption, provenance, results, rundir
from runners.config import compose, owner
from runners.data import build_data
from runners.data.fingerprint import check_unchanged, fingerprint
from runners.faults import (
    Interrupted,
    OutOfMemory,
    RunExit,
    RunFailed,
    SweepIncomplete,
    one_line,
    os_error_line,
)
from runners.loop import Diverged, Trainer, out_of_memory
from runners.methods import build_method, hyper
from runners.models import build_model
from runners.modes import apply_mode
from runners.progress import Progress
from runners.schema import CONF_DIR, ConfigError
from runners.transfer import estimate_transferability

__all__ = ["compose", "main", "run", "summary"]
log = logging.getLogger("runners.train")
_USER_FULL_ERROR = "RUNNERS_USER_HYDRA_FULL_ERROR"  # the user's own HYDRA_FULL_ERROR, before main() sets it


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
    config.check(cfg, choices)
    settings, is_doit = config.plain(cfg), cfg.method.kind == "doit"
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
    device = config.resolve_device(str(cfg.device))
    trainer = None
    try:
        _seed(cfg, device)
        data = build_data(cfg.dataset, cfg.model, int(cfg.batch_size), int(cfg.seed), device)
        data_print = fingerprint(data)
        if ckpt is not None:
            check_unchanged(ckpt.get("data"), data_print, cfg.dataset, out_dir / "checkpoint.pt")
        model = build_model(cfg.model, data).to(device)
        mode = apply_mode(model, cfg.mode, cfg)
        transfer = (
            ckpt["transfer"] if ckpt else estimate_transferability(model, data, cfg) if is_doit else None
        )
        with owner("method.state_layers"):
            state = select_state(mode.trainable_params, mode.state_patterns) if is_doit else None
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
        _plot(cfg, out_dir, trainer.state, opt if is_doit else None)
    result = _result(
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


def _seed(cfg, device) -> None:
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
    is_doit = cfg.method.kind == "doit"

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
        if is_doit:
            results.write_switches(out_dir / "switches.csv", opt.log, opt.labels)

    trainer = Trainer(
        model,
        opt,
        sched,
        data,
        epochs=int(cfg.epochs),
        device=device,
        is_doit=is_doit,
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

    fallback = cfg.method.name if doit_opt is not None else f"{hyper(cfg).optimizer}(lr={hyper(cfg).lr:g})"
    losses = torch.cat(loop_state.step_losses).tolist() if loop_state.step_losses else []
    plot_run(
        out_dir / "run.png",
        losses,
        loop_state.metrics,
        doit_opt.log if doit_opt is not None else None,
        fallback,
        f"{cfg.method.name} on {cfg.dataset.name}/{cfg.model.name}, seed {cfg.seed}",
    )


def _result(
    cfg, choices: dict, settings: dict, state, model, opt, transfer, wall_s: float, diverged, num_classes: int
) -> Result:
    """The run's record (``analysis.record``): what ran, its effective hyperparameters, metrics, timing."""
    m, is_doit, chance = cfg.method, cfg.method.kind == "doit", 100.0 / num_classes
    last = state.metrics[-1] if state.metrics else {}
    vals = [r["val_acc"] for r in state.metrics if r.get("val_acc") is not None]
    doit_only = (lambda v: v) if is_doit else (lambda v: None)
    run_info = RunInfo(
        experiment=cfg.experiment_name,
        scale=str(cfg.scale),
        dataset=cfg.dataset.name,
        model=cfg.model.name,
        mode=str(cfg.mode),
        method=m.name,
        seed=int(cfg.seed),
        epochs=int(cfg.epochs),
        batch_size=int(cfg.batch_size),
        ablation=choices.get("ablation") or "none",
        variant=cfg.variant,
        space=doit_only(cfg.space.name),
        space_grid=doit_only(settings["space"]["grid"]),
        tau=doit_only(m.tau),
        n_ini=doit_only(m.n_ini),
        n_components=doit_only(m.n_components),
        compression=doit_only(settings["method"]["compression"]),
        initial=doit_only(settings["method"]["initial"]),
        schedule=doit_only(settings["method"]["schedule"]),
        pretrained=bool(getattr(model, "weights_loaded", cfg.model.get("pretrained", False))),
        train_size=cfg.dataset.get("train_size"),
    )
    metrics = Metrics(
        final_test_acc=last.get("test_acc"),
        best_test_acc=state.best_test_acc if last else None,
        final_train_acc=last.get("train_acc"),
        final_train_loss=last.get("train_loss"),
        test_f1=last.get("test_f1"),
        test_acc3=last.get("test_acc3"),
        test_acc5=last.get("test_acc5"),
        val_acc=last.get("val_acc"),
        best_val_acc=max(vals) if vals else None,
        chance_acc=chance,
        at_chance=at_chance(last.get("test_acc"), chance),
    )
    timing = Timing(
        train_time_s=state.train_time_s,
        wall_time_s=wall_s,
        epochs_run=state.epoch,
        steps=state.step,
        transfer_time_s=float(transfer["time_s"]) if transfer else 0.0,
        controller_time_s=float(opt.controller_time_s) if is_doit else 0.0,
        converged_epoch=state.converged_epoch,
        converged_time_s=state.converged_time_s,
        target_acc=cfg.target_acc,
        time_to_target_s=state.time_to_target_s,
    )
    summary_doit = (
        DoitSummary(
            n_switches=int(opt.switch_count),
            n_cycles=int(opt.n_cycles),
            share=opt.share(),
            omega_t=float(opt.omega_t),
            logme=transfer.get("logme"),
            leep=transfer.get("leep"),
            omega_p=transfer.get("omega_p"),
            recovered_cycles=sum(1 for rec in opt.log if rec.get("recovered")),
        )
        if is_doit
        else None
    )
    return Result(
        status="diverged" if diverged else "complete",
        run=run_info,
        metrics=metrics,
        timing=timing,
        hyper=hyper(cfg),
        doit=summary_doit,
        diverged_step=diverged.step if diverged else None,
        config=settings,
    )


def summary(result: Result) -> str:
    """The short summary printed at the end of a run."""
    r, m, t, d = result.run, result.metrics, result.timing, result.doit
    if result.status == "diverged":
        head = f"{r.method} on {r.dataset}/{r.model} (seed {r.seed}): diverged at step {result.diverged_step}"
    else:
        head = (
            f"{r.method} on {r.dataset}/{r.model} (seed {r.seed}): final test acc {m.final_test_acc:.2f}%"
            f"{' (chance level)' if m.at_chance else ''}, best {m.best_test_acc:.2f}%, "
            f"train loss {m.final_train_loss:.4f}"
        )
    lines = [
        head,
        *_chance_note(result),
        f"wall {t.wall_time_s:.1f} s (training {t.train_time_s:.1f} s, {t.epochs_run} epochs, "
        f"{t.steps} steps; converged at epoch {t.converged_epoch})",
    ]
    if d is not None:
        share = ", ".join(f"{k} {v:.0%}" for k, v in sorted(d.share.items(), key=lambda kv: -kv[1]) if v > 0)
        lines.append(
            f"DOIT: {d.n_switches} switches in {d.n_cycles} cycles, omega_t {d.omega_t:.3f}, "
            f"controller {t.controller_time_s:.2f} s; share: {share}"
        )
    return "\n".join(lines)


def _chance_note(result: Result) -> list[str]:
    """What a final test accuracy at chance level means (nothing for any other run)."""
    m = result.metrics
    if not m.at_chance:
        return []
    chance = f"chance level is {m.chance_acc:.2f}% for {round(100 / m.chance_acc)} classes"
    if result.doit is not None:
        return [
            f"{chance}: the documented failure mode of switching over the paper's 15 candidates (an lr-0.1 "
            'cycle sends the network to chance), not a broken install; README section "Embedded results" '
            "explains it"
        ]
    return [f"{chance}: the model learned nothing; try another lr"]


def _discard_hydra_files(out_dir: Path) -> None:
    """A job refused for its config leaves no run dir behind: remove Hydra's own files if nothing else is there."""
    entries = list(out_dir.iterdir()) if out_dir.is_dir() else []
    if all(e.name == ".hydra" or (e.suffix == ".log" and e.stat().st_size == 0) for e in entries):
        shutil.rmtree(out_dir, ignore_errors=True)


def _task(cfg: DictConfig) -> str:
    """One Hydra job: the run's status ("complete" or "diverged", which a sweep's launcher counts), or
    ``RunExit`` with the one line (a diverged single run ends so too: exit code 1)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    logging.raiseExceptions = False  # a full disk must not print a traceback for each log line
    out_dir = Path(hc.runtime.output_dir)
    try:
        with preemption.handled():
            result = run(cfg, out_dir, dict(hc.runtime.choices))
    except (ConfigError, RunFailed, Interrupted) as err:
        # a config refused in a job of a multirun (checked here first) leaves no run dir behind
        if isinstance(err, ConfigError):
            _discard_hydra_files(out_dir)
        if os.environ.get(_USER_FULL_ERROR) == "1":
            raise
        raise RunExit(*one_line(err)) from None
    if result.status == "diverged" and hc.mode != RunMode.MULTIRUN:
        raise RunExit(
            f"training diverged at step {result.diverged_step} (non-finite loss); {out_dir}/result.json "
            "records status diverged",
            1,
        )
    return result.status


def main(argv: list[str] | None = None) -> int:
    """The console entry: whatever stops a run or a sweep is one ``error: ...`` line on stderr, with exit code
    2 for a config error, 1 for a diverged run, a failed write, GPU memory or a sweep with a failed or
    missing run, 128 + the signal for SIGINT/SIGTERM (``runners.faults``)."""
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    saved = os.environ.get("HYDRA_FULL_ERROR"), list(sys.argv)
    user_full_error = saved[0] == "1"
    os.environ[_USER_FULL_ERROR] = "1" if user_full_error else "0"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra raise instead of printing multi-line reports
    sys.argv = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    try:
        hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")(_task)()
    except config.Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SweepIncomplete as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ConfigError, HydraException, OmegaConfBaseException) as err:
        if user_full_error:
            raise
        print(f"error: {config.error_line(err)}", file=sys.stderr)
        return 2
    except ValueError as err:  # Hydra's own for a null group (method=null): not a HydraException
        if user_full_error or not config.from_hydra(err):
            raise
        print(f"error: {config.null_group_line(sys.argv[1:], err)}", file=sys.stderr)
        return 2
    except OSError as err:  # Hydra's own files (.hydra/, the job log) on a full or read-only disk
        if user_full_error:
            raise
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return 1
    except RunExit as exit_:
        print(f"error: {exit_.line}", file=sys.stderr)
        return exit_.code
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(f"error: {exit_.code}", file=sys.stderr)
        return exit_.code if isinstance(exit_.code, int) else 1
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the run's handlers were installed
        print(
            "error: interrupted by SIGINT before a checkpoint; run the same command to resume from the last one",
            file=sys.stderr,
        )
        return 130
    finally:
        if saved[0] is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved[0]
        sys.argv[:] = saved[1]
    return 0


if (
    __name__ == "__main__"
):  # the task must live in runners.train, not __main__: submitit pickles it by reference
    from runners.train import main as _main

    sys.exit(_main())
