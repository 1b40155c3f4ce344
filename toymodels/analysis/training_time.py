"""Emergence in training time: train vs held-out exact match over a run, the weight norm, the grok gap.

`training.png` (in a sweep folder by `toymodels-report SWEEP`, in a run folder by
`toymodels-report RUN`): one panel per series of runs (the runs that agree on every swept key but
the seed), held-out exact match (solid) and, for finite training sets, the training sample's
(dashed) against training compute on a log axis, the total weight norm on the right axis (grey),
and the grok gap of each run from its run.json. Torch-free.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from toymodels.analysis.datascale import group_runs
from toymodels.analysis.outputs import OutputError, Staged
from toymodels.analysis.plots import FLOPS_LABEL, log_x, placeholder, plt
from toymodels.analysis.sweep import RunRecord, load_run, read_metrics_csv
from toymodels.runs.records import gap_text

MAX_PANELS = 12


def grok_summary(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Per run with training-set metrics: its grok_gap record (summary.json `grok`)."""
    return [{"name": r.name, "seed": r.seed, "train_size": r.info.get("train_size"), "grok_gap": r.info["grok_gap"]}
            for r in runs if "grok_gap" in r.info]


def plot_training(runs: list[RunRecord], curves: dict[str, dict[str, np.ndarray]], title: str):
    """Train (dashed) and held-out (solid) exact match and the weight norm against FLOPs, a panel per series."""
    runs = [r for r in runs if r.name in curves]
    groups = list(group_runs(runs, exclude=("seed",)).items())[:MAX_PANELS] if runs else []
    cols = min(3, max(1, len(groups)))
    rows = max(1, -(-len(groups) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), layout="constrained", squeeze=False)
    fig.suptitle(title)
    if not groups:
        placeholder(fig, "no completed run with a readable metrics.csv: nothing to plot")
        return fig
    colors = plt.get_cmap("tab10")
    for ax, (label, members) in zip(axes.flat, groups):
        norm_ax = ax.twinx()
        lines = []
        for i, run in enumerate(sorted(members, key=lambda r: (r.seed is None, r.seed or 0))):
            curve, color = curves[run.name], colors(i % 10)
            seen = curve["flops"] > 0
            x = curve["flops"][seen]
            if "exact_match" in curve:
                lines += ax.plot(x, curve["exact_match"][seen], "-", color=color, label=f"seed {run.seed}: held-out")
            if "train_exact_match" in curve:
                lines += ax.plot(x, curve["train_exact_match"][seen], "--", color=color,
                                 label=f"seed {run.seed}: train")
            if "weight_norm" in curve:
                norm_ax.plot(x, curve["weight_norm"][seen], ":", color=color, alpha=0.6, lw=1)
            gap = run.info.get("grok_gap")
            if isinstance(gap, dict):
                ax.axvspan(gap["train"]["flops"], gap["heldout"]["flops"], color=color, alpha=0.06)
        gaps = [gap_text(r.info["grok_gap"]) for r in members if "grok_gap" in r.info]
        ax.set_title(label + ("\n" + "\n".join(gaps[:3]) if gaps else ""), fontsize=7)
        log_x(ax)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(FLOPS_LABEL)
        ax.set_ylabel("exact match (solid: held-out, dashed: train)")
        norm_ax.set_ylabel("weight norm (dotted)", color="0.4")
        ax.grid(True, alpha=0.3)
        ax.legend(handles=lines[:6], fontsize=6, loc="center left")
        steps_axis(ax, members)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    return fig


def steps_axis(ax, members: list[RunRecord]) -> None:
    """A top axis in optimizer steps, where every run of the panel has the same FLOPs per step."""
    per_step = {r.info.get("flops_per_step") for r in members}
    if len(per_step) == 1 and isinstance(f := per_step.pop(), (int, float)) and f > 0:
        top = ax.secondary_xaxis("top", functions=(lambda x: x / f, lambda s: s * f))
        top.set_xlabel("optimizer steps", fontsize=7)


def report_run(run_dir: Path, prog: str = "toymodels-report") -> int:
    """Write `training.png` into one run folder and print its grok gap; exit code 0, or 2 if unusable."""
    try:
        run = load_run(Path(run_dir))
        curve = read_metrics_csv(Path(run_dir) / "metrics.csv")
        title = f"{run.task or 'run'}: {run.name} ({run.status}, step {run.info.get('step')})"
        with Staged(Path(run_dir), prog) as out:
            out.figure(plot_training([run], {run.name: curve}, title), "training.png")
            out.commit()
    except (ValueError, OutputError) as err:
        print(f"{prog}: error: {run_dir}: {err}", file=sys.stderr)
        return 2
    print(f"wrote training.png in {Path(run_dir).resolve()}")
    if "grok_gap" in run.info:
        print(f"grok_gap: {gap_text(run.info['grok_gap'])}")
    return 0
