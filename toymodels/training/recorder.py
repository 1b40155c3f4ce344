"""The run's records: evaluate at FLOPs milestones, write metrics.csv, train_curve.csv, run.json.

Rank 0 writes every record of a run folder (README "Output files"):
- ``metrics.csv``: one row per evaluation point (step, tokens, flops, wall_seconds, the metrics; with a
  finite training set also the train_ metrics on a fixed sample of it);
- ``train_curve.csv``: the training loss and learning rate on logging steps;
- ``run.json``: the run's status, its accounting and final metrics, written atomically;
- ``final_problems.npz``: at the last evaluation, per held-out problem: operands, carries,
  log p(answer) and whether greedy decoding got it right (for heavy-tail analyses).
On resume, the points recorded up to the checkpoint's step are kept and later ones are redone.

A seed ensemble has one run folder per member, each written exactly as the single run with that
seed would write it (its own FLOPs and tokens, its own loggers); a member that diverges is recorded
as diverged there and no longer evaluated, while the others go on.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np

from toymodels.runs.records import (
    METRICS,
    TRAIN_METRICS,
    TRAIN_PREFIX,
    atomic_write,
    grok_gap,
    read_run_json,
    write_json,
)
from toymodels.training.interrupts import interruptible
from toymodels.training.metrics import Evaluator

# The part of run.json that only the process running the fit knows (see RunRecorder.write_run_json).
PROGRESS = ("step", "flops", "tokens", "flops_6nd", "metrics", "wall_seconds", "eval_seconds", "epochs", "grok_gap")
TRAIN_CURVE = ("step", "tokens", "flops", "loss", "lr")


def flops_milestones(total_flops: float, per_decade: int, start_fraction: float) -> np.ndarray:
    """Log-spaced evaluation points 10**(k/per_decade) in [start_fraction·total, total].

    The grid is absolute, not relative to the run, so runs of different sizes share x-values.
    """
    lo = math.ceil(math.log10(total_flops * start_fraction) * per_decade - 1e-9)
    hi = math.floor(math.log10(total_flops) * per_decade + 1e-9)
    return 10.0 ** (np.arange(lo, hi + 1) / per_decade)


def _read_csv(path: Path, upto_step: int) -> list[dict]:
    """The rows of one of our CSV files whose step is at most upto_step (none if there is no file)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f) if float(row["step"]) <= upto_step]


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    out = io.StringIO()
    out.write(",".join(columns) + "\n")
    for row in rows:
        out.write(",".join(_fmt(row[c]) for c in columns) + "\n")
    atomic_write(path, out.getvalue())


def _fmt(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))


@dataclass
class Member:
    """One member's run folder, its loggers, and the records kept for it."""

    run_dir: Path
    info: dict
    loggers: list = field(default_factory=list)
    points: list = field(default_factory=list)  # evaluation points, as metrics.csv holds them
    curve: list = field(default_factory=list)  # training-loss points, as train_curve.csv holds them
    wall_offset: float = 0.0
    diverged: str | None = None  # why it diverged, once it did

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)


