"""Evaluation: the metrics on the held-out set, and the callback that records them against compute.

Metrics (names are a contract, see README):
- ``exact_match``: greedy decoding, the whole answer right.
- ``digit_accuracy``: greedy decoding, fraction of answer digits right, aligned by significance.
- ``edit_distance``: greedy decoding, token edit distance of the written answer to the target.
- ``answer_logprob``: teacher-forced, mean over problems of log p(all answer digits).
- ``token_accuracy``: teacher-forced, fraction of answer digits whose argmax is right.
- ``loss``: teacher-forced cross-entropy on every target token (what training minimises).
- ``pos_acc_i``: greedy, accuracy of the answer digit of significance 10**i (the "staircase").

Greedy decoding is continued from the teacher-forced pass: up to the first position where the
argmax given the correct prefix is wrong, greedy decoding writes exactly the target, so only what
follows a row's first error is decoded (with the key/value cache the teacher-forced pass built).
"""

from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from toymodels.runs import METRICS, atomic_write, read_run_json, write_json
from toymodels.tasks import END, PAD, Task, answer_significance

# The part of run.json that only the process running the fit knows (see RunRecorder.write_run_json).
PROGRESS = ("step", "flops", "tokens", "flops_6nd", "metrics", "wall_seconds", "eval_seconds")


def edit_distance(pred: np.ndarray, pred_len: np.ndarray, tgt: np.ndarray, tgt_len: np.ndarray) -> np.ndarray:
    """Levenshtein distance between token rows, each cut to its length, vectorised over rows."""
    n, wp = pred.shape
    wt = tgt.shape[1]
    dist = np.zeros((n, wp + 1, wt + 1), dtype=np.int64)
    dist[:, :, 0] = np.arange(wp + 1)
    dist[:, 0, :] = np.arange(wt + 1)
    for i in range(1, wp + 1):
        for j in range(1, wt + 1):
            sub = dist[:, i - 1, j - 1] + (pred[:, i - 1] != tgt[:, j - 1])
            dist[:, i, j] = np.minimum(np.minimum(dist[:, i - 1, j], dist[:, i, j - 1]) + 1, sub)
    return dist[np.arange(n), pred_len, tgt_len]


def _answer_length(field: np.ndarray) -> np.ndarray:
    is_end = field == END
    return np.where(is_end.any(1), is_end.argmax(1), field.shape[1])


