"""Run `toymodels-train` and send it a signal at a deterministic point: right after its k-th evaluation
point is written (metrics.csv, run.json), before anything else happens.

    python -m tests.interrupt --after-points 8 --signal KILL -- task=add model=d16 ...

The signal comes from the training process itself, so where it lands does not depend on timing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--after-points", type=int, required=True, help="evaluation points written this session")
    parser.add_argument("--signal", choices=("KILL", "TERM", "INT"), required=True)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    # A user's Ctrl-C meets Python's default handler; a test worker may hand its child SIGINT ignored
    # (an ignored signal stays ignored across exec), so restore the default here.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    from toymodels.training.recorder import RunRecorder

    original, written = RunRecorder.evaluate, []

    def evaluate(self, trainer, pl_module) -> None:
        original(self, trainer, pl_module)
        written.append(trainer.global_step)
        if len(written) == opts.after_points:
            print(f"[interrupt] SIG{opts.signal} after the point at step {trainer.global_step}", flush=True)
            os.kill(os.getpid(), getattr(signal, f"SIG{opts.signal}"))

    RunRecorder.evaluate = evaluate
    sys.argv = ["toymodels-train", *[a for a in opts.args if a != "--"]]
    from toymodels.cli.train import main as train_main

    train_main()


if __name__ == "__main__":
    main()
