"""Finite training sets: N distinct problems drawn once from the training part, trained on in epochs.

``task.train_size=N`` replaces the endless stream with a fixed set (the setting of the grokking
papers and of data-scaling studies). The set is drawn from the training part of the problem space
only (never a held-out problem) by its own seed, ``task.train_set_seed`` (0), independent of the run
seed, so runs with different seeds train on the same problems unless asked otherwise
(``task.train_set_seed=${seed}``). Training goes through the set in epochs: epoch ``e`` is a
permutation of the set drawn from ``(run seed, e)``, and the global batch of step ``k`` is the slice
``[k*B, (k+1)*B)`` of the concatenated epochs (a batch may straddle two epochs, so every step has
the same size and the FLOPs accounting stays exact). Batch ``k`` of rank ``r`` is therefore still a
pure function of ``(seed, k, r)``: a resumed run continues the very epoch order it was on.

A full batch (``train.batch_size=full``) is the whole set every step; it is accepted when the
estimated training activations fit ``FULL_BATCH_LIMIT_GIB``.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

from toymodels.tasks.arithmetic import ENUMERATE_LIMIT, Task

MAX_TRAIN_SIZE = ENUMERATE_LIMIT  # larger sets: the endless stream is the better model of "lots of data"
MAX_TOP_UPS = 64  # rounds of drawing more problems for a set of a large space (each adds most of what is missing)
FULL_BATCH_LIMIT_GIB = 4.0  # estimated activation memory a full batch may need (batch_memory_bytes)


def training_part_size(task: Task) -> int:
    """Problems in the training part of the space (exact where the space is enumerable, else an estimate)."""
    return task.space_size - task.heldout_count


def check_train_size(task: Task, size) -> None:
    """ValueError with one line when `size` is not a usable training-set size for `task`."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise ValueError(f"task.train_size={size!r} must be a whole number of problems (or null: the endless stream)")
    if size < 1:
        raise ValueError(f"task.train_size={size} must be >= 1 (or null: the endless stream)")
    part = training_part_size(task)
    if size > part:
        raise ValueError(
            f"task.train_size={size} is larger than the {part} problems of the training part of {task.label} "
            f"(train_fraction {task.train_fraction}); use task.train_size<={part}"
        )
    if size > MAX_TRAIN_SIZE:
        raise ValueError(f"task.train_size={size} is above {MAX_TRAIN_SIZE}; use null (the endless stream) instead")


def draw_training_set(task: Task, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` distinct problems of the training part, chosen by `seed`, sorted by (a, b)."""
    check_train_size(task, size)
    rng = np.random.default_rng([seed, 0x7472])  # 0x7472 ("tr"): never the same stream as an eval seed
    if task.space_size <= ENUMERATE_LIMIT:
        a, b = task._enumerate()
        train = ~task.is_heldout(a, b)
        a, b = a[train], b[train]
        pick = np.sort(rng.choice(len(a), size=size, replace=False))
        return a[pick], b[pick]
    # A large space: draw training problems, de-duplicate (np.unique sorts), top up until there are enough.
    pairs = np.zeros((0, 2), dtype=np.int64)
    for _ in range(MAX_TOP_UPS):
        if len(pairs) >= size:
            break
        a, b = task.sample_train(rng, 2 * (size - len(pairs)) + 16)
        pairs = np.unique(np.concatenate([pairs, np.stack([a, b], 1)]), axis=0)
    if len(pairs) < size:  # the training part holds fewer distinct problems than its estimate said
        raise ValueError(f"task.train_size={size}: found only {len(pairs)} distinct training problems of {task.label} "
                         f"in {MAX_TOP_UPS} rounds of sampling; use a smaller task.train_size")
    pairs = pairs[np.sort(rng.choice(len(pairs), size=size, replace=False))]
    return pairs[:, 0], pairs[:, 1]


def batch_memory_bytes(d_model: int, n_layer: int, n_head: int, d_mlp: int, vocab: int, seq_len: int,
                       rows: int) -> float:
    """Estimated memory (bytes) of one training step's activations and their gradients for `rows` rows.

    Per position, float32 values kept for the backward pass: per layer the two LayerNorm outputs,
    q/k/v, the attention output and projection, the MLP's hidden layer before and after its
    non-linearity, its output and the residual (9·d + 2·d_mlp), plus the attention weights
    (n_head·T, as the math kernel keeps them); the embeddings and the final LayerNorm (2·d); the
    logits, their softmax and its gradient (3·vocab). Times two for the gradients of the backward
    pass. A deliberately generous estimate: the limit is about refusing what cannot fit, early.
    """
    t = seq_len - 1
    per_position = n_layer * (9 * d_model + 2 * d_mlp + n_head * t) + 2 * d_model + 3 * vocab
    return 2.0 * 4.0 * per_position * t * rows


class TrainingSet:
    """A fixed set of training problems and the epoch order the run goes through it in."""

    def __init__(self, task: Task, size: int, set_seed: int, order_seed: int) -> None:
        self.task, self.size, self.set_seed, self.order_seed = task, size, set_seed, order_seed
        self.a, self.b = draw_training_set(task, size, set_seed)

    def for_seed(self, order_seed: int) -> TrainingSet:
        """The same problems in the epoch order of another run seed (a member of a seed ensemble)."""
        other = copy.copy(self)  # shares the drawn arrays
        other.order_seed = order_seed
        return other

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The permutation of the set that epoch `epoch` trains in (from the run seed and the epoch)."""
        return _permutation(self.size, self.order_seed, epoch)

    def indices(self, start: int, count: int) -> np.ndarray:
        """Set indices at positions [start, start + count) of the concatenated epochs."""
        pos = np.arange(start, start + count, dtype=np.int64)
        epochs, offsets = pos // self.size, pos % self.size
        out = np.empty(count, dtype=np.int64)
        for epoch in np.unique(epochs):
            here = epochs == epoch
            out[here] = self.epoch_order(int(epoch))[offsets[here]]
        return out

    def batch(self, step: int, rank: int, local: int, global_batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Operands of rank `rank`'s share (`local` rows) of the global batch of step `step`."""
        if global_batch == self.size:  # full batch: every step is the whole set (order is immaterial)
            idx = np.arange(rank * local, (rank + 1) * local)
        else:
            idx = self.indices(step * global_batch + rank * local, local)
        return self.a[idx], self.b[idx]

    def epochs(self, step: int, global_batch: int) -> float:
        """Epochs done after `step` steps of `global_batch` rows."""
        return step * global_batch / self.size

    def sample(self, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """A fixed sample of min(size, N) problems of the set (the training-set metrics score these)."""
        if size >= self.size:
            return self.a, self.b
        pick = np.sort(np.random.default_rng(seed).choice(self.size, size=size, replace=False))
        return self.a[pick], self.b[pick]


@functools.lru_cache(maxsize=4)
def _permutation(size: int, seed: int, epoch: int) -> np.ndarray:
    order = np.random.default_rng([seed, epoch, 0x6570]).permutation(size)  # 0x6570 ("ep"): epoch orders
    order.setflags(write=False)
    return order
