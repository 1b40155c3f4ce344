"""Tasks: synthetic arithmetic problems, mixtures of skills, finite training sets and digit positions.

NumPy only (no torch): a task generates problems as strings and token ids from a seeded generator,
splits its problem space into training and held-out parts, and scores answers. `arithmetic` holds
the single tasks and the shared vocabulary, `mixture` several skills in one run, `trainset` a finite
training set drawn from a task, `positions` the digit-significance ids of abacus positions.
"""

from toymodels.tasks.arithmetic import FORMATS, TASKS, Task
from toymodels.tasks.vocab import VOCAB, decode, encode

__all__ = ["FORMATS", "TASKS", "VOCAB", "Task", "decode", "encode"]
