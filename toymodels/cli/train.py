"""The training entry point: ``toymodels-train [overrides]`` or ``python -m toymodels.cli.train [overrides]``.

Thin on purpose: the command line is checked before Hydra writes anything
(:mod:`toymodels.training.precheck`); Hydra's entry validates the composed config once into a
RunConfig (:func:`toymodels.training.config.build_run`) and hands it to the fit
(:func:`toymodels.training.fit.train_run`). A ConfigError is one line on stderr and exit 2.
A sweep's dry run (``-m ... --cfg job``, which Hydra refuses) lists the jobs it would run and writes nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from toymodels.errors import ConfigError
from toymodels.training.config import build_run, check_sweep_strategy, config_dir
from toymodels.training.precheck import check_command_line, with_one_budget

INFO_FLAGS = ("--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")
DRY_RUN_FLAGS = ("--cfg", "-c", "--info", "-i", "--resolve")  # with -m: list the sweep's jobs


def train(cfg) -> dict:
    """Train the run (or seed ensemble) a composed config describes; its (first member's) final run.json record."""
    from toymodels.training.fit import train_run  # 3.3 s of Lightning start-up: not for --help or a refusal

    run_cfg = build_run(cfg)  # validates everything before anything is written
    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if in_sweep:
        check_sweep_strategy(run_cfg.trainer.kwargs, hydra_cfg.launcher._target_)
    return train_run(run_cfg, Path(hydra_cfg.runtime.output_dir), in_sweep)


def _fail(err: ConfigError) -> None:
    print(f"toymodels-train: error: {err}", file=sys.stderr, flush=True)
    sys.exit(2)


def _hydra_entry():
    @hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
    def _main(cfg) -> None:
        try:
            train(cfg)
        except ConfigError as err:
            _fail(err)

    return _main


def dry_run(args: list[str]) -> None:
    """A sweep's --cfg/--info (Hydra allows neither with -m): check every job and list it, one line each."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--cfg", "-c", "--package", "-p"):
            skip = True
        elif arg not in DRY_RUN_FLAGS and not arg.startswith("--info"):
            kept.append(arg)
    plan = check_command_line(kept)
    print(f"[dry run] {len(plan)} job(s); nothing is written", flush=True)
    for job, run_dir in plan:
        print(f"{job or '(defaults)'}  ->  {run_dir}", flush=True)


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    sys.argv[1:] = with_one_budget(sys.argv[1:])
    args = sys.argv[1:]
    multirun = "-m" in args or "--multirun" in args
    try:
        if multirun and any(a in DRY_RUN_FLAGS or a.startswith("--info") for a in args):
            dry_run(args)
            return
        if not any(a in INFO_FLAGS or a.startswith("--info") for a in args):
            check_command_line(args)
    except ConfigError as err:
        _fail(err)
    _hydra_entry()()


if __name__ == "__main__":
    main()