class RunRecorder(L.Callback):
    """Evaluates every live member at FLOPs milestones and at the end; rank 0 writes the run folders."""

    def __init__(self, evaluator: Evaluator, members: list[Member], milestones: np.ndarray, verbose: bool = True,
                 train_evaluator: Evaluator | None = None):
        self.evaluator, self.members = evaluator, list(members)
        self.train_evaluator = train_evaluator  # scores a sample of the finite training set: the train_ metrics
        self.milestones, self.verbose = milestones, verbose
        self.eval_seconds = 0.0  # time spent evaluating, this session (reported in run.json)
        self.fit_here = False  # Lightning ran the fit in this process (not so in ddp_spawn's launching process)
        self.t0 = time.perf_counter()
        self._member_model = None  # a one-member model the weights of the member being evaluated go into
        self.done: int | None = None  # the step of the last evaluation point

    @property
    def columns(self) -> list[str]:
        train = TRAIN_METRICS if self.train_evaluator is not None else ()
        return ["step", "tokens", "flops", "wall_seconds", *self.evaluator.metric_columns, *train]

    def write_run_json(self, status: str, message: str | None = None, pl_module=None) -> None:
        """Write every member's run.json with the current state (rank 0 only); a diverged member stays diverged.

        Where the fit ran in other processes (ddp_spawn: this process only launched them, and its
        trainer and recorder never saw a step), the progress rank 0 recorded there is kept.
        """
        if pl_module is not None:
            self._note_divergence(pl_module)
        for member in self.members:
            if member.diverged is not None and pl_module is not None and status != "diverged":
                continue  # its record was written when it diverged
            self._write_member(member, "diverged" if member.diverged else status,
                               member.diverged or message, pl_module)

    def _write_member(self, member: Member, status: str, message: str | None, pl_module) -> None:
        record = dict(member.info, status=status, message=message)
        if pl_module is not None:
            record.update(step=pl_module.global_step, flops=pl_module.flops, tokens=pl_module.tokens)
            record["flops_6nd"] = pl_module.global_step * pl_module.cost.flops_6nd
            if member.info.get("train_size"):
                record["epochs"] = pl_module.global_step * member.info["batch_size"] / member.info["train_size"]
        if member.points:
            last = member.points[-1]
            record["metrics"] = self.evaluator.run_metrics(last)
            record["metrics"].update({k: last[k] for k in ("weight_norm", *TRAIN_METRICS) if k in last})
            if self.train_evaluator is not None:
                record["grok_gap"] = grok_gap(member.points)
            record["wall_seconds"] = last["wall_seconds"]
        record["eval_seconds"] = self.eval_seconds
        if not self.fit_here:
            earlier = read_run_json(member.run_dir) or {}
            record.update({k: earlier[k] for k in PROGRESS if k in earlier})
        write_json(member.run_dir / "run.json", record)

    def _note_divergence(self, pl_module) -> None:
        """Record the members the module saw diverge since the last call."""
        died, pl_module.died = pl_module.died, []
        for i, why in died:
            member = self.members[i]
            if member.diverged is None:
                member.diverged = why
                if len(self.members) > 1:
                    print(f"[toymodels] {member.info.get('name')}: diverged ({why}); the other members go on",
                          flush=True)
                if pl_module.trainer is None or pl_module.trainer.is_global_zero:
                    self._write_member(member, "diverged", why, pl_module)

    def steps_done(self, trainer) -> int:
        """Optimizer steps the run has reached: the trainer's, or rank 0's record where the fit ran elsewhere."""
        if self.fit_here:
            return trainer.global_step
        return max(int((read_run_json(m.run_dir) or {}).get("step") or 0) for m in self.members)

    # ----- hooks ---------------------------------------------------------------------------
    def setup(self, trainer, pl_module, stage: str) -> None:
        self.fit_here = True

    def on_train_start(self, trainer, pl_module) -> None:
        self.t0 = time.perf_counter()
        for i, member in enumerate(self.members):
            member.points = _read_csv(member.run_dir / "metrics.csv", trainer.global_step)
            member.curve = _read_csv(member.run_dir / "train_curve.csv", trainer.global_step)
            if member.points:
                member.wall_offset = member.points[-1]["wall_seconds"]
            if not bool(pl_module.alive[i]) and member.diverged is None:  # died before the checkpoint
                member.diverged = (read_run_json(member.run_dir) or {}).get("message") or "diverged"
        steps = [m.points[-1]["step"] for m in self.members if m.points]
        self.done = int(max(steps)) if steps else None
        if trainer.is_global_zero:
            self.write_run_json("running", pl_module=pl_module)
        if trainer.global_step and self._due(trainer, pl_module):  # stopped during this step's evaluation
            self.evaluate(trainer, pl_module)

    def _due(self, trainer, pl_module) -> bool:
        """Whether the step reached needs an evaluation: a milestone crossed since the last one, or the end."""
        step, done = trainer.global_step, self.done or 0
        passed = self.milestones[self.milestones <= pl_module.flops]
        return bool(len(passed) and passed[-1] > done * pl_module.cost.flops) or (step >= trainer.max_steps
                                                                                   and step != self.done)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if pl_module.died:
            self._note_divergence(pl_module)
        if step % trainer.log_every_n_steps == 0 and trainer.is_global_zero:
            self._log_training_loss(trainer, pl_module)
        if self._due(trainer, pl_module):  # a milestone crossed since the last evaluation, or the end
            self.evaluate(trainer, pl_module)

    def _log_training_loss(self, trainer, pl_module) -> None:
        """Each live member's training loss (reading it syncs a GPU: only on logging steps)."""
        step, lr = trainer.global_step, trainer.optimizers[0].param_groups[0]["lr"]
        for i, member in enumerate(self.members):
            if member.diverged is not None:
                continue
            loss = float(pl_module.last_losses[i])
            member.curve.append({"step": step, "tokens": pl_module.tokens, "flops": pl_module.flops,
                                 "loss": loss, "lr": lr})
            for logger in member.loggers:
                logger.log_metrics({"train/loss": loss, "train/lr": lr, "flops": float(pl_module.flops),
                                    "tokens": float(pl_module.tokens)}, step=step)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_step >= trainer.max_steps and self.done != trainer.global_step:
            self.evaluate(trainer, pl_module)

    def evaluate(self, trainer, pl_module) -> None:
        """Evaluate every live member now, record the points, log them to each member's loggers.

        Every member is scored first (a stop signal ends that at once: nothing is recorded, and the
        resumed run evaluates this step again), then every point is written.
        """
        live = [(i, member) for i, member in enumerate(self.members) if member.diverged is None]
        with interruptible():
            scored = [self._score_member(pl_module, i) for i, _ in live]
        self.done = trainer.global_step
        for (_, member), (scores, metrics, seconds) in zip(live, scored):
            self._record_member(trainer, pl_module, member, scores, metrics, seconds)

    def _score_member(self, pl_module, i: int) -> tuple:
        """Member i's scores on the held-out set (and the training sample), its metrics, and the seconds taken."""
        t_eval = time.perf_counter()
        stacked = pl_module.model
        model = stacked if stacked.members == 1 else stacked.member(i, self._member_model)
        self._member_model = None if model is stacked else model
        scores = self.evaluator.score(model)
        metrics = self.evaluator.metrics(scores)
        if self.train_evaluator is not None:
            train = self.train_evaluator(model)
            metrics.update({TRAIN_PREFIX + k: train[k] for k in METRICS})
        return scores, metrics, time.perf_counter() - t_eval

    def _record_member(self, trainer, pl_module, member: Member, scores, metrics: dict, seconds: float) -> None:
        self.eval_seconds += seconds
        point = {
            "step": trainer.global_step,
            "tokens": pl_module.tokens,
            "flops": pl_module.flops,
            "wall_seconds": member.wall_offset + time.perf_counter() - self.t0,
            **metrics,
        }
        member.points.append(point)
        for logger in member.loggers:
            logger.log_metrics(
                {"flops": point["flops"], "tokens": point["tokens"], **{f"eval/{k}": v for k, v in metrics.items()}},
                step=trainer.global_step,
            )
        if not trainer.is_global_zero:
            return
        _write_csv(member.run_dir / "metrics.csv", self.columns, member.points)
        _write_csv(member.run_dir / "train_curve.csv", list(TRAIN_CURVE), member.curve)
        if trainer.global_step >= trainer.max_steps:
            self._write_final_problems(member.run_dir, scores)
        self._write_member(member, "running", None, pl_module)
        if self.verbose:
            who = f"  {member.info.get('name')}" if len(self.members) > 1 else ""
            print(
                f"  step {point['step']:>6}/{trainer.max_steps}  flops {point['flops']:.2e}  "
                f"{self.evaluator.progress_text(point)}"
                + (f"  train_exact_match {point['train_exact_match']:.3f}" if "train_exact_match" in point else "")
                + f"  ({point['wall_seconds']:.1f}s){who}",
                flush=True,
            )

    def _write_final_problems(self, run_dir: Path, scores) -> None:
        ev = self.evaluator

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **ev.final_problems(scores))

        atomic_write(run_dir / "final_problems.npz", save)
