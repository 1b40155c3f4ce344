"""Bounded sampling from one part (training or held-out) of a task's problem space (issue 26).

Problems of a part are found by drawing uniformly from the whole space and keeping those of the part
(rejection sampling). A part that is empty, or a tiny share of a huge space, would make that loop run
forever, so every loop here draws at most ``MAX_DRAWS`` problems and then gives up with one line
(:class:`SamplingError`). :func:`check_parts` says beforehand, from the counts alone, whether a task's
parts can be sampled: the pre-check calls it, so a run never starts that would hit the bound.

Bounds: ``MAX_DRAWS`` = 2**26 problems (two int64 arrays of 2**22 per round, 64 MB; ~3 s of drawing
and hashing on a 2-core CPU) for one request; a part must hold at least ``MIN_SHARE`` = 1e-4 of the
space (at most ~10^4 draws per problem kept: a 128-row batch costs ~1.3M draws, ~50 ms).
"""

from __future__ import annotations

import numpy as np

MAX_DRAWS = 1 << 26  # problems drawn for one request before giving up
ROUND = 1 << 22  # problems drawn at once (bounds the memory of one round)
MIN_SHARE = 1e-4  # the smallest share of the space a part may be, for rejection sampling's cost


class SamplingError(ValueError):
    """A part of the problem space too small to sample from (one line)."""


def part_share(task, heldout: bool) -> float:
    """The share of the problem space in the held-out part (or the training part)."""
    held = task.heldout_count / task.space_size
    return held if heldout else 1.0 - held


def draws_needed(task, n: int, heldout: bool) -> float:
    """Expected problems drawn to find n of the part (inf for an empty part)."""
    share = part_share(task, heldout)
    return float("inf") if share <= 0 else n / share


def check_parts(task, where: str = "task") -> None:
    """SamplingError (one line) when the training or held-out part of `task` is empty or too small to sample."""
    held = task.heldout_count
    train = task.space_size - held
    for part, count in (("training", train), ("held-out", held)):
        share = count / task.space_size
        if count < 1 or share < MIN_SHARE:
            what = "no problem" if count < 1 else f"{count} problems ({share:.2g} of the space)"
            raise SamplingError(
                f"{where}.train_fraction={task.train_fraction} leaves {what} in the {part} part of {task.label}; "
                f"each part needs at least {MIN_SHARE:g} of the space (rejection sampling draws ~1/share "
                f"problems per problem kept): use a train_fraction nearer 0.5"
            )


def check_draws(task, n: int, heldout: bool, what: str) -> None:
    """SamplingError when finding n problems of the part would draw more than MAX_DRAWS."""
    need = draws_needed(task, n, heldout)
    if need > MAX_DRAWS / 4:
        raise SamplingError(f"{what}={n} needs ~{need:.2g} random draws from {task.label} at train_fraction "
                            f"{task.train_fraction} (at most {MAX_DRAWS // 4} per request); use a smaller {what}")


def sample_part(task, rng: np.random.Generator, n: int, heldout: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n problems drawn uniformly (with repeats) from one part of the space; SamplingError past MAX_DRAWS."""
    share = part_share(task, True) if heldout else task.train_fraction  # (the training stream's draws as ever)
    keep_a, keep_b, have, drawn = [], [], 0, 0
    while have < n:
        if drawn >= MAX_DRAWS:
            _give_up(task, n, have, drawn, heldout)
        # Oversample so that one draw almost always suffices after rejecting the other part.
        size = min(ROUND, int(n / max(share, 1e-12)) + 16, MAX_DRAWS - drawn)
        a, b = task._sample_uniform(rng, size)
        drawn += size
        keep = task.is_heldout(a, b) == heldout
        keep_a.append(a[keep])
        keep_b.append(b[keep])
        have += int(keep.sum())
    return np.concatenate(keep_a)[:n], np.concatenate(keep_b)[:n]


def distinct_heldout(task, rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` distinct held-out problems of a large space, as (size, 2) sorted pairs; SamplingError past MAX_DRAWS."""
    pairs: set[tuple[int, int]] = set()
    drawn = 0
    while len(pairs) < size:
        if drawn >= MAX_DRAWS:
            _give_up(task, size, len(pairs), drawn, True, distinct=True)
        n = min(4 * size, ROUND)
        a, b = task._sample_uniform(rng, n)
        drawn += n
        held = task.is_heldout(a, b)
        pairs.update(zip(a[held].tolist(), b[held].tolist()))
    return np.array(sorted(pairs), dtype=np.int64)  # sorted: independent of set order


def _give_up(task, n: int, have: int, drawn: int, heldout: bool, distinct: bool = False) -> None:
    part = "held-out" if heldout else "training"
    raise SamplingError(
        f"found only {have} of {n} {'distinct ' * distinct}{part} problems of {task.label} in {drawn} random draws "
        f"(train_fraction {task.train_fraction}): the {part} part is too small to sample; "
        "use a train_fraction nearer 0.5 or fewer problems"
    )
