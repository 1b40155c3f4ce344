"""The emergence demo: train the family (one Hydra multirun), then report the sweep.

``toymodels-demo`` (what ``make demo`` runs) trains ``experiment=emergence`` into
``multirun/emergence`` and writes the figures and the fitted threshold there;
``toymodels-demo --quick`` runs ``experiment=emergence_quick`` (2 seeds instead of 4, about half the time).
Extra arguments are Hydra overrides passed to the sweep. Completed runs are not trained again,
so an interrupted demo resumes where it stopped. A refused or failed training stops the demo before
the report (its error is the last line, the exit code is the training's): a sweep folder's report is
only ever replaced by a report of a sweep that trained.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from toymodels.cli import report as report_cli
from toymodels.errors import ConfigError

PROG = "toymodels-demo"


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return 2


def check_sweep_dir(sweep_dir: Path) -> None:
    """ConfigError unless the folder is new, empty, or a sweep folder (the demo's report goes into it)."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise ConfigError(f"--sweep-dir {sweep_dir} is a file; give a folder (new, empty, or an earlier demo's)")
    if sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        is_sweep = (sweep_dir / "multirun.yaml").exists() or any(sweep_dir.glob("*/run.json"))
        if not is_sweep:
            raise ConfigError(f"--sweep-dir {sweep_dir} holds files but no sweep (no multirun.yaml, no run "
                              "folders): the demo would write its runs and report there; choose a new or empty folder")


def main(argv: list[str] | None = None) -> int:
    """Run the sweep, then the report; return the exit code."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the class demo: 2 seeds per size instead of 4 (emergence_quick)")
    parser.add_argument("--sweep-dir", help="where the sweep goes (default: multirun/<experiment>)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. trainer.threads=2")
    args = parser.parse_args(argv)
    experiment = "emergence_quick" if args.quick else "emergence"
    if args.sweep_dir is not None and not args.sweep_dir.strip():
        return _fail("--sweep-dir is empty; give a folder")
    sweep_dir = Path(args.sweep_dir or Path("multirun") / experiment).resolve()
    train_args = ["-m", f"experiment={experiment}", f"hydra.sweep.dir={sweep_dir}", *args.overrides]
    try:
        from toymodels.training.precheck import check_command_line  # 1.3 s of torch start-up: not for --help

        check_sweep_dir(sweep_dir)
        check_command_line(train_args)
    except ConfigError as err:
        return _fail(str(err))
    print(f"[demo] training the {experiment} sweep into {sweep_dir}", flush=True)
    t0 = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "toymodels.cli.train", *train_args])
    if code != 0:  # the training's own error stays the last line; no report of a sweep that failed
        return code
    report_code = report_cli.main([str(sweep_dir)])
    if report_code != 0:
        return report_code
    print(f"[demo] done in {(time.perf_counter() - t0) / 60:.1f} min. Figures: {sweep_dir}/emergence.png, "
          f"{sweep_dir}/mirage.png, {sweep_dir}/curves.png; summary: {sweep_dir}/summary.md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
