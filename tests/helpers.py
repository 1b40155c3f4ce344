"""Test helpers: run the real CLIs in subprocesses, read run folders."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict:
    """Environment for CLI subprocesses: no W&B network, unbuffered, no stray thread oversubscription."""
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONUNBUFFERED="1", HYDRA_FULL_ERROR="0")
    env.update(extra)
    return env


def run_cli(module: str, *args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """Run `python -m <module> <args>` and return the CompletedProcess (text output)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or REPO,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_metrics(run_dir: Path) -> list[dict]:
    """metrics.csv of a run folder as a list of dicts of floats."""
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


# A few hundred steps of a small model on 2-digit addition: enough to learn it, seconds on a laptop.
SMALL_RUN = ("task=add", "task.n_digits=2", "task.format=reversed", "eval.size=500")


def compose_train(*overrides: str, hydra: bool = False):
    """The composed training config for these overrides, in-process (Hydra's compose API), as the CLI would
    compose it; with `hydra=True` Hydra's own node (launcher, run and sweep folders) is included."""
    from hydra import compose, initialize_config_dir  # here: helpers.py is imported by tests that never compose

    from toymodels.training.config import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=hydra)
