"""Digit-level arithmetic on NumPy arrays: operands as digits, column sums and carries, long
multiplication, and reading an answer field back by significance (what scoring compares)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from toymodels.tasks.vocab import END

if TYPE_CHECKING:
    from toymodels.tasks.arithmetic import Task


def to_digits(x: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative int64s, most significant first, zero-padded to width."""
    x = np.asarray(x, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (x[:, None] // powers[None, :]) % 10


def columns(a: np.ndarray, b: np.ndarray, op: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Column-by-column a + b or a - b, least significant first: (carry or borrow out, digit), (n, width) each."""
    da, db = to_digits(a, width)[:, ::-1], to_digits(b, width)[:, ::-1]
    carries, digits = np.zeros_like(da), np.zeros_like(da)
    carry = np.zeros(len(da), dtype=np.int64)
    for i in range(width):
        total = da[:, i] + db[:, i] + carry if op == "add" else da[:, i] - db[:, i] - carry
        carry = (total >= 10 if op == "add" else total < 0).astype(np.int64)
        carries[:, i], digits[:, i] = carry, total % 10
    return carries, digits


def long_multiply(a: np.ndarray, b: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits of a * b (n, 2 * width), most significant first, and the columns that carried (n,)."""
    # Products of 10-digit numbers overflow int64, so multiply digit arrays instead.
    da = to_digits(a, width)[:, ::-1]  # least significant first
    db = to_digits(b, width)[:, ::-1]
    cols = np.zeros((len(da), 2 * width), dtype=np.int64)
    for i in range(width):
        cols[:, i : i + width] += da * db[:, i : i + 1]
    carry = np.zeros(len(da), dtype=np.int64)
    n_carries = np.zeros(len(da), dtype=np.int64)
    for j in range(2 * width):
        total = cols[:, j] + carry
        cols[:, j], carry = total % 10, total // 10
        n_carries += carry > 0
    return cols[:, ::-1], n_carries


def significant_length(msd_first: np.ndarray) -> np.ndarray:
    """Digits of each number without its leading zeros (at least one), from digits most significant first."""
    nonzero = msd_first != 0
    return np.where(nonzero.any(1), msd_first.shape[1] - nonzero.argmax(1), 1)


def answer_length(field: np.ndarray) -> np.ndarray:
    """Tokens before the first END of each answer field (the whole field where there is none)."""
    is_end = field == END
    return np.where(is_end.any(1), is_end.argmax(1), field.shape[1])


def answer_significance(answer_tokens: np.ndarray, task: Task) -> np.ndarray:
    """Map answer-field tokens (n, answer_width + 1) to digits by significance (n, answer_width).

    Column i holds the digit of 10**i, or -1 where the field has none (an early END, a
    non-digit, or an unpadded answer shorter than i + 1 digits). Plain answers are read from the
    right of their written length, reversed answers from the left, so both align to the target.
    """
    width = task.answer_width
    tok = answer_tokens[:, :width + 1]
    length = answer_length(tok).clip(max=width)
    t0 = task.token0
    digit = np.where((tok >= t0) & (tok < t0 + task.base), tok - t0, -1)
    sig = np.arange(width)[None, :]
    if task.format == "reversed":
        pos = np.broadcast_to(sig, (len(tok), width))
    else:
        pos = length[:, None] - 1 - sig
    valid = (pos >= 0) & (sig < length[:, None])
    return np.where(valid, np.take_along_axis(digit, pos.clip(0, tok.shape[1] - 1), 1), -1)
