"""Attention patterns: which positions each head reads while the model writes each answer digit.

For a fixed set of problems, teacher-forced on their correct rows, the attention weights of every head
(softmax(q·kᵀ/√d_head) with the causal mask, recomputed from each block's own query/key projection of
its LayerNormed input, captured with a hook) are averaged over the problems at the positions that
*predict* the answer tokens. The figure draws one heat map per head (rows: layers × heads; each map
has an answer digit per row and a key position per column, labelled with the task's layout), so an
addition model's "digit i reads digits i of a and b" shows as a diagonal band.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from toymodels.inside.probes import answer_start
from toymodels.inside.solve import positions_for
from toymodels.runs.records import atomic_write
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.vocab import decode
from toymodels.training.model import Transformer


@torch.inference_mode()
def attention_patterns(model: Transformer, rows: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
    """(n_layer, n_head, batch, time, time): each head's attention weights (query × key) for token rows."""
    if model.members != 1:
        raise ValueError(f"a {model.members}-member model: take one member first (model.member(i))")
    inputs: list[torch.Tensor] = []
    hooks = [block.attn.register_forward_pre_hook(lambda _m, args: inputs.append(args[0]))
             for block in model.blocks]
    try:
        model(rows.to(model.tok.weight.device), positions=positions)
    finally:
        for hook in hooks:
            hook.remove()
    out = []
    for block, x in zip(model.blocks, inputs):
        _, b, t, d = x.shape
        heads = block.attn.n_head
        q, k, _ = block.attn.qkv(x).view(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // heads)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        out.append(scores.masked_fill(~mask, float("-inf")).softmax(-1).transpose(0, 1))  # (heads, b, t, t)
    return torch.stack(out)


def answer_attention(model: Transformer, task: Task, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_layer, n_head, answer_width, seq_len - 1): mean over the problems of where each head looks from the
    position that predicts each answer token (answer token i, as written: reversed answers low digit first)."""
    rows = torch.from_numpy(task.encode_rows(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)))[:, :-1]
    ids = positions_for(model, task)
    weights = attention_patterns(model, rows, None if ids is None else ids[: rows.shape[1]])
    start = answer_start(task)
    return weights[:, :, :, start : start + task.answer_width].mean(2).cpu().numpy()


def key_labels(task: Task) -> list[str]:
    """A label per input position of the task's rows: the layout with operand digits named a1 a0 + b1 b0 = ..."""
    w, lead = task.operand_width, getattr(task, "lead", 0)  # a mixture's skill starts after `lead` PADs
    labels = [decode([t]) for t in task.encode_rows(np.array([0]), np.array([0]))[0][:-1]]
    for i in range(w):
        labels[lead + i], labels[lead + w + 1 + i] = f"a{w - 1 - i}", f"b{w - 1 - i}"
    start = answer_start(task)
    for i in range(task.answer_width):
        if start + 1 + i < len(labels):
            digit = i if task.format == "reversed" else task.answer_width - 1 - i
            labels[start + 1 + i] = f"y{digit}"
    return labels


def attention_figure(model: Transformer, task: Task, a: np.ndarray, b: np.ndarray, path: Path) -> Path:
    """Draw answer_attention as heat maps (layers × heads rows) and save it atomically as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pattern = answer_attention(model, task, a, b)
    layers, heads, width, keys = pattern.shape
    fig, axes = plt.subplots(layers, heads, figsize=(1.0 + 0.32 * keys * heads, 0.8 + 0.45 * width * layers),
                             squeeze=False)
    labels = key_labels(task)
    answer = [f"y{i if task.format == 'reversed' else width - 1 - i}" for i in range(width)]
    for (li, hi), ax in np.ndenumerate(axes):
        ax.imshow(pattern[li, hi], vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        ax.set_title(f"layer {li} head {hi}", fontsize=8)
        ax.set_xticks(range(keys), labels, fontsize=6, rotation=90)
        ax.set_yticks(range(width), answer if hi == 0 else [""] * width, fontsize=7)
    fig.suptitle(f"{task.label}: where each answer digit's prediction attends ({len(a)} problems)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    finally:
        plt.close(fig)
    return path
