"""The metrics: scoring a model on a fixed set of held-out problems of one task.

Metric names are a contract (``toymodels.runs.records.METRICS``, README "Metrics"):
- ``exact_match``: greedy decoding, the whole answer right.
- ``digit_accuracy``: greedy decoding, fraction of answer digits right, aligned by significance.
- ``edit_distance``: greedy decoding, token edit distance of the written answer to the target.
- ``answer_logprob``: teacher-forced, mean over problems of log p(all answer digits).
- ``answer_prob``: teacher-forced, mean over problems of p(all answer digits): the expected accuracy
  of sampling at temperature 1, which resolves accuracies far below 1 / (number of problems).
- ``token_accuracy``: teacher-forced, fraction of answer digits whose argmax is right.
- ``loss``: teacher-forced cross-entropy on every target token (what training minimises).
- ``pos_acc_<i>``: greedy, accuracy of the answer digit of significance 10**i (the "staircase").
- ``carries_acc_<c>``: greedy, exact match on the problems with c carries (borrows for sub).
- ``weight_norm``: the L2 norm of all the model's parameters together (a grokking diagnostic).

Greedy decoding is continued from the teacher-forced pass: up to the first position where the
argmax given the correct prefix is wrong, greedy decoding writes exactly the target, so only what
follows a row's first error is decoded (with the key/value cache the teacher-forced pass built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from toymodels.runs.records import METRICS
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.digits import answer_length, answer_significance
from toymodels.tasks.positions import abacus_ids
from toymodels.tasks.vocab import END, PAD


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


@dataclass
class ProblemScores:
    """Per held-out problem: what the model wrote (greedy) and its teacher-forced scores."""

    field: np.ndarray  # (n, answer_width + 1) the answer field greedy decoding wrote
    answer_logprob: np.ndarray  # (n,) log p(all answer digits | prompt, scratchpad), teacher-forced
    target_nll: np.ndarray  # (n,) summed cross-entropy over every target token
    target_tokens: np.ndarray  # (n,) target tokens that are scored (not padding)
    digits_argmax_right: np.ndarray  # (n,) answer digits whose teacher-forced argmax is right
    weight_norm: float = math.nan  # L2 norm of all the scored model's parameters


def weight_norm(model: torch.nn.Module) -> float:
    """The L2 norm of all parameters of a model, taken together."""
    with torch.no_grad():
        return float(torch.sqrt(sum(p.detach().float().pow(2).sum() for p in model.parameters())))


class Evaluator:
    """Scores a model on a fixed set of problems (a, b) of one task."""

    def __init__(self, task: Task, a: np.ndarray, b: np.ndarray, batch_size: int = 500) -> None:
        self.task, self.a, self.b, self.batch_size = task, np.asarray(a), np.asarray(b), batch_size
        rows = task.encode_rows(self.a, self.b)
        self.rows = torch.from_numpy(rows)
        start = task.prompt_len + task.scratch_len
        self.answer_field = rows[:, start : start + task.answer_width + 1]
        self.target_sig = answer_significance(self.answer_field, task)
        self.carries = task.carries(self.a, self.b)

    @property
    def columns(self) -> list[str]:
        """The per-position, per-carries and weight-norm names this evaluator adds to the contract's METRICS."""
        return [*(f"pos_acc_{i}" for i in range(self.task.answer_width)),
                *(f"carries_acc_{c}" for c in range(self.task.max_carries + 1)), "weight_norm"]

    @property
    def metric_columns(self) -> list[str]:
        """Every metric an evaluation point records, in metrics.csv's order."""
        return [*METRICS, *self.columns]

    def run_metrics(self, point: dict) -> dict:
        """run.json's final metrics from the last evaluation point."""
        out = {k: point[k] for k in METRICS}
        out["position_accuracy"] = [point[f"pos_acc_{i}"] for i in range(self.task.answer_width)]
        out.update({k: point[k] for k in self.columns if k.startswith("carries_acc_")})
        return out

    def progress_text(self, point: dict) -> str:
        """The metrics of the line printed at each evaluation point."""
        return (f"exact_match {point['exact_match']:.3f}  digit_accuracy {point['digit_accuracy']:.3f}  "
                f"loss {point['loss']:.3f}")

    def final_problems(self, scores: ProblemScores) -> dict[str, np.ndarray]:
        """Per held-out problem: operands, carries, log p(answer), greedy right or not (final_problems.npz)."""
        return {"a": self.a, "b": self.b, "carries": self.carries, "logprob": scores.answer_logprob,
                "correct": self.correct(scores)}

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        """All metrics on the evaluation set."""
        return self.metrics(self.score(model))

    @torch.inference_mode()
    def score(self, model: torch.nn.Module) -> ProblemScores:
        """Per-problem scores (the model is left in the mode it was in)."""
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device  # rows live on the CPU; the model may be on a GPU
            parts = [self._score_chunk(model, chunk.to(device)) for chunk in self.rows.split(self.batch_size)]
        finally:
            model.train(was_training)
        return ProblemScores(*(np.concatenate([p[i] for p in parts]) for i in range(5)), weight_norm=weight_norm(model))

    def correct(self, scores: ProblemScores) -> np.ndarray:
        """Exact match per problem."""
        return (answer_significance(scores.field, self.task) == self.target_sig).all(1)

    def metrics(self, scores: ProblemScores) -> dict[str, float]:
        """The contract's metrics from per-problem scores."""
        task, width = self.task, self.task.answer_width
        pred_sig = answer_significance(scores.field, task)
        has_digit = self.target_sig >= 0
        hit = (pred_sig == self.target_sig) & has_digit
        exact = (pred_sig == self.target_sig).all(1)
        # Written answers for the edit distance: the field cut at END (leading zeros included).
        pred_len = answer_length(scores.field).clip(max=width)
        target_len = answer_length(self.answer_field)
        dist = edit_distance(scores.field[:, :width], pred_len, self.answer_field[:, :width], target_len)
        logp = scores.answer_logprob.astype(np.float64)
        metrics = {
            "exact_match": float(exact.mean()),
            "digit_accuracy": float((hit.sum(1) / has_digit.sum(1)).mean()),
            "edit_distance": float(dist.mean()),
            "answer_logprob": float(logp.mean()),
            "answer_prob": float(np.exp(logp).mean()),
            "token_accuracy": float(scores.digits_argmax_right.sum() / has_digit.sum()),
            "loss": float(scores.target_nll.sum() / scores.target_tokens.sum()),
        }
        with np.errstate(invalid="ignore"):
            pos = hit.sum(0) / has_digit.sum(0)
        metrics.update({f"pos_acc_{i}": float(pos[i]) for i in range(width)})
        for c in range(task.max_carries + 1):
            chosen = self.carries == c
            metrics[f"carries_acc_{c}"] = float(exact[chosen].mean()) if chosen.any() else float("nan")
        metrics["weight_norm"] = scores.weight_norm
        return metrics

    def _score_chunk(self, model, rows: torch.Tensor) -> tuple[np.ndarray, ...]:
        """Teacher-forced sums for a chunk of rows, and the answer field greedy decoding writes."""
        task = self.task
        start = task.prompt_len - 1  # the prediction of the first target token
        caches: list[list] = [[] for _ in model.blocks]
        ids = None
        if model.cfg.pos_embedding == "abacus":  # the task's digit significances, offset 0
            ids = torch.from_numpy(abacus_ids(task)).to(rows.device)
        logits = model(rows[:, :-1], caches, logits_from=start, positions=None if ids is None else ids[:-1]).float()
        target = rows[:, start + 1 :]
        tok_logp = F.log_softmax(logits, -1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        scored = target != PAD
        argmax = logits.argmax(-1)
        a0 = task.scratch_len  # the answer digits inside the target
        ans = target[:, a0 : a0 + task.answer_width]
        is_digit = (ans != PAD) & (ans != END)
        greedy = self._greedy_from_first_error(model, caches, target, argmax, scored, ids)
        out = (
            greedy[:, a0 : a0 + task.answer_width + 1],
            (tok_logp[:, a0 : a0 + task.answer_width] * is_digit).sum(1),
            -(tok_logp * scored).sum(1),
            scored.sum(1),
            ((argmax == target)[:, a0 : a0 + task.answer_width] & is_digit).sum(1),
        )
        return tuple(t.cpu().numpy() for t in out)

    def _greedy_from_first_error(self, model, caches, target, argmax, scored, ids=None) -> torch.Tensor:
        """Greedy decoding of every row, continued from the teacher-forced pass, in one loop.

        Greedy decoding writes the target up to the first position where the teacher-forced argmax
        is wrong, and that wrong token there. The teacher-forced keys and values of the correct
        prefix are exactly greedy decoding's cache, so one loop from the earliest first error
        decodes every row that has one: a row is fed its target before its own first error (which
        reproduces the teacher-forced cache) and its own greedy tokens after it.
        """
        wrong = (argmax != target) & scored
        first = torch.where(wrong.any(1), wrong.int().argmax(1), target.shape[1])
        out = torch.where(torch.arange(target.shape[1], device=target.device) < first[:, None], target, argmax)
        task, p = self.task, self.task.prompt_len
        # A fixed-width answer's length is known, so what comes after its last digit (END) is never
        # scored: decode only up to there.
        end = task.scratch_len + task.answer_width + (0 if task.pad_answer else 1)
        rows = (first < end - 1).nonzero().squeeze(1)  # an error before the last scored token
        if len(rows) == 0:
            return out
        e0, first = int(first[rows].min()), first[rows]
        cache = [[k[rows, :, : p + e0], v[rows, :, : p + e0]] for k, v in caches]
        sub = out[rows]
        for i in range(e0, end - 1):
            # Position i's token is known (target before the first error, greedy after); predict i + 1.
            pos = None if ids is None else ids[p + i : p + i + 1]
            nxt = model(sub[:, i : i + 1], cache, start=p + i, positions=pos)[:, -1].argmax(-1)
            sub[:, i + 1] = torch.where(first <= i, nxt, sub[:, i + 1])
        out[rows] = sub
        return out
