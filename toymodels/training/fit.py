"""The fit of one run (or one seed ensemble) from its validated RunConfig, and its final status.

``train_run`` locks the members' run folders, skips a run already done, and fits; ``fit_with_status``
is the one place that decides how a fit ended: completed, diverged (exit 3 outside a sweep),
interrupted (a checkpoint, status "running", exit 130 or 143) or failed (the error re-raised).
Nothing here goes back to the config module: the RunConfig is read, never re-validated.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L

from toymodels.errors import DivergedError
from toymodels.runs.records import gap_text, read_run_json
from toymodels.training import build
from toymodels.training.checkpoints import check_checkpoint, save_checkpoint_atomically
from toymodels.training.config import RunConfig
from toymodels.training.interrupts import StopAtStepEnd, received, stop_signals
from toymodels.training.loggers import close_loggers
from toymodels.training.recorder import Member, RunRecorder, flops_milestones
from toymodels.training.rundir import FINAL_STATUSES, RunLock, check_members, member_dirs


def train_run(run_cfg: RunConfig, run_dir: Path, in_sweep: bool) -> dict:
    """Train a validated run in `run_dir` (its ensemble's siblings beside it); returns its (first member's)
    final run.json record. A run whose every member is already completed or diverged is skipped."""
    members = member_dirs(run_cfg, run_dir)
    with contextlib.ExitStack() as locks:
        for _, member_dir in members:
            locks.enter_context(RunLock(member_dir))
        previous = check_members(members)
        if all(p and p.get("status") in FINAL_STATUSES for p in previous):
            for (member, member_dir), p in zip(members, previous):
                print(f"[toymodels] {member.name}: already {p['status']} in {member_dir}, skipping", flush=True)
            return previous[0]
        return fit_run(run_cfg, members, in_sweep)


@dataclass
class Job:
    """A fit ready to start: the objects of every member, built from one RunConfig."""

    run_cfg: RunConfig
    members: list  # (member RunConfig, run folder)
    data: object
    module: object
    recorder: object
    trainer: object
    loggers: list
    resume: Path


def prepare(run_cfg: RunConfig, members: list) -> Job:
    """Seed, build the objects of a run, and check the checkpoint it resumes from (if any)."""
    # Lightning's INFO lines (GPU available..., tips) would be printed twice through Hydra's logging.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|Trying to infer the).*")
    L.seed_everything(run_cfg.seed, workers=True, verbose=False)
    run_dir = members[0][1]
    data, module = build.make_data(run_cfg), build.make_module(run_cfg)
    resume = run_dir / "checkpoints" / "last.ckpt"
    if resume.exists():
        check_checkpoint(resume, module)
    milestones = flops_milestones(run_cfg.cost.flops * run_cfg.max_steps, run_cfg.eval.per_decade,
                                  run_cfg.eval.start_fraction)
    ensemble = {"ensemble": {"seeds": list(run_cfg.seeds), "dir": str(run_dir)}} if len(run_cfg.seeds) > 1 else {}
    records = [Member(member_dir, {**build.run_info(member), **ensemble}, build.make_loggers(member, member_dir))
               for member, member_dir in members]
    recorder = RunRecorder(build.make_evaluator(run_cfg, data), records, milestones, verbose=run_cfg.verbose,
                           train_evaluator=build.make_train_evaluator(run_cfg, data))
    loggers = [lg for m in records for lg in m.loggers]
    trainer = build.build_trainer(run_cfg, run_dir, [StopAtStepEnd(), recorder, *build.make_callbacks(run_cfg)],
                                  loggers)
    return Job(run_cfg, members, data, module, recorder, trainer, loggers, resume)


def fit_run(run_cfg: RunConfig, members: list, in_sweep: bool) -> dict:
    """Fit a checked run (every member of the ensemble) in its locked folders; its first member's record."""
    job = prepare(run_cfg, members)
    n = len(run_cfg.seeds)
    who = f"{run_cfg.name} + {n - 1} more seeds" if n > 1 else run_cfg.name
    print(f"[toymodels] {who}: {run_cfg.task.label}, model {run_cfg.model.name} "
          f"({run_cfg.cost.flops * run_cfg.max_steps:.2e} FLOPs, {run_cfg.max_steps} steps)"
          + (" — resuming" if job.resume.exists() else ""), flush=True)
    if run_cfg.warmup_steps < run_cfg.optim.warmup_steps:
        print(f"[toymodels] {run_cfg.name}: warm-up capped at {run_cfg.warmup_steps} steps (a tenth of the run; "
              f"train.warmup_steps={run_cfg.optim.warmup_steps})", flush=True)
    t0 = time.perf_counter()
    status = fit_with_status(job, in_sweep)
    if status == "diverged":  # in a sweep (outside one, fit_with_status exits 3): the other runs go on
        return read_run_json(members[0][1]) or {}
    records = [read_run_json(member_dir) or {} for _, member_dir in members]
    if status == "completed" and job.trainer.is_global_zero:
        for record, (_, member_dir) in zip(records, members):
            _print_completed(record, member_dir, job.recorder, time.perf_counter() - t0)
    if not in_sweep and any(r.get("status") == "diverged" for r in records):
        sys.exit(3)
    return records[0]


