"""Abacus position ids (McLeish et al. 2024): each digit's index within its own number.

Pure NumPy (no torch). With ``model.pos_embedding=abacus`` a token's position embedding is not
looked up by where it sits in the sequence but by which digit of its number it is: the digit of
10**i gets id i + 1 in both operands, in the answer and in each scratchpad number, so that digit i
of a, digit i of b and digit i of a + b share an embedding whatever the layout; every other token
(operators, ``=``, ``;``, END, padding) gets id 0; the digits of the modulus p of a mod task are a
number too. The ids follow from the task's fixed token
layout alone, so they are one row of ``seq_len`` ids shared by every problem (and every member of
a seed ensemble). During training the model adds a random offset to the digits' ids (as in the
paper), so that the embeddings of larger ids are trained too; evaluation uses offset 0.

A layout is indexable only when each position's significance is fixed. Unpadded answers written
most significant digit first (``task.pad_answer=false`` with ``plain`` or ``scratchpad``) are not:
the significance of the answer's first digit depends on its length, which is unknown while the
model writes it. Those layouts are refused.
"""

from __future__ import annotations

import numpy as np

from toymodels.tasks import Task


def _most_significant_first(width: int) -> np.ndarray:
    """Ids of a number written most significant digit first: width, ..., 2, 1."""
    return np.arange(width, 0, -1)


def abacus_ids(task: Task) -> np.ndarray:
    """Position ids (seq_len,) of the task's token rows: 1 + the significance of each digit, 0 elsewhere.

    Raises ValueError (one line) for a layout whose digit significances are not fixed.
    """
    if getattr(task, "symbols", False):
        raise ValueError(
            f"model.pos_embedding=abacus cannot index {task.label}: with task.encoding=symbols a number is one "
            "token and has no digits; use model.pos_embedding=learned"
        )
    if not task.pad_answer and task.format != "reversed":
        raise ValueError(
            f"model.pos_embedding=abacus cannot index {task.label} with task.pad_answer=false: an unpadded answer "
            "written most significant digit first has digits whose significance depends on its length; "
            "use task.format=reversed or task.pad_answer=true"
        )
    w = task.operand_width
    # The suffix: "=", or "%p=" for mod, where p is a number too.
    suffix = [0, *_most_significant_first(len(str(task.p))), 0] if task.name == "mod" else [0]
    parts = [_most_significant_first(w), [0], _most_significant_first(w), suffix]
    if task.format == "scratchpad":
        n = task.n_digits
        if task.name in ("add", "sub"):
            # Per column, least significant first: the carry (borrow) out and the digit of that column.
            parts.append(np.repeat(np.arange(1, n + 1), 2))
        elif task.name == "mul":
            # n partial products a * b_i, each n + 1 digits written most significant first.
            parts.append(np.tile(_most_significant_first(n + 1), n))
        else:
            parts.append(_most_significant_first(task.scratch_len - 1))
        parts.append([0])  # ';'
    width = task.answer_width
    parts.append(np.arange(1, width + 1) if task.format == "reversed" else _most_significant_first(width))
    parts.append([0])  # END
    ids = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
    assert ids.size == task.seq_len, (ids.size, task.seq_len)
    return ids


def training_positions(ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Ids with a per-row random offset added to the digits (ids > 0): (rows, seq_len)."""
    ids = np.asarray(ids)
    return ids[None, :] + np.where(ids > 0, 1, 0)[None, :] * np.asarray(offsets)[:, None]
