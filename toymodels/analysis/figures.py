"""The single-task report's figures (`emergence.png`, `mirage.png`, `curves.png`) and reading the curves.

Drawing only: every number comes from the summary (`toymodels.analysis.summary`) or a run's
`metrics.csv`. A threshold line is drawn only for a threshold inside the swept range; an interval
end beyond it is drawn to the edge of the data and labelled as open.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toymodels.analysis import fits
from toymodels.analysis.markdown import FIGURES, count, fit_note, threshold
from toymodels.analysis.plots import FLOPS_LABEL, PARAMS_LABEL, log_x, metric_label, placeholder, plt
from toymodels.analysis.sweep import RunRecord, Sweep, read_metrics_csv
from toymodels.runs.records import METRICS

__all__ = ["FIGURES", "plot_curves", "plot_emergence", "plot_mirage", "read_curves"]

POINT, BAND, MEDIAN, FIT, DIVERGED, SOLVE = "tab:blue", "tab:blue", "navy", "tab:orange", "tab:red", "tab:green"


def _title(summary: dict[str, Any], what: str) -> str:
    found = summary["n_runs_found"]
    return f"{summary['task_label'] or summary['sweep']}: {what} — {summary['n_completed']} of {found} runs completed"


def _scatter_panel(ax: plt.Axes, summary: dict[str, Any], metric: str, x_key: str, show_diverged: bool = True) -> None:
    """Per-run points, the median over seeds and its min–max band, diverged runs as red crosses."""
    runs = [r for r in summary["runs"] if r[x_key] and r[metric] is not None]
    done = [r for r in runs if r["status"] == "completed"]
    ax.scatter(
        [r[x_key] for r in done],
        [r[metric] for r in done],
        s=18,
        color=POINT,
        alpha=0.55,
        label="run (one per seed)",
        zorder=3,
    )
    fams = [f for f in summary["families"] if f[metric] is not None and f[x_key]]
    if fams:
        xs = [f[x_key] for f in fams]
        ax.fill_between(
            xs,
            [f[metric]["min"] for f in fams],
            [f[metric]["max"] for f in fams],
            color=BAND,
            alpha=0.15,
            lw=0,
            label="min–max over seeds",
        )
        ax.plot(
            xs,
            [f[metric]["median"] for f in fams],
            "-o",
            color=MEDIAN,
            ms=3,
            lw=1.5,
            label="median over seeds",
            zorder=4,
        )
    diverged = [r for r in summary["runs"] if r["status"] == "diverged" and r[x_key]]
    if show_diverged and diverged:
        # A diverged run may have no final metric: draw it on the chance floor (or the axis bottom).
        fallback = summary["chance"].get(metric) or min((r[metric] for r in done), default=0.0)
        ax.scatter(
            [r[x_key] for r in diverged],
            [r[metric] if r[metric] is not None else fallback for r in diverged],
            marker="x",
            s=50,
            color=DIVERGED,
            zorder=5,
            label="diverged: " + ", ".join(r["name"] for r in diverged),
        )
    chance = summary["chance"].get(metric)
    if chance is not None:
        ax.axhline(
            chance,
            ls="--",
            color="0.4",
            lw=1,
            label=f"chance ({chance:.0e})" if chance < 0.01 else f"chance ({chance:g})",
        )
    log_x(ax)
    ax.grid(True, which="major", alpha=0.3)


def _fit_overlay(
    ax: plt.Axes, fit: dict[str, Any], x_range: tuple[float, float], with_label: bool = True, numbers: bool = True
) -> None:
    """The fitted sigmoid over the data's range (never extrapolated) and, when there is a threshold in
    the swept range, its line and shaded interval (an open end is shaded to the edge of the data)."""
    if fit["sigmoid"] is None:
        ax.text(0.02, 0.97, fit_note(fit), transform=ax.transAxes, va="top", fontsize=8, color="0.3")
        return
    lo, hi = np.log10(x_range)
    xs = np.linspace(lo - 0.05, hi + 0.05, 300)
    ys = fits.sigmoid(xs, fit["floor"], fit["ceiling"], fit["sigmoid"]["x0"], fit["sigmoid"]["scale"])
    ax.plot(10**xs, ys, color=FIT, lw=1.5, label="sigmoid fit" if with_label else None, zorder=2)
    if fit["threshold_flops"] is not None:
        label = f"sigmoid threshold {threshold(fit)}" if numbers else "threshold (midpoint of the fit)"
        ax.axvline(fit["threshold_flops"], color=FIT, ls=":", lw=1.5, label=label if with_label else None)
        if fit["threshold_ci"]:
            low, high = fit["threshold_ci"]
            ax.axvspan(
                low or x_range[0],
                high or x_range[1],
                color=FIT,
                alpha=0.15,
                lw=0,
                label="95 % interval (another seed set)" if with_label else None,
            )
    if not fit["ok"] or not fit["threshold_ci"]:
        ax.text(0.02, 0.97, fit_note(fit), transform=ax.transAxes, va="top", fontsize=8, color="0.3")


def _x_range(summary: dict[str, Any]) -> tuple[float, float] | None:
    flops = [r["flops"] for r in summary["runs"] if r["status"] == "completed" and r["flops"]]
    return (min(flops), max(flops)) if flops else None


def _solve_panel(ax: plt.Axes, summary: dict[str, Any], x_range: tuple[float, float]) -> None:
    """Fraction of seeds that solve per size (Wilson 95 %), the logistic fit and the headline threshold."""
    solve = summary["solve"]
    rows = [row for row in solve["per_size"] if row["flops"]]
    xs = np.array([row["flops"] for row in rows])
    frac = np.array([row["fraction"] for row in rows])
    err = np.array([[row["fraction"] - row["wilson"][0], row["wilson"][1] - row["fraction"]] for row in rows]).T
    ax.errorbar(
        xs,
        frac,
        yerr=err if rows else None,
        fmt="o",
        color=SOLVE,
        capsize=3,
        label=f"fraction of seeds with exact match ≥ {solve['level']:g} (Wilson 95 %)",
    )
    if solve["logistic"]:
        grid = np.linspace(*np.log10(x_range), 300)
        p = fits.sigmoid(grid, 0.0, 1.0, solve["logistic"]["x0"], 1.0 / solve["logistic"]["slope_per_decade"])
        ax.plot(10**grid, p, color=SOLVE, lw=1.5, label="logistic regression on log10 compute")
    if solve["threshold_flops"] is not None:
        ax.axvline(solve["threshold_flops"], color=SOLVE, ls=":", lw=1.5, label=f"headline {solve['threshold_text']}")
        if solve["threshold_ci"]:
            low, high = solve["threshold_ci"]
            ax.axvspan(low or x_range[0], high or x_range[1], color=SOLVE, alpha=0.15, lw=0)
    else:
        ax.text(
            0.02,
            0.97,
            f"headline: {solve['threshold_text']} ({solve['note']})",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="0.3",
        )
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_ylim(-0.03, 1.03)
    log_x(ax)
    ax.grid(True, which="major", alpha=0.3)


def plot_emergence(summary: dict[str, Any]) -> plt.Figure:
    """Final exact_match against training FLOPs (with the fit), the solve probability, and against parameters."""
    fig, axes = plt.subplots(1, 3, figsize=(18, 5), layout="constrained")
    fig.suptitle(_title(summary, "exact match against scale"))
    x_range = _x_range(summary)
    if x_range is None:
        for ax in axes:
            ax.set_axis_off()
        placeholder(fig, "no completed runs yet: nothing to plot")
        return fig
    _scatter_panel(axes[0], summary, "exact_match", "flops")
    _fit_overlay(axes[0], summary["fits"]["exact_match"], x_range)
    axes[0].set_xlabel(summary.get("x_label", FLOPS_LABEL))
    axes[0].set_ylabel("exact match (fraction of held-out problems)")
    axes[0].set_title("against training compute")
    _solve_panel(axes[1], summary, x_range)
    axes[1].set_xlabel(summary.get("x_label", FLOPS_LABEL))
    axes[1].set_ylabel("fraction of seeds that solve")
    axes[1].set_title("solve probability (the headline threshold)")
    _scatter_panel(axes[2], summary, "exact_match", "non_embedding_params")
    axes[2].set_xlabel(PARAMS_LABEL)
    axes[2].set_title("against model size (threshold fits are in FLOPs)")
    for ax in axes:
        ax.set_ylim(-0.03, 1.03)
        ax.legend(loc="center left", fontsize=7, framealpha=0.9)
    return fig


def plot_mirage(summary: dict[str, Any]) -> plt.Figure:
    """The same runs scored by every metric, each with its breakthroughness, and the solve probability."""
    fig, axes = plt.subplots(2, 4, figsize=(19, 8), layout="constrained")
    fig.suptitle(_title(summary, f"one sweep, {len(METRICS)} metrics"))
    x_range = _x_range(summary)
    for ax, metric in zip(axes.flat, METRICS):
        if x_range is None:
            ax.set_axis_off()
            continue
        fit = summary["fits"][metric]
        b = fit["breakthroughness"]
        width = fit["width_decades"]
        at_bound = "≥ " if fit["gradual"] else ""  # the search's widest: a lower bound
        width = "" if width is None else f"\nsigmoid 10–90 % width {at_bound}{width:.2f} decades"
        ax.set_title(f"{metric} — breakthroughness {'n/a' if b is None else f'{b:.1f}'}{width}", fontsize=10)
        _scatter_panel(ax, summary, metric, "flops", show_diverged=False)
        _fit_overlay(ax, fit, x_range, with_label=metric == "exact_match", numbers=False)
        ax.set_xlabel(summary.get("x_label", FLOPS_LABEL))
        ax.set_ylabel(metric_label(metric))
    last = axes.flat[len(METRICS)]
    if x_range is None:
        last.set_axis_off()
        placeholder(fig, "no completed runs yet: nothing to plot")
    else:
        _solve_panel(last, summary, x_range)
        last.set_title("exact match as solve probability over seeds", fontsize=10)
        last.set_xlabel(summary.get("x_label", FLOPS_LABEL))
        last.legend(fontsize=7)
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    return fig


def read_curves(sweep: Sweep) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """metrics.csv of every completed run, by run name, and a readable line for each one that is unusable."""
    curves, problems = {}, []
    for run in sweep.completed:
        try:
            curves[run.name] = read_metrics_csv(run.path / "metrics.csv")
        except ValueError as err:
            problems.append(f"{run.name}: {err}; its final metrics are in the fits, it has no line in curves.png")
    return curves, problems


def _curve_runs(summary: dict[str, Any], sweep: Sweep, curves: dict) -> list[tuple[dict, RunRecord, dict]]:
    """One completed run per model size (lowest seed with a readable curve), in compute order."""
    chosen = []
    for fam in summary["families"]:
        members = [r for r in sweep.completed if r.model == fam["model"] and r.name in curves]
        if members:
            run = min(members, key=lambda r: (r.seed is None, r.seed or 0, r.name))
            chosen.append((fam, run, curves[run.name]))
    return chosen


def _carries_panel(ax: plt.Axes, chosen: tuple[dict, RunRecord, dict]) -> None:
    """Exact match by number of carries over training, for the largest size (sweeps that record it)."""
    fam, run, curve = chosen
    carries = sorted(int(name.rsplit("_", 1)[1]) for name in curve if name.startswith("carries_acc_"))
    seen = curve["flops"] > 0
    for shade, c in zip(plt.get_cmap("cividis")(np.linspace(0.0, 0.85, max(len(carries), 1))), carries):
        ax.plot(
            curve["flops"][seen], curve[f"carries_acc_{c}"][seen], color=shade, marker=".", ms=3, label=f"{c} carries"
        )
    ax.set_title(f"exact match by number of carries: {fam['model']} (seed {run.seed})", fontsize=10)
    if carries:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no carries_acc_* columns (older sweep)", transform=ax.transAxes, ha="center", color="0.4")
    log_x(ax)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(FLOPS_LABEL)
    ax.grid(True, alpha=0.3)


def plot_curves(summary: dict[str, Any], sweep: Sweep, curves: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """Within-run curves from metrics.csv, one line per size, and accuracy per answer digit over training."""
    fig = plt.figure(figsize=(15, 14), layout="constrained")
    fig.suptitle(_title(summary, "within-run curves (lowest seed of each size)"))
    grid = fig.add_gridspec(4, 3)
    chosen = _curve_runs(summary, sweep, curves)
    if not chosen:
        placeholder(fig, "no completed run with a readable metrics.csv: nothing to plot")
        return fig
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(chosen)))
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(grid[i // 3, i % 3])
        for color, (fam, run, curve) in zip(colors, chosen, strict=True):
            if metric in curve:
                seen = curve["flops"] > 0  # a step-0 evaluation has no place on a log axis
                label = f"{fam['model']} ({count(fam['non_embedding_params'])}, seed {run.seed})"
                ax.plot(curve["flops"][seen], curve[metric][seen], "-", marker=".", ms=3, color=color, label=label)
        log_x(ax)
        ax.set_xlabel(FLOPS_LABEL)
        ax.set_ylabel(metric_label(metric))
        ax.set_title(metric, fontsize=10)
        ax.grid(True, alpha=0.3)
        if i == 0 and ax.get_legend_handles_labels()[0]:
            ax.legend(title="model (non-emb params)", fontsize=7, title_fontsize=7)
    _carries_panel(fig.add_subplot(grid[2, 1]), chosen[-1])
    # The staircase: per-digit accuracy for the smallest, a middle and the largest size.
    picks = sorted({0, len(chosen) // 2, len(chosen) - 1})
    for col, idx in enumerate(picks):
        fam, run, curve = chosen[idx]
        ax = fig.add_subplot(grid[3, col])
        positions = sorted(int(name.rsplit("_", 1)[1]) for name in curve if name.startswith("pos_acc_"))
        seen = curve["flops"] > 0
        shades = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, len(positions)))
        for shade, pos in zip(shades, positions, strict=True):
            ax.plot(
                curve["flops"][seen],
                curve[f"pos_acc_{pos}"][seen],
                color=shade,
                marker=".",
                ms=3,
                label=f"digit $10^{{{pos}}}$",
            )
        which = "largest" if idx == len(chosen) - 1 else "smallest" if idx == 0 else "middle"
        ax.set_title(f"accuracy per answer digit: {fam['model']} ({which}, seed {run.seed})", fontsize=10)
        log_x(ax)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(FLOPS_LABEL)
        ax.set_ylabel("digit accuracy at this position")
        ax.grid(True, alpha=0.3)
        if positions:
            ax.legend(fontsize=7, ncol=2)
        else:
            ax.text(0.5, 0.5, "no pos_acc_* columns", transform=ax.transAxes, ha="center", color="0.4")
    return fig
