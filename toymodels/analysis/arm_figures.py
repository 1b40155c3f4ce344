"""The emergence figure of a sweep with arms: one family curve per arm, thresholds, shifts and crossovers.

Drawing only: every number comes from summary.json's `arms` (`toymodels.analysis.arms`); the shift and
crossover lines of its footer are `markdown.arm_lines`, as in summary.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from toymodels.analysis import fits
from toymodels.analysis.markdown import X_LABELS, arm_lines
from toymodels.analysis.plots import log_x, metric_label, plt


def plot_arms(summary: dict[str, Any]) -> plt.Figure:
    """Exact match and one continuous metric per arm against compute, and each arm's solve probability."""
    arms = summary["arms"]
    labels, continuous = arms["labels"], arms["metrics"][1]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6), layout="constrained")
    fig.suptitle(f"{summary['sweep']}: {len(labels)} arms of {arms['arm_axis']} — one family curve per arm")
    colors = plt.get_cmap("tab10")(np.arange(len(labels)) % 10)
    for color, label in zip(colors, labels):
        arm = arms[label]
        for ax, metric in zip(axes[:2], ("exact_match", continuous)):
            fams = [f for f in arm["families"] if f.get(metric) and f.get("flops")]
            if not fams:
                continue
            xs = [f["flops"] for f in fams]
            ax.fill_between(xs, [f[metric]["min"] for f in fams], [f[metric]["max"] for f in fams],
                            color=color, alpha=0.12, lw=0)
            ax.plot(xs, [f[metric]["median"] for f in fams], "-o", color=color, ms=4, label=label)
        _solve(axes[2], arm, label, color)
    for ax, metric in zip(axes[:2], ("exact_match", continuous)):
        ax.set_ylabel(metric_label(metric) + " — median, min–max over seeds")
        ax.set_title(metric)
    axes[2].set_ylabel(f"fraction of seeds with exact match ≥ {arms[labels[0]]['solve']['level']:g}")
    axes[2].set_title("solve probability and headline threshold [95 %] per arm")
    for metric, ax in zip(("exact_match", continuous), axes[:2]):
        for c in (c for c in arms["crossovers"] if c["metric"] == metric):
            ax.axvline(c["flops"], color="0.2", ls="--", lw=1, label=f"crossover {c['flops']:.1e}")
    for ax in axes:
        if not ax.has_data():
            ax.text(0.5, 0.5, "no completed run has this metric", transform=ax.transAxes, ha="center", color="0.4")
            continue
        log_x(ax)
        if ax is axes[2]:
            ax.axhline(0.5, color="0.6", lw=0.8)
        ax.set_xlabel(X_LABELS[arms["x"]])
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.supxlabel("\n".join(arm_lines(arms)), fontsize=8, x=0.01, ha="left", family="monospace")
    return fig


def _solve(ax: plt.Axes, arm: dict[str, Any], label: str, color) -> None:
    solve, head = arm["solve"], arm["headline"]
    rows = [r for r in solve["per_size"] if r["flops"]]
    if rows:
        xs = np.array([r["flops"] for r in rows])
        frac = np.array([r["fraction"] for r in rows])
        err = np.array([[r["fraction"] - r["wilson"][0], r["wilson"][1] - r["fraction"]] for r in rows]).T
        ax.errorbar(xs, frac, yerr=err, fmt="o", color=color, capsize=3, ms=4,
                    label=f"{label}: {head['threshold_text']}")
        if solve["logistic"]:
            grid = np.linspace(math.log10(xs.min()), math.log10(xs.max()), 200)
            p = fits.sigmoid(grid, 0.0, 1.0, solve["logistic"]["x0"], 1.0 / solve["logistic"]["slope_per_decade"])
            ax.plot(10**grid, p, color=color, lw=1.2)
    if head["threshold_flops"] is not None:
        ax.axvline(head["threshold_flops"], color=color, ls=":", lw=1.5)
        if head["threshold_ci"]:
            low, high = head["threshold_ci"]
            ax.axvspan(low or min(r["flops"] for r in rows), high or max(r["flops"] for r in rows),
                       color=color, alpha=0.12, lw=0)
    ax.set_ylim(-0.03, 1.03)

