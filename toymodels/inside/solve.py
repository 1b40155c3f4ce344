"""Answering problems with a one-member model: greedy decoding, then the probability of what it wrote.

The answer is what KV-cached greedy decoding writes after the prompt (a scratchpad first, where the
task has one). Its probability is teacher-forced on that greedy output: the product, over the answer's
digit tokens (up to END, at most the answer width), of each token's probability given the prompt and
everything the model wrote before it. That is the run's ``answer_logprob`` of the same problem whenever
the greedy answer is the right one (the evaluator scores the same tokens of the correct answer).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from toymodels.tasks.arithmetic import Task
from toymodels.tasks.positions import abacus_ids
from toymodels.tasks.vocab import END, PAD
from toymodels.training.model import Transformer


def positions_for(model: Transformer, task: Task) -> torch.Tensor | None:
    """The abacus ids (seq_len,) of the task's rows for an abacus model (offset 0, as in evaluation), else None."""
    if model.cfg.pos_embedding != "abacus":
        return None
    return torch.from_numpy(abacus_ids(task)).to(model.tok.weight.device)


@torch.inference_mode()
def solve_rows(model: Transformer, task: Task, a: np.ndarray, b: np.ndarray,
               batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Greedy answer fields (n, answer_width + 1) and log p(greedy answer) (n,) for problems (a, b)."""
    rows = torch.from_numpy(task.encode_rows(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)))
    device = model.tok.weight.device
    ids = positions_for(model, task)
    fields, logps = [], []
    for chunk in rows.split(batch_size):
        field, logp = _solve_chunk(model, task, chunk.to(device), ids)
        fields.append(field.cpu().numpy())
        logps.append(logp.cpu().numpy())
    return np.concatenate(fields), np.concatenate(logps).astype(np.float64)


def _solve_chunk(model: Transformer, task: Task, rows: torch.Tensor, ids: torch.Tensor | None):
    p, a0, width = task.prompt_len, task.scratch_len, task.answer_width
    written = model.generate(rows[:, :p], task.target_len, positions=ids)  # (n, target_len)
    seq = torch.cat([rows[:, :p], written], 1)
    logits = model(seq[:, :-1], logits_from=p - 1, positions=None if ids is None else ids[: seq.shape[1] - 1])
    tok_logp = F.log_softmax(logits.float(), -1).gather(-1, written.unsqueeze(-1)).squeeze(-1)
    answer = written[:, a0 : a0 + width]
    # The answer's tokens: those before its first END (at most the answer width), never padding.
    before_end = (answer == END).int().cumsum(1) == 0
    scored = before_end & (answer != PAD)
    return written[:, a0 : a0 + width + 1], (tok_logp[:, a0 : a0 + width] * scored).sum(1)
