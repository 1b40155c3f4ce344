"""The drawing helpers every figure shares: matplotlib set up headless, atomic PNG writes, the log compute axis.

`plt` is None when matplotlib (the optional `plot` extra) is missing; the entry points say so in one
line. Every module that draws imports its axis helpers from here, so a figure's compute axis reads
the same in `emergence.png`, `forecast.png` and the rest.
"""

from __future__ import annotations

import math
from pathlib import Path

from toymodels.runs.records import LOWER_IS_BETTER, atomic_write

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window: the report runs on headless machines and in CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
except ImportError:  # matplotlib is the optional `plot` extra: the CLIs say so in one line
    plt = None

DPI = 120
FLOPS_LABEL = "training compute (FLOPs)"
PARAMS_LABEL = "non-embedding parameters"


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Write a figure atomically as PNG and close it."""
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
    finally:
        plt.close(fig)


def log_x(ax: plt.Axes) -> None:
    """Log compute/size axis; on a short axis (< 2 decades) label the 2x and 5x ticks, which
    matplotlib would otherwise label all, overlapping."""

    def minor(value: float, _pos: int) -> str:
        low, high = ax.get_xlim()
        exponent = math.floor(math.log10(value))
        mantissa = round(value / 10**exponent)
        short = math.log10(high / low) < 2.0
        return f"${mantissa}\\times10^{{{exponent}}}$" if short and mantissa in (2, 5) else ""

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(FuncFormatter(minor))


def placeholder(fig: plt.Figure, message: str) -> None:
    """A grey message across an empty figure (nothing to plot yet, and why)."""
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="0.4")


def metric_label(metric: str) -> str:
    """`loss (lower is better)`: an axis label that says which way is up."""
    return f"{metric} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)"
