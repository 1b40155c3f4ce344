"""The sweep report: `toymodels-report SWEEP_DIR` turns a sweep folder into figures and a summary.

The command line only: the options, `--example` (copy a lab's packaged sweep first), and the call to
`toymodels.analysis.report.write_report`, which owns the report. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from toymodels import labs
from toymodels.analysis.arms import DEFAULT_CONTINUOUS, X_AXES
from toymodels.analysis.plots import plt
from toymodels.analysis.report import PROG, ReportOptions, write_report
from toymodels.analysis.summary import SOLVE_LEVEL
from toymodels.runs.records import METRICS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of `toymodels-report`."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, nargs="?",
                        help="sweep folder: one run folder per subdirectory (with --example: a new folder)")
    parser.add_argument("--example", metavar="LAB",
                        help=f"copy the lab's precomputed sweep ({', '.join(labs.LABS)}) into a new folder and report "
                        "it, with no training")
    parser.add_argument("--resolution", type=int, metavar="N",
                        help="also write resolution.png: each run's final exact match on N-problem subsets of its "
                        "held-out problems against all of them, and answer_prob (reads final_problems.npz)")
    parser.add_argument("--solve-level", type=float, default=SOLVE_LEVEL,
                        help="a run solves the task when its final exact match reaches this (default: %(default)s)")
    parser.add_argument("--split-seeds", nargs="?", type=int, const=0, default=None, metavar="N",
                        help="also split the seeds into disjoint halves and check each half's threshold lies in "
                        "the other's interval (needs 4+ seeds); with N, draw 20 pairs of disjoint N-seed sets instead "
                        "(the smallest N whose pairs agree is the seed count that makes the threshold reproducible)")
    parser.add_argument("--arm-axis", action="append", metavar="KEY",
                        help="compare the arms of this sweep axis (repeatable; default: every axis besides model and "
                        "seed)")
    parser.add_argument("--arm-metric", default=DEFAULT_CONTINUOUS, choices=METRICS,
                        help="the continuous metric compared between arms beside exact match (default: %(default)s)")
    parser.add_argument("--x", choices=X_AXES, default="train_flops",
                        help="compute axis: training FLOPs, or training plus inference FLOPs (default: %(default)s)")
    parser.add_argument("--problems", type=int, default=None, metavar="N",
                        help="with --x total_flops: problems answered per run (default: each run's eval.size)")
    parser.add_argument("--mirage", action="append", metavar="SKILL",
                        help="mixture sweeps: also write mirage_SKILL.png, the skill scored by every metric (repeat, "
                        "or 'all')")
    parser.add_argument("--wandb", action="store_true", help="also log the figures and summary to W&B")
    parser.add_argument("--wandb-project", default="toymodels", help="W&B project (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.sweep_dir is None and args.example is None:
        parser.error("give a sweep folder (or --example LAB)")
    return args


def copy_example(args: argparse.Namespace) -> int:
    """--example LAB: copy the lab's sweep into args.sweep_dir and take the lab's report options; exit code."""
    try:
        lab = labs.get_lab(args.example)
        args.sweep_dir = labs.copy_example(lab.name, args.sweep_dir)
    except labs.LabError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    print(f"copied the example of lab {lab.number} ({lab.title}) into {args.sweep_dir}")
    for key, value in lab.report_options.items():
        setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write the report into the sweep folder; exit 0, or 1 if no run completed, 2 if no sweep."""
    args = parse_args(argv)
    if plt is None:
        print(f"{PROG}: error: the report needs matplotlib (pip install 'toymodels[plot]')", file=sys.stderr)
        return 2
    if args.example is not None and copy_example(args):  # the no-compute path: a packaged sweep, reported as any
        return 2
    options = ReportOptions(**{f.name: getattr(args, f.name) for f in fields(ReportOptions)})
    return write_report(args.sweep_dir, options)


if __name__ == "__main__":
    raise SystemExit(main())
