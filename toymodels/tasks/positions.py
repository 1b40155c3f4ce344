"""Abacus position ids (McLeish et al. 2024): each digit's index within its own number.

With ``model.pos_embedding=abacus`` a token's position embedding is not
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

A mixture (``task=mix``) has one layout per skill in one batch, so its training ids are read off
each row's tokens (:func:`row_abacus_ids`: every run of digits is a number); that needs skills
without a scratchpad, in one format. Each skill is evaluated with its own layout's ids.
"""

from __future__ import annotations

import numpy as np

from toymodels.tasks.arithmetic import Task
from toymodels.tasks.vocab import DIGIT0, STOI


def _most_significant_first(width: int) -> np.ndarray:
    """Ids of a number written most significant digit first: width, ..., 2, 1."""
    return np.arange(width, 0, -1)


def abacus_ids(task: Task) -> np.ndarray:
    """Position ids (seq_len,) of the task's token rows: 1 + the significance of each digit, 0 elsewhere.

    Raises ValueError (one line) for a layout whose digit significances are not fixed.
    """
    lead = getattr(task, "lead", 0)
    if lead:  # a mixture's skill, laid out after `lead` PAD columns
        return np.concatenate([np.zeros(lead, dtype=np.int64), abacus_ids(task.plain())])
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


def row_abacus_ids(rows, reversed_answer: bool):
    """Abacus ids read off token rows (..., time): each maximal run of digits is a number, written most
    significant digit first (ids run-length..1), except the answer after '=' when ``reversed_answer``
    (ids 1..run-length); 0 elsewhere. For every layout without a scratchpad this equals
    :func:`abacus_ids` of the row's task, so rows of different tasks (a mixture's batch) get their own ids.
    NumPy arrays or torch tensors (the training side passes its batches): only operators both share.
    """
    digit = (rows >= DIGIT0) & (rows < DIGIT0 + 10)
    left, right = rows * 0, rows * 0
    run_l, run_r = rows[..., 0] * 0, rows[..., 0] * 0
    time = rows.shape[-1]
    for t in range(time):  # run lengths ending at t (from the left) and starting at t (from the right)
        run_l = (run_l + 1) * digit[..., t]
        left[..., t] = run_l
        run_r = (run_r + 1) * digit[..., time - 1 - t]
        right[..., time - 1 - t] = run_r
    if not reversed_answer:
        return right
    after_eq = (rows == STOI["="]).cumsum(-1) > 0
    return after_eq * left + ~after_eq * right


def check_mixture_abacus(skills) -> None:
    """Raise ValueError (one line) unless every skill's layout can be indexed from its tokens."""
    formats = {s.task.format for s in skills}
    for s in skills:
        abacus_ids(s.task)  # the single-task checks (unpadded plain answers, symbols)
        if s.task.format == "scratchpad":
            raise ValueError(f"model.pos_embedding=abacus with task=mix cannot index skill {s.name}'s scratchpad; "
                             "use formats plain or reversed")
    if len(formats) > 1:
        raise ValueError(f"model.pos_embedding=abacus with task=mix needs one format for every skill, not "
                         f"{' and '.join(sorted(formats))}")


def training_positions(ids, offsets):
    """Ids with a per-row random offset added to the digits (ids > 0), NumPy arrays or torch tensors:
    ids (seq_len,) shared by every row, or (..., rows, seq_len) per row; offsets (..., rows).
    Returns (..., rows, seq_len)."""
    return ids + (ids > 0) * offsets[..., None]
