"""Data scaling: held-out exact match against the number of distinct training problems N.

A sweep whose runs differ in ``task.train_size`` (finite training sets, toymodels.tasks.trainset) gets a
`data_scaling` entry in summary.json and `data_scaling.png`: per *series* (the runs that agree on
every other swept key, e.g. ``task.format=reversed``), the final held-out exact match of each seed
against N on a log axis, the median over seeds, and a bounded sigmoid fitted in log10 N whose
midpoint is the series' data threshold, with the seed-bootstrap replication interval the FLOPs
thresholds use (toymodels.analysis.fits). The grouping reads each run's recorded config
(`run.json` "config"), so it needs nothing from the sweep's command line. Torch-free.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from toymodels.analysis import fits
from toymodels.analysis.plots import log_x, plt
from toymodels.analysis.sweep import RunRecord, Sweep, flat_config, num

AXIS = "task.train_size"
# Keys that never define a series: the replicate (seed, and the draw of the set when tied to it)
# and names derived from other keys.
NOT_A_SERIES = ("seed", "task.id", "task.train_set_seed")


def varying_keys(runs: list[RunRecord]) -> list[str]:
    """Config keys whose values differ between the runs (seed and derived names left out), sorted."""
    flats = [flat_config(r.info.get("config") or {}) for r in runs]
    keys = sorted(set().union(*flats)) if flats else []
    return [k for k in keys if k not in NOT_A_SERIES and len({repr(f.get(k)) for f in flats}) > 1]


def series_label(run: RunRecord, keys: list[str]) -> str:
    """`task.format=reversed, train.weight_decay=1.0`; "all runs" when no key is given."""
    flat = flat_config(run.info.get("config") or {})
    return ", ".join(f"{k}={flat.get(k)}" for k in keys) or "all runs"


def group_runs(runs: list[RunRecord], exclude: tuple[str, ...] = ()) -> dict[str, list[RunRecord]]:
    """Runs by series: the values of every varying config key except `exclude`, in first-seen order."""
    keys = [k for k in varying_keys(runs) if k not in exclude]
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(series_label(run, keys), []).append(run)
    return groups


def _threshold(n: np.ndarray, y: np.ndarray, groups: list[str]) -> dict[str, Any]:
    """Sigmoid in log10 N (bounds [0, 1]), its midpoint and the seeds' replication interval."""
    x = np.log10(n)
    fit = fits.fit_sigmoid(x, y, (0.0, 1.0))
    entry: dict[str, Any] = {"threshold_n": None, "threshold_ci": None, "floor": fit.floor, "ceiling": fit.ceiling,
                             "sigmoid": {"x0": fit.x0, "scale": fit.scale} if fit.x0 is not None else None,
                             "note": fit.note}
    if not fit.ok:
        entry["threshold_text"] = f"none: {fit.note}"
        return entry
    entry["threshold_n"] = float(10.0**fit.x0)
    text = f"N = {10.0**fit.x0:.0f}"
    draws = fits.bootstrap_x0(x, y, groups, (0.0, 1.0))
    if draws is None:
        entry["note"] = "one seed: no interval"
    else:
        low, high = fits.replication_interval(fit.x0, draws, len(set(groups)), np.unique(x), fit.width_decades)
        entry["threshold_ci"] = [10.0**low if math.isfinite(low) else None, 10.0**high if math.isfinite(high) else None]
        ends = (f"< {n.min():.0f}" if not math.isfinite(low) else f"{10.0**low:.0f}",
                f"> {n.max():.0f}" if not math.isfinite(high) else f"{10.0**high:.0f}")
        text += " [{}, {}]".format(*ends)
    entry["threshold_text"] = text
    return entry


