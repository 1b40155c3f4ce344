"""Chance levels: the exact match and digit accuracy of a uniform random guess at a task's answer."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from toymodels.tasks.digits import significant_length

if TYPE_CHECKING:
    from toymodels.tasks.arithmetic import Task

CHANCE_PROBLEMS = 65_536  # problems the digit-accuracy chance level averages over


@functools.lru_cache(maxsize=64)
def chance_levels(task: Task) -> dict[str, float]:
    """Exact match and digit accuracy of guessing an answer uniformly among the possible ones."""
    if task.symbols:  # one answer token: a uniform guess of a residue is right 1/p of the time
        return {"exact_match": 1 / task.p, "digit_accuracy": 1 / task.p}
    largest, width = task._max_answer, task.answer_width
    # hits[i, d]: probability that the guess has the digit d at 10**i (Python ints: exact).
    hits = np.zeros((width, 10))
    for i in range(width):
        unit = 10**i
        high, cur, low = largest // (10 * unit), largest // unit % 10, largest % unit
        for d in range(10):
            count = high * unit + (unit if d < cur else low + 1 if d == cur else 0)
            if d == 0 and i > 0 and not task.pad_answer:
                count -= min(largest + 1, unit)  # guesses below 10**i write no digit there
            hits[i, d] = count / (largest + 1)
    if task.space_size <= CHANCE_PROBLEMS:
        a, b = task._enumerate()
    else:
        a, b = task._sample_uniform(np.random.default_rng(0), CHANCE_PROBLEMS)
    digits = task.answers(a, b)[:, ::-1]  # by significance
    p_hit = hits[np.arange(width), digits]
    if task.pad_answer:
        length = np.full(len(a), width)
    else:
        length = significant_length(digits[:, ::-1])
    scored = np.arange(width)[None, :] < length[:, None]
    digit_accuracy = ((p_hit * scored).sum(1) / length).mean()
    return {"exact_match": 1 / (largest + 1), "digit_accuracy": float(digit_accuracy)}
