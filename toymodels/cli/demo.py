"""The emergence demo: train the family (one Hydra multirun), then report the sweep.

``toymodels-demo`` (what ``make demo`` runs) trains ``experiment=emergence`` into
``multirun/emergence`` and writes the figures and the fitted threshold there;
``toymodels-demo --quick`` runs ``experiment=emergence_quick`` (2 seeds instead of 4, about half the time).
Extra arguments are Hydra overrides passed to the sweep. Completed runs are not trained again,
so an interrupted demo resumes where it stopped.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the sweep, then the report; return the exit code."""
    parser = argparse.ArgumentParser(prog="toymodels-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the class demo: 2 seeds per size instead of 4 (emergence_quick)")
    parser.add_argument("--sweep-dir", help="where the sweep goes (default: multirun/<experiment>)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. trainer.threads=2")
    args = parser.parse_args(argv)
    experiment = "emergence_quick" if args.quick else "emergence"
    sweep_dir = Path(args.sweep_dir or Path("multirun") / experiment).resolve()
    print(f"[demo] training the {experiment} sweep into {sweep_dir}", flush=True)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "toymodels.cli.train", "-m", f"experiment={experiment}",
           f"hydra.sweep.dir={sweep_dir}"]
    code = subprocess.call(cmd + args.overrides)
    if code != 0:
        print(f"[demo] the sweep stopped with exit code {code}; reporting what is there", file=sys.stderr)
    from toymodels.cli.report import main as report

    report_code = report([str(sweep_dir)])
    print(f"[demo] done in {(time.perf_counter() - t0) / 60:.1f} min. Figures: {sweep_dir}/emergence.png, "
          f"{sweep_dir}/mirage.png, {sweep_dir}/curves.png; summary: {sweep_dir}/summary.md", flush=True)
    return code or report_code


if __name__ == "__main__":
    raise SystemExit(main())
