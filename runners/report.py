"""What a run reports: its record (``analysis.record.Result``, written as ``result.json``) built from what
ran and what the loop measured, and the short summary printed at its end."""

from __future__ import annotations

from analysis.record import DoitSummary, Metrics, Result, RunInfo, Timing, at_chance
from runners.methods import effective_hyper


def build_result(
    cfg, choices: dict, settings: dict, state, model, opt, transfer, wall_s: float, diverged, num_classes: int
) -> Result:
    """The run's record: what ran (``settings``: the resolved config), its effective hyperparameters, the
    loop's final metrics and timing, DOIT's switching; ``diverged``: the loop's ``Diverged`` or None."""
    m, switching, chance = cfg.method, cfg.method.kind == "doit", 100.0 / num_classes
    last = state.metrics[-1] if state.metrics else None
    vals = [e.val_acc for e in state.metrics if e.val_acc is not None]
    switching_only = (lambda v: v) if switching else (lambda v: None)
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
        space=switching_only(cfg.space.name),
        space_grid=switching_only(settings["space"]["grid"]),
        tau=switching_only(m.tau),
        n_ini=switching_only(m.n_ini),
        n_components=switching_only(m.n_components),
        compression=switching_only(settings["method"]["compression"]),
        initial=switching_only(settings["method"]["initial"]),
        schedule=switching_only(settings["method"]["schedule"]),
        pretrained=bool(getattr(model, "weights_loaded", cfg.model.get("pretrained", False))),
        train_size=cfg.dataset.get("train_size"),
    )
    metrics = Metrics(
        final_test_acc=last.test_acc if last else None,
        best_test_acc=state.best_test_acc if last else None,
        final_train_acc=last.train_acc if last else None,
        final_train_loss=last.train_loss if last else None,
        test_f1=last.test_f1 if last else None,
        test_acc3=last.test_acc3 if last else None,
        test_acc5=last.test_acc5 if last else None,
        val_acc=last.val_acc if last else None,
        best_val_acc=max(vals) if vals else None,
        chance_acc=chance,
        at_chance=at_chance(last.test_acc if last else None, chance),
    )
    timing = Timing(
        train_time_s=state.train_time_s,
        wall_time_s=wall_s,
        epochs_run=state.epoch,
        steps=state.step,
        transfer_time_s=float(transfer["time_s"]) if transfer else 0.0,
        controller_time_s=float(opt.controller_time_s) if switching else 0.0,
        converged_epoch=state.converged_epoch,
        converged_time_s=state.converged_time_s,
        target_acc=cfg.target_acc,
        time_to_target_s=state.time_to_target_s,
    )
    doit_summary = (
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
        if switching
        else None
    )
    return Result(
        status="diverged" if diverged else "complete",
        run=run_info,
        metrics=metrics,
        timing=timing,
        hyper=effective_hyper(cfg),
        doit=doit_summary,
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
        f"{t.steps} steps; {_convergence(t.converged_epoch)})",
    ]
    if d is not None:
        share = ", ".join(f"{k} {v:.0%}" for k, v in sorted(d.share.items(), key=lambda kv: -kv[1]) if v > 0)
        lines.append(
            f"DOIT: {d.n_switches} switches in {d.n_cycles} cycles, omega_t {d.omega_t:.3f}, "
            f"controller {t.controller_time_s:.2f} s; share: {share}"
        )
    return "\n".join(lines)


def _convergence(epoch: int | None) -> str:
    """The convergence rule's verdict (conf/train.yaml `convergence`) in words."""
    return "not converged by the rule" if epoch is None else f"converged at epoch {epoch}"


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