class Evaluator:
    """Scores a model on a fixed set of token rows of one task."""

    def __init__(self, task: Task, rows: np.ndarray, batch_size: int = 1000) -> None:
        self.task, self.rows, self.batch_size = task, torch.from_numpy(rows), batch_size
        start = task.prompt_len + task.scratch_len
        self.answer_field = rows[:, start : start + task.answer_width + 1]
        self.target_sig = answer_significance(self.answer_field, task)

    @torch.inference_mode()
    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        """All metrics on the evaluation set (model is left in the mode it was in)."""
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device  # rows live on the CPU; the model may be on a GPU
            parts = [self._score_chunk(model, chunk.to(device)) for chunk in self.rows.split(self.batch_size)]
            ce_sum, n_tok, logp, correct = (torch.cat([p[i] for p in parts]).cpu() for i in range(4))
            field = np.concatenate([p[4] for p in parts])
        finally:
            model.train(was_training)
        task, width = self.task, self.task.answer_width
        pred_sig = answer_significance(field, task)
        has_digit = self.target_sig >= 0
        hit = (pred_sig == self.target_sig) & has_digit
        exact = (pred_sig == self.target_sig).all(1)
        # Written answers for the edit distance: the field cut at END (leading zeros included).
        pred_len = _answer_length(field).clip(max=width)
        target_len = _answer_length(self.answer_field)
        dist = edit_distance(field[:, :width], pred_len, self.answer_field[:, :width], target_len)
        metrics = {
            "exact_match": float(exact.mean()),
            "digit_accuracy": float((hit.sum(1) / has_digit.sum(1)).mean()),
            "edit_distance": float(dist.mean()),
            "answer_logprob": float(logp.double().mean()),
            "answer_prob": float(logp.double().exp().mean()),
            "token_accuracy": float(correct.sum() / (self.target_sig >= 0).sum()),
            "loss": float(ce_sum.sum() / n_tok.sum()),
        }
        with np.errstate(invalid="ignore"):
            pos = hit.sum(0) / has_digit.sum(0)
        metrics.update({f"pos_acc_{i}": float(pos[i]) for i in range(width)})
        return metrics

    def _score_chunk(self, model, rows: torch.Tensor):
        """Teacher-forced sums for a chunk of rows, and the answer field greedy decoding writes."""
        task = self.task
        start = task.prompt_len - 1  # the prediction of the first target token
        caches: list[list] = [[] for _ in model.blocks]
        logits = model(rows[:, :-1], caches, logits_from=start).float()
        target = rows[:, start + 1 :]
        logp = F.log_softmax(logits, -1)
        tok_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        trained = target != PAD
        argmax = logits.argmax(-1)
        a0 = task.scratch_len  # the answer digits inside the target
        ans = target[:, a0 : a0 + task.answer_width]
        is_digit = (ans != PAD) & (ans != END)
        greedy = self._greedy_from_first_error(model, caches, target, argmax, trained)
        field = greedy[:, a0 : a0 + task.answer_width + 1].cpu().numpy()
        return (
            -(tok_logp * trained).sum(1),
            trained.sum(1),
            (tok_logp[:, a0 : a0 + task.answer_width] * is_digit).sum(1),
            ((argmax == target)[:, a0 : a0 + task.answer_width] & is_digit).sum(1),
            field,
        )

    def _greedy_from_first_error(self, model, caches, target, argmax, trained) -> torch.Tensor:
        """Greedy decoding of every row, continued from the teacher-forced pass.

        Greedy decoding writes the target up to the first position where the teacher-forced argmax
        is wrong, and that wrong token there; only what follows needs decoding. The teacher-forced
        keys and values of the correct prefix are exactly greedy decoding's cache, so rows are
        grouped by their first error and continued from there (rows with none are already done).
        """
        wrong = (argmax != target) & trained
        first = torch.where(wrong.any(1), wrong.int().argmax(1), target.shape[1])
        out = torch.where(torch.arange(target.shape[1], device=target.device) < first[:, None], target, argmax)
        task, p = self.task, self.task.prompt_len
        # A fixed-width answer's length is known, so what comes after its last digit (END) is never
        # scored: decode only up to there.
        scored = task.scratch_len + task.answer_width + (0 if task.pad_answer else 1)
        for e in first.unique().tolist():
            if e >= scored - 1:
                continue  # no error, or only in the last scored token: nothing to decode
            idx = (first == e).nonzero().squeeze(1)
            cache = [[k[idx, :, : p + e], v[idx, :, : p + e]] for k, v in caches]
            out[idx, e + 1 : scored] = model.greedy_continue(argmax[idx, e], cache, p + e, scored - 1 - e)
        return out


def flops_milestones(total_flops: float, per_decade: int, start_fraction: float) -> np.ndarray:
    """Log-spaced evaluation points 10**(k/per_decade) in [start_fraction·total, total].

    The grid is absolute, not relative to the run, so runs of different sizes share x-values.
    """
    lo = math.ceil(math.log10(total_flops * start_fraction) * per_decade - 1e-9)
    hi = math.floor(math.log10(total_flops) * per_decade + 1e-9)
    return 10.0 ** (np.arange(lo, hi + 1) / per_decade)


