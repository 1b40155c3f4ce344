"""The sweep report: `toymodels-report SWEEP_DIR` turns a sweep folder into figures and a summary.

The command line only: the options, `--example` (copy a lab's packaged sweep first), and the call to
`toymodels.analysis.report.write_report`, which owns the report. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import fields
from pathlib import Path

from toymodels import labs
from toymodels.analysis.arms import DEFAULT_CONTINUOUS, X_AXES
from toymodels.analysis.plots import plt
from toymodels.analysis.report import PROG, ReportOptions, write_report
from toymodels.analysis.summary import SOLVE_LEVEL
from toymodels.runs.records import METRICS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line (no usage block), exit 2, like every other bad input
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _count(text: str) -> int:
    """A whole number >= 1 (argparse type): --resolution and --split-seeds N."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of `toymodels-report`."""
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, nargs="?",
                        help="sweep folder: one run folder per subdirectory (with --example: a new folder)")
    parser.add_argument("--example", metavar="LAB",
                        help=f"copy the lab's precomputed sweep ({', '.join(labs.LABS)}) into a new folder and report "
                        "it, with no training")
    parser.add_argument("--resolution", type=_count, metavar="N",
                        help="also write resolution.png: each run's final exact match on N-problem subsets of its "
                        "held-out problems against all of them, and answer_prob (reads final_problems.npz)")
    parser.add_argument("--solve-level", type=float, default=SOLVE_LEVEL,
                        help="a run solves the task when its final exact match reaches this (default: %(default)s)")
    parser.add_argument("--split-seeds", nargs="?", type=_count, const=0, default=None, metavar="N",
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


def options_of(args: argparse.Namespace) -> ReportOptions:
    return ReportOptions(**{f.name: getattr(args, f.name) for f in fields(ReportOptions)})


def copy_example(args: argparse.Namespace) -> int:
    """--example LAB: take the lab's report options, check them and DEST, then copy the lab's sweep into
    args.sweep_dir; exit code (2 with one line, nothing copied, for a bad lab, DEST or option)."""
    try:
        lab = labs.get_lab(args.example)
        labs.example_dir(lab.name)  # a missing example is refused before anything else
        if args.sweep_dir is not None and (args.sweep_dir.exists() or args.sweep_dir.is_symlink()):
            raise labs.LabError(f"{args.sweep_dir} already exists; give a new folder for the example "
                                "(nothing is overwritten)")
        for key, value in lab.report_options.items():
            setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
        problem = options_of(args).problem()
        if problem:
            raise labs.LabError(problem)
        args.sweep_dir = labs.copy_example(lab.name, args.sweep_dir)
    except labs.LabError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{PROG}: error: cannot copy the example of lab {args.example} ({err})", file=sys.stderr)
        return 2
    print(f"copied the example of lab {lab.number} ({lab.title}) into {args.sweep_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write the report into the sweep folder; exit 0, or 1 if no run completed, 2 for bad input (one line on
    stderr, nothing written)."""
    args = parse_args(argv)
    if plt is None:
        print(f"{PROG}: error: the report needs matplotlib (pip install 'toymodels[plot]')", file=sys.stderr)
        return 2
    if args.example is None:
        return write_report(args.sweep_dir, options_of(args))
    if copy_example(args):  # the no-compute path: a packaged sweep, reported as any
        return 2
    code = write_report(args.sweep_dir, options_of(args))
    if code == 2:  # refused: the copy this command made goes too, so a failed command leaves nothing behind
        shutil.rmtree(args.sweep_dir, ignore_errors=True)
        print(f"{PROG}: error: the report of the example failed (above); removed the copy {args.sweep_dir}",
              file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