def data_scaling(sweep: Sweep, metric: str = "exact_match") -> dict[str, Any] | None:
    """The data-scaling summary of a sweep over task.train_size; None when the sweep does not vary it."""
    runs = [r for r in sweep.completed if num(r.info.get("train_size")) and r.metric(metric) is not None]
    if AXIS not in varying_keys(runs):
        return None
    series = {}
    for label, members in group_runs(runs, exclude=(AXIS,)).items():
        n = np.array([float(r.info["train_size"]) for r in members])
        y = np.array([r.metric(metric) for r in members])
        sizes = sorted(set(n.tolist()))
        per_n = [y[n == s] for s in sizes]
        train = [[v for r in members if r.info["train_size"] == s and (v := r.metric("train_" + metric)) is not None]
                 for s in sizes]
        series[label] = {
            "n": sizes,
            "median": [float(np.median(v)) for v in per_n],
            "min": [float(v.min()) for v in per_n],
            "max": [float(v.max()) for v in per_n],
            "train_median": [float(np.median(v)) if v else None for v in train],
            "runs": [{"name": r.name, "n": int(r.info["train_size"]), "seed": r.seed, metric: r.metric(metric),
                      f"train_{metric}": r.metric(f"train_{metric}"), "epochs": num(r.info.get("epochs"))}
                     for r in members],
            **_threshold(n, y, [r.group for r in members]),
        }
    return {"axis": AXIS, "metric": metric, "series_keys": [k for k in varying_keys(runs) if k != AXIS],
            "series": series}


def markdown(entry: dict[str, Any]) -> list[str]:
    """The data-scaling section of summary.md."""
    metric = entry["metric"]
    lines = ["## Data scaling", "",
             f"Held-out {metric} against the number of distinct training problems N ({entry['axis']}); the "
             f"threshold is the midpoint of a sigmoid in log10 N, with a 95 % seed-replication interval.", "",
             f"| series | N | median held-out {metric} [min, max] | median train_{metric} |", "|---|---|---|---|"]
    for label, s in entry["series"].items():
        for i, n in enumerate(s["n"]):
            train = s["train_median"][i]
            lines.append(f"| {label} | {n:.0f} | {s['median'][i]:.3f} [{s['min'][i]:.3f}, {s['max'][i]:.3f}] | "
                         f"{'—' if train is None else f'{train:.3f}'} |")
    lines += ["", *(f"- **{label}**: threshold {s['threshold_text']}" for label, s in entry["series"].items()), ""]
    return lines


def plot_data_scaling(entry: dict[str, Any], title: str):
    """Held-out (solid, per seed as dots) and training-sample (dotted) exact match against N, per series."""
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    metric = entry["metric"]
    colors = plt.get_cmap("tab10")
    for i, (label, s) in enumerate(entry["series"].items()):
        color = colors(i % 10)
        ax.scatter([r["n"] for r in s["runs"]], [r[metric] for r in s["runs"]], color=color, alpha=0.45, s=18)
        ax.plot(s["n"], s["median"], "-o", color=color, ms=4, label=f"{label}: held-out (median)")
        train = [(n, v) for n, v in zip(s["n"], s["train_median"]) if v is not None]
        if train:
            ax.plot(*zip(*train), ":", color=color, alpha=0.8, label=f"{label}: training sample")
        if s["sigmoid"] and s["threshold_n"]:
            grid = np.linspace(math.log10(min(s["n"])), math.log10(max(s["n"])), 200)
            curve = fits.sigmoid(grid, s["floor"], s["ceiling"], s["sigmoid"]["x0"], s["sigmoid"]["scale"])
            ax.plot(10**grid, curve, "--", color=color, lw=1, alpha=0.8)
            ax.axvline(s["threshold_n"], color=color, lw=0.8, alpha=0.6)
            low, high = s["threshold_ci"] or (None, None)
            if s["threshold_ci"]:
                ax.axvspan(low or min(s["n"]), high or max(s["n"]), color=color, alpha=0.08)
    log_x(ax)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"distinct training problems N ({entry['axis']})")
    ax.set_ylabel(f"final {metric}")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return fig