class RunRecorder(L.Callback):
    """Evaluates at FLOPs milestones and at the end; rank 0 writes metrics.csv and run.json."""

    def __init__(self, evaluator: Evaluator, run_dir: Path, info: dict, milestones: np.ndarray, verbose: bool = True):
        self.evaluator, self.run_dir, self.info = evaluator, Path(run_dir), dict(info)
        self.milestones, self.verbose = milestones, verbose
        self.rows: list[dict] = []
        self.wall_offset = 0.0
        self.eval_seconds = 0.0  # time spent evaluating, this session (reported in run.json)
        self.fit_here = False  # Lightning ran the fit in this process (not so in ddp_spawn's launching process)
        self.t0 = time.perf_counter()

    # ----- records -------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        width = self.evaluator.task.answer_width
        return ["step", "tokens", "flops", "wall_seconds", *METRICS, *(f"pos_acc_{i}" for i in range(width))]

    def _load_rows(self, upto_step: int) -> None:
        """On resume: keep the rows recorded up to the checkpoint's step; later ones are redone."""
        path = self.run_dir / "metrics.csv"
        self.rows = []
        if path.exists():
            with open(path, newline="") as f:
                for row in csv.DictReader(f):
                    if float(row["step"]) <= upto_step:
                        self.rows.append({k: float(v) for k, v in row.items()})
        if self.rows:
            self.wall_offset = self.rows[-1]["wall_seconds"]

    def _write_csv(self) -> None:
        lines = [",".join(self.columns)]
        for row in self.rows:
            lines.append(",".join(_fmt(row[c]) for c in self.columns))
        atomic_write(self.run_dir / "metrics.csv", "\n".join(lines) + "\n")

    def write_run_json(self, status: str, message: str | None = None, pl_module=None) -> None:
        """Write run.json with the current state (rank 0 only).

        Where the fit ran in other processes (ddp_spawn: this process only launched them, and its
        trainer and recorder never saw a step), the progress rank 0 recorded there is kept.
        """
        record = dict(self.info, status=status, message=message)
        if pl_module is not None:
            record.update(step=pl_module.global_step, flops=pl_module.flops, tokens=pl_module.tokens)
            record["flops_6nd"] = pl_module.global_step * pl_module.flops_6nd_per_step
        if self.rows:
            last = self.rows[-1]
            record["metrics"] = {k: last[k] for k in METRICS}
            record["metrics"]["position_accuracy"] = [
                last[f"pos_acc_{i}"] for i in range(self.evaluator.task.answer_width)
            ]
            record["wall_seconds"] = last["wall_seconds"]
        record["eval_seconds"] = self.eval_seconds
        if not self.fit_here:
            earlier = read_run_json(self.run_dir) or {}
            record.update({k: earlier[k] for k in PROGRESS if k in earlier})
        write_json(self.run_dir / "run.json", record)

    def steps_done(self, trainer) -> int:
        """Optimizer steps the run has reached: the trainer's, or rank 0's record where the fit ran elsewhere."""
        if self.fit_here:
            return trainer.global_step
        return int((read_run_json(self.run_dir) or {}).get("step") or 0)

    # ----- hooks ---------------------------------------------------------------------------
    def setup(self, trainer, pl_module, stage: str) -> None:
        self.fit_here = True

    def on_train_start(self, trainer, pl_module) -> None:
        self.t0 = time.perf_counter()
        self._load_rows(trainer.global_step)
        if trainer.is_global_zero:
            self.write_run_json("running", pl_module=pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        flops = pl_module.flops
        done = self.rows[-1]["step"] if self.rows else 0
        passed = self.milestones[(self.milestones <= flops)]
        last_passed = passed[-1] if len(passed) else None
        # Evaluate when a milestone was crossed since the last evaluation.
        if last_passed is not None and last_passed > done * pl_module.flops_per_step:
            self.evaluate(trainer, pl_module)
        elif step >= trainer.max_steps and step != done:
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_step >= trainer.max_steps and (not self.rows or self.rows[-1]["step"] != trainer.global_step):
            self.evaluate(trainer, pl_module)

    def evaluate(self, trainer, pl_module) -> None:
        """Evaluate now, record the row, log it to every logger."""
        t_eval = time.perf_counter()
        metrics = self.evaluator(pl_module.model)
        self.eval_seconds += time.perf_counter() - t_eval
        row = {
            "step": trainer.global_step,
            "tokens": pl_module.tokens,
            "flops": pl_module.flops,
            "wall_seconds": self.wall_offset + time.perf_counter() - self.t0,
            **metrics,
        }
        self.rows.append(row)
        for logger in trainer.loggers:
            logger.log_metrics(
                {"flops": row["flops"], "tokens": row["tokens"], **{f"eval/{k}": v for k, v in metrics.items()}},
                step=trainer.global_step,
            )
        if trainer.is_global_zero:
            self._write_csv()
            self.write_run_json("running", pl_module=pl_module)
            if self.verbose:
                print(
                    f"  step {row['step']:>6}/{trainer.max_steps}  flops {row['flops']:.2e}  "
                    f"exact_match {row['exact_match']:.3f}  digit_accuracy {row['digit_accuracy']:.3f}  "
                    f"loss {row['loss']:.3f}  ({row['wall_seconds']:.1f}s)",
                    flush=True,
                )


class AtomicCheckpoint(L.pytorch.callbacks.ModelCheckpoint):
    """Saves through a temporary file: a kill during a save leaves the previous checkpoint intact.

    A module-level class, so that ddp_spawn can pickle it into its worker processes.
    """

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath + ".tmp")
        if trainer.is_global_zero:
            os.replace(filepath + ".tmp", filepath)
        self._last_checkpoint_saved = filepath


def _fmt(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))
