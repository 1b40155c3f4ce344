"""Data: the on-the-fly training stream and the fixed held-out evaluation set, as a DataModule.

Training batches are generated in memory, vectorised, in the training process (no DataLoader
workers: a batch costs tens of microseconds). Batch ``k`` of rank ``r`` is a pure function of
``(seed, k, r)``, so a resumed run continues the very stream it was on without saving any data
state, and a 2-process run sees different problems on each rank. A seed ensemble's batch stacks
its members' batches, (members, rows, seq): member i sees exactly the stream of a run with seed i.
With a finite training set
(``task.train_size``, toymodels.tasks.trainset) the batches are slices of seeded epoch orders of that set,
still a pure function of ``(seed, k, r)``.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from toymodels.tasks.arithmetic import Task
from toymodels.tasks.trainset import TrainingSet
from toymodels.training.interrupts import interruptible


class TrainStream:
    """An endless iterable of token batches (local_batch, seq_len), starting at the trainer's step."""

    def __init__(self, data: ArithmeticData) -> None:
        self.data = data

    def __iter__(self):
        data, trainer = self.data, self.data.trainer
        step = trainer.global_step if trainer is not None else 0
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        if data.batch_size % world:
            raise ValueError(f"train.batch_size={data.batch_size} is not divisible by {world} processes")
        local = data.batch_size // world
        while True:
            with interruptible():  # drawing a batch changes nothing: a stop signal ends it at once
                batch = data.batches(step, rank, local)
            yield batch
            step += 1


class ArithmeticData(L.LightningDataModule):
    """Training streams from the run seeds; evaluation set from its own seed, disjoint by construction."""

    def __init__(self, task: Task, batch_size: int, seed: int | list[int], eval_size: int, eval_seed: int,
                 train_set: TrainingSet | None = None) -> None:
        super().__init__()
        self.seeds = [seed] if isinstance(seed, int) else list(seed)
        self.task, self.batch_size, self.seed = task, batch_size, self.seeds[0]
        self.eval_size, self.eval_seed = eval_size, eval_seed
        self.train_set = train_set  # None: the endless stream
        self._eval_problems: tuple[np.ndarray, np.ndarray] | None = None

    def batch(self, step: int, rank: int = 0, size: int | None = None, seed: int | None = None) -> torch.Tensor:
        """Training batch number `step` of process `rank` in the stream of `seed` (the first seed by default)."""
        if self.train_set is not None:  # a finite set: the same problems, in epochs of each seed's own order
            train_set = self.train_set if seed in (None, self.seed) else self.train_set.for_seed(seed)
            a, b = train_set.batch(step, rank, size or self.batch_size, self.batch_size)
        else:
            rng = np.random.default_rng([self.seed if seed is None else seed, step, rank])
            a, b = self.task.sample_train(rng, size or self.batch_size)
        return torch.from_numpy(self.task.encode_rows(a, b))

    def batches(self, step: int, rank: int = 0, size: int | None = None) -> torch.Tensor:
        """Every member's training batch number `step`, stacked: (members, rows, seq)."""
        return torch.stack([self.batch(step, rank, size, seed) for seed in self.seeds])

    @property
    def eval_problems(self) -> tuple[np.ndarray, np.ndarray]:
        """The held-out evaluation set: operands (a, b), eval_size problems chosen by eval_seed."""
        if self._eval_problems is None:
            self._eval_problems = self.task.heldout_problems(self.eval_size, self.eval_seed)
        return self._eval_problems

    @property
    def train_sample(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The training problems the train_ metrics score: eval_size of the finite set (None: no set)."""
        if self.train_set is None:
            return None
        return self.train_set.sample(self.eval_size, self.eval_seed)

    def train_dataloader(self) -> TrainStream:
        return TrainStream(self)
