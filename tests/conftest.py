"""Test-session settings: under pytest-xdist (make test runs one worker per core), each worker and
every training process it starts use one thread, so that workers never oversubscribe the cores
(two 2-thread trainings on 2 cores run many times slower than one after the other)."""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the CLI subprocesses the tests start
    import torch

    torch.set_num_threads(1)
