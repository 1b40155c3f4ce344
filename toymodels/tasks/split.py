"""How a problem space splits into training and held-out parts, fixed independently of the run seed:
a 64-bit hash of the problem for add/sub/mul (`mix64`), a seeded permutation table for mod p."""

from __future__ import annotations

import functools

import numpy as np


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fast, well-mixed 64-bit hash (wrapping uint64 arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@functools.lru_cache(maxsize=8)
def mod_heldout_table(p: int, train_fraction: float, split: str, split_seed: int) -> np.ndarray:
    """The mod split as a read-only (p, p) table, True where held out; built once per split.

    Cached on the fields that define the split (is_heldout runs on every training batch).
    Ordered: the first round(train_fraction * p * p) problems of a seeded permutation are for
    training. Unordered: pairs {a, b} (a <= b) are taken in seeded order while the problems they
    stand for (1 when a == b, else 2) fit in that count, so the share is exact to one problem.
    """
    rng = np.random.default_rng(split_seed)
    n_train = int(round(train_fraction * p * p))
    if split == "ordered":
        heldout = np.zeros(p * p, dtype=bool)
        heldout[rng.permutation(p * p)[n_train:]] = True
        heldout = heldout.reshape(p, p)
    else:
        lo, hi = np.triu_indices(p)
        order = rng.permutation(len(lo))
        lo, hi = lo[order], hi[order]
        train = np.cumsum(np.where(lo == hi, 1, 2)) <= n_train
        heldout = np.ones((p, p), dtype=bool)
        heldout[lo[train], hi[train]] = heldout[hi[train], lo[train]] = False
    heldout.setflags(write=False)
    return heldout
