"""`abilities.png`: every skill's exact match against training compute above the mixture's loss, one x-axis.

Drawing only; the numbers come from `abilities.summarize_mixture` and the runs' `metrics.csv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toymodels.analysis.plots import FLOPS_LABEL, log_x, placeholder, plt


def _skill_label(name: str, skill: dict[str, Any]) -> str:
    if skill["eval_only"]:
        return f"{name} (evaluation only)"
    return f"{name} (weight {skill['weight']:.2f}, Zipf rank {skill['zipf_rank']})"


def _skills_panel(ax: plt.Axes, summary: dict[str, Any]) -> None:
    """Per skill: runs (dots), median over seeds (line), chance (dotted), threshold with its interval (bar)."""
    skills = summary["skills"]
    colors = plt.get_cmap("tab10")(np.arange(len(skills)) % 10)
    for i, (color, (name, skill)) in enumerate(zip(colors, skills.items())):
        done = [r for r in skill["runs"] if r["status"] == "completed" and r["flops"] and r["exact_match"] is not None]
        ax.scatter([r["flops"] for r in done], [r["exact_match"] for r in done], s=10, color=color, alpha=0.35)
        fams = [f for f in skill["families"] if f["exact_match"] is not None and f["flops"]]
        ax.plot([f["flops"] for f in fams], [f["exact_match"]["median"] for f in fams], "--" if skill["eval_only"]
                else "-", marker="o", ms=3, lw=1.8, color=color, label=_skill_label(name, skill))
        chance = (skill.get("chance") or {}).get("exact_match")
        if chance is not None:
            ax.axhline(chance, color=color, ls=":", lw=0.9, alpha=0.8)
        head = skill["headline"]
        if head["threshold_flops"] is not None:
            low, high = head["threshold_ci"] or [head["threshold_flops"]] * 2
            x_lo, x_hi = summary["x_range"]
            low, high = low or x_lo, high or x_hi
            y = 0.5 + 0.04 * (i - (len(skills) - 1) / 2)  # spread apart, so overlapping intervals stay legible
            ax.errorbar([head["threshold_flops"]], [y], xerr=[[head["threshold_flops"] - low],
                        [high - head["threshold_flops"]]], fmt="D", ms=6, color=color, capsize=4, lw=1.5, zorder=5)
    ax.plot([], [], ls=":", color="0.4", label="chance (each skill's colour)")
    ax.errorbar([], [], xerr=[], fmt="D", color="0.4",
                label="threshold: half the seeds solve (95 % interval; drawn near 0.5)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("exact match (held-out problems)")
    ax.set_title("each skill: exact match against compute (line: median over seeds)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.9)
    ax.grid(True, which="major", alpha=0.3)


def _loss_panel(ax: plt.Axes, summary: dict[str, Any], curves: dict[str, dict[str, np.ndarray]]) -> None:
    """The mixture's held-out loss: within-run curves (thin), final points and the median over seeds."""
    for curve in curves.values():
        if "loss" in curve:
            seen = curve["flops"] > 0
            ax.plot(curve["flops"][seen], curve["loss"][seen], color="0.6", lw=0.6, alpha=0.5)
    done = [r for r in summary["runs"] if r["status"] == "completed" and r["flops"] and r["loss"] is not None]
    ax.scatter([r["flops"] for r in done], [r["loss"] for r in done], s=12, color="tab:blue", alpha=0.6,
               label="final loss of a run", zorder=3)
    fams = [f for f in summary["families"] if f.get("loss") is not None and f["flops"]]
    ax.plot([f["flops"] for f in fams], [f["loss"]["median"] for f in fams], "-o", ms=3, color="navy",
            label="median over seeds", zorder=4)
    ax.plot([], [], color="0.6", lw=0.6, label="during training (each run)")
    ax.set_yscale("log")
    ax.set_ylabel("mixture loss (held-out, per target token)")
    ax.set_title("the mixture's loss against the same compute", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def plot_abilities(summary: dict[str, Any], curves: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """Skills (jumping) above the mixture loss (smooth), sharing the training-compute axis."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 9), sharex=True, height_ratios=(3, 2), layout="constrained")
    found = summary["n_runs_found"]
    fig.suptitle(f"{summary['sweep']}: {len(summary['skills'])} skills, one family — "
                 f"{summary['n_completed']} of {found} runs completed")
    if not summary.get("x_range"):
        for ax in (top, bottom):
            ax.set_axis_off()
        placeholder(fig, "no completed runs yet: nothing to plot")
        return fig
    _skills_panel(top, summary)
    _loss_panel(bottom, summary, curves)
    log_x(bottom)
    x_lo, x_hi = summary["x_range"]
    bottom.set_xlim(x_lo / 1.6, x_hi * 1.6)  # the swept range: within-run curves enter from the left
    bottom.set_xlabel(FLOPS_LABEL)
    return fig
