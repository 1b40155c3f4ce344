"""What every kind of report shares: its options (checked before anything is read or written), its one-line
errors and warnings.

`ReportOptions.problem()` names the first option out of range, so that `toymodels-report` refuses a bad
option before it copies an example, reads a sweep or writes a file. `report` (the single-task report) and
`mixture_report` both import from here, so neither imports the other at its top.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

from toymodels.analysis import arms
from toymodels.analysis import summary as summaries
from toymodels.analysis.figures import read_curves
from toymodels.analysis.sweep import Sweep
from toymodels.runs.records import METRICS

PROG = "toymodels-report"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def level_problem(flag: str, value: Any) -> str | None:
    """What is wrong with an exact-match level (it must lie in (0, 1]), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{flag} {value!r} is not a number"
    if not 0.0 < value <= 1.0:
        return f"{flag} {value:g} must lie in (0, 1]: an exact match level"
    return None


@dataclass
class ReportOptions:
    """What `toymodels-report` can be asked for beyond the sweep folder (its options, same names and defaults)."""

    resolution: int | None = None
    solve_level: float = summaries.SOLVE_LEVEL
    split_seeds: int | None = None  # None: no check; 0: disjoint halves; N: 20 pairs of disjoint N-seed sets
    arm_axis: list[str] | None = None
    arm_metric: str = arms.DEFAULT_CONTINUOUS
    x: str = "train_flops"
    problems: int | None = None
    mirage: list[str] | None = None
    wandb: bool = False
    wandb_project: str = "toymodels"

    @property
    def arm_keys(self) -> list[str] | None:
        """The chosen arm axes, each `--arm-axis` value split at commas; None for every axis."""
        return [k.strip() for a in self.arm_axis for k in a.split(",")] if self.arm_axis else None

    def problem(self) -> str | None:
        """The first option out of range or of the wrong type (one line), or None when every option is usable."""
        checks = (
            (self.resolution is not None and not (_is_int(self.resolution) and self.resolution >= 1),
             f"--resolution {self.resolution!r} must be a whole number of problems, at least 1"),
            (self.split_seeds is not None and not (_is_int(self.split_seeds) and self.split_seeds >= 0),
             f"--split-seeds {self.split_seeds!r} must be a whole number of seeds, at least 1"),
            (self.problems is not None and not (_is_int(self.problems) and self.problems >= 1),
             f"--problems={self.problems!r} must be positive"),
            (self.arm_axis is not None and not all(isinstance(a, str) for a in self.arm_axis)
             or self.arm_keys is not None and not all(self.arm_keys),
             f"--arm-axis {self.arm_axis!r}: give a sweep key such as task.format (no empty names)"),
            (self.arm_metric not in METRICS, f"--arm-metric {self.arm_metric!r} is not one of {', '.join(METRICS)}"),
            (self.x not in arms.X_AXES, f"--x {self.x!r} is not one of {', '.join(arms.X_AXES)}"),
            (self.mirage is not None and not all(isinstance(m, str) and m.strip() for m in self.mirage),
             f"--mirage {self.mirage!r}: give a skill name (or 'all')"),
            (not isinstance(self.wandb_project, str) or not self.wandb_project.strip(),
             f"--wandb-project {self.wandb_project!r} must be a project name"),
        )
        level = level_problem("--solve-level", self.solve_level)
        return level or next((message for bad, message in checks if bad), None)


def error(message: object) -> int:
    """Print the one-line error and return exit code 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def warn(message: object) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def curves_with_warnings(sweep: Sweep) -> tuple[dict, list[str]]:
    """Every completed run's metrics.csv (`figures.read_curves`), warning on stderr about corrupt or unreadable
    runs and files."""
    curves, curve_problems = read_curves(sweep)
    for problem in [p for p in sweep.problems if ": corrupt: " in p] + sweep.warnings + curve_problems:
        warn(problem)
    return curves, curve_problems