def fit_with_status(job: Job, in_sweep: bool) -> str:
    """Run the fit and record how it ended: "completed", "running" (stopped short), or "diverged"; an
    interrupt saves a checkpoint and exits 130 (Ctrl-C) or 143 (SIGTERM); any other error is recorded
    as "failed" and raised again. The loggers are closed whatever happens."""
    with stop_signals():
        return _fit_with_status(job, in_sweep)


def _fit_with_status(job: Job, in_sweep: bool) -> str:
    trainer, recorder, module, name = job.trainer, job.recorder, job.module, job.run_cfg.name
    try:
        fit(trainer, module, job.data, ckpt_path=str(job.resume) if job.resume.exists() else None)
    except DivergedError as err:
        if trainer.is_global_zero:
            recorder.write_run_json("diverged", str(err), pl_module=module)
        print(f"[toymodels] {name}: diverged: {err}", file=sys.stderr, flush=True)
        if not in_sweep:  # in a sweep, the other runs go on
            sys.exit(3)
        return "diverged"
    except (KeyboardInterrupt, SystemExit) as err:
        # Ctrl-C, or SIGTERM (Lightning raises SIGTERMException, a SystemExit with code 0): keep the
        # step reached in a checkpoint, never call the run completed, and stop the whole job.
        sigterm = (trainer.received_sigterm or received() == signal.SIGTERM) and not isinstance(err, KeyboardInterrupt)
        if trainer.is_global_zero:
            _keep_interrupted(job)
        print(f"[toymodels] {name}: interrupted at step {trainer.global_step}; "
              "run the same command again to resume", file=sys.stderr, flush=True)
        raise SystemExit(143 if sigterm else 130) from None
    except BaseException as err:
        if trainer.is_global_zero:
            recorder.write_run_json("failed", f"{type(err).__name__}: {err}".strip(), pl_module=module)
        raise
    finally:
        close_loggers(job.loggers)
    completed = recorder.steps_done(trainer) >= job.run_cfg.max_steps  # ddp_spawn: the fit ran in workers
    if trainer.is_global_zero:
        recorder.write_run_json("completed" if completed else "running", pl_module=module)
    return "completed" if completed else "running"


def _keep_interrupted(job: Job) -> None:
    """After an interrupt: the step reached in checkpoints/last.ckpt, and run.json saying how to resume."""
    trainer = job.trainer
    try:
        job.resume.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint_atomically(trainer, job.resume)
    except Exception as err:  # after an interrupt, the trainer may be torn down: keep the last checkpoint
        print(f"[toymodels] could not save a checkpoint at interruption ({type(err).__name__}: {err})",
              file=sys.stderr)
    job.recorder.write_run_json(
        "running", f"interrupted at step {trainer.global_step}; run the same command again to resume",
        pl_module=job.module,
    )


def _print_completed(record: dict, member_dir: Path, recorder, seconds: float) -> None:
    """The one line a completed run ends with (and its grok gap, where the run measured one)."""
    m = record.get("metrics") or {}
    if "exact_match" in m or "loss" not in m:
        scores = (f"exact_match {m.get('exact_match', math.nan):.3f}, "
                  f"digit_accuracy {m.get('digit_accuracy', math.nan):.3f}")
    else:  # a mixture
        scores = recorder.evaluator.progress_text(m)
    print(f"[toymodels] {record.get('name')}: {record.get('status')} in {seconds:.1f}s — {scores} "
          f"at {record.get('flops', 0):.2e} FLOPs → {member_dir}", flush=True)
    if "grok_gap" in record:
        print(f"[toymodels] {record.get('name')}: grok_gap: {gap_text(record['grok_gap'])}", flush=True)


def fit(trainer, module, data, ckpt_path: str | None) -> None:
    """trainer.fit; a ddp_spawn worker's DivergedError, which reaches this process only as text, is raised again."""
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
    except Exception as err:
        last = (str(err).strip().splitlines() or [""])[-1]
        prefix = f"{DivergedError.__module__}.{DivergedError.__name__}: "
        if type(err).__name__ == "ProcessRaisedException" and last.startswith(prefix):
            raise DivergedError(last[len(prefix):]) from None
        raise
