"""The forecast report: `write_forecast(options)` fits every forecaster below a cutoff and scores it.

Fits every forecaster (`forecast`) on the runs below the cutoff, scores each against the full sweep's
headline threshold (the solve probability, `summary.solve_threshold`), and writes `forecast.png`,
`forecast.json` and `forecast.md` into the sweep folder all or nothing (`outputs.Staged`). Bad input
(an option out of range: `ForecastOptions.problem`, or a sweep that cannot be forecast) is one line on
stderr, exit 2, and nothing written: an earlier forecast stays byte-identical. Runs whose run.json or
metrics.csv is corrupt are skipped with a one-line warning each. `toymodels-forecast` is its command line.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toymodels.analysis import forecast as fc
from toymodels.analysis import wandb_upload
from toymodels.analysis.markdown import table
from toymodels.analysis.outputs import OutputError, Staged
from toymodels.analysis.plots import FLOPS_LABEL, log_x, plt
from toymodels.analysis.report_options import level_problem
from toymodels.analysis.summary import family_table, solve_threshold
from toymodels.analysis.sweep import RunRecord, SweepError, load_sweep, read_metrics_csv
from toymodels.runs.records import jsonable

PROG = "toymodels-forecast"
OUTPUTS = ("forecast.png", "forecast.json", "forecast.md")
COLORS = {"naive": "tab:red", "mirage": "tab:purple", "passuntil": "tab:green", "loss": "tab:brown"}


class InputError(Exception):
    """Input the forecast cannot use; the message is the one line printed."""


@dataclass
class ForecastOptions:
    """What `toymodels-forecast` is asked: the sweep, the cutoff (FLOPs or model names), the truth's level."""

    sweep_dir: Path
    fit_below: float | None = None
    fit_models: str | None = None  # comma-separated model names
    solve_level: float = 0.5
    wandb: bool = False
    wandb_project: str = "toymodels"

    @property
    def model_names(self) -> list[str]:
        return [m.strip() for m in (self.fit_models or "").split(",") if m.strip()]

    def problem(self) -> str | None:
        """The first option out of range (one line), or None."""
        below = self.fit_below
        if (below is None) == (self.fit_models is None):
            return "give one of --fit-below FLOPS and --fit-models d8,d16,..."
        if below is not None and (isinstance(below, bool) or not isinstance(below, (int, float))
                                  or not math.isfinite(below) or below <= 0):
            return f"--fit-below {below!r} must be a positive, finite number of FLOPs"
        if self.fit_models is not None and (not isinstance(self.fit_models, str) or not self.model_names
                                            or any(not m.strip() for m in self.fit_models.split(","))):
            return f"--fit-models {self.fit_models!r}: give model names separated by commas, such as d8,d16,d24"
        if not isinstance(self.wandb_project, str) or not self.wandb_project.strip():
            return f"--wandb-project {self.wandb_project!r} must be a project name"
        return level_problem("--solve-level", self.solve_level)


def _cutoff(families: list[dict[str, Any]], options: ForecastOptions) -> tuple[float, list[str]]:
    """The cutoff compute and the sizes fitted: the named models, or every size at or below --fit-below."""
    if options.fit_models is not None:
        names = list(dict.fromkeys(options.model_names))
        unknown = [m for m in names if m not in {f["model"] for f in families}]
        if unknown:
            raise InputError(f"no completed runs of {', '.join(unknown)} in the sweep")
        return max(f["flops"] for f in families if f["model"] in names), names
    return options.fit_below, [f["model"] for f in families if f["flops"] <= options.fit_below]


def _fit_set(options: ForecastOptions) -> tuple[str, list[RunRecord], list[dict[str, Any]], float, list[str]]:
    """(sweep name, usable runs, family table, cutoff, fitted sizes); InputError for unusable input."""
    problem = options.problem()
    if problem:
        raise InputError(problem)
    try:
        sweep = load_sweep(options.sweep_dir)
    except SweepError as err:
        raise InputError(str(err)) from None
    if not sweep.runs:
        raise InputError(f"none of the {sweep.n_folders} run folder(s) in {sweep.path} has a usable run.json "
                         f"(first: {sweep.problems[0]})")
    for line in [p for p in sweep.problems if ": corrupt: " in p] + sweep.warnings:
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    runs = [r for r in sweep.completed if r.flops and r.metric("exact_match") is not None]
    if not runs:
        raise InputError(f"no completed run in {sweep.path}")
    tasks = Counter(r.task for r in runs)
    if len(tasks) > 1:
        raise InputError("the sweep mixes tasks (" + ", ".join(str(t) for t in tasks) + "): forecast one task")
    families = family_table(runs)
    cutoff, names = _cutoff(families, options)
    below = [f for f in families if f["model"] in names]
    if len(below) < 3:
        raise InputError(f"the cutoff {cutoff:.2e} leaves {len(below)} size(s) to fit on; at least 3 are needed")
    if not any(f["flops"] > cutoff for f in families):
        raise InputError(f"no size above the cutoff {cutoff:.2e}: nothing to forecast")
    return sweep.name, runs, families, cutoff, names


def build(options: ForecastOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """forecast.json's content and what the figure needs; InputError for unusable input."""
    name, runs, families, cutoff, names = _fit_set(options)
    fit_runs = []
    for run in (r for r in runs if r.model in names):
        try:
            if "exact_match" not in read_metrics_csv(run.path / "metrics.csv"):
                raise ValueError("metrics.csv has no exact_match column")
            fit_runs.append(run)
        except ValueError as err:
            print(f"{PROG}: warning: {run.name}: {err}; not in the fit set", file=sys.stderr)
    sizes = [s for r in runs if (s := r.eval_size)]
    lengths = [n for r in runs if (n := r.answer_length)]
    history = fc.load_history(fit_runs, int(np.median(sizes)) if sizes else 1000, max(lengths) if lengths else 1)
    if history.x.size == 0 or history.column("exact_match") is None:
        raise InputError("no readable metrics.csv with exact_match values among the runs below the cutoff")
    truth = solve_threshold(runs, options.solve_level)
    x_truth = math.log10(truth["threshold_flops"]) if truth["threshold_flops"] else None
    top = math.log10(max(f["flops"] for f in families))
    grid = np.linspace(float(history.x.min()), top + 1.5, 600)
    forecasts = [fc.run_forecaster(forecaster, history, grid) for forecaster in fc.FORECASTERS]
    result = {
        "sweep": name,
        "cutoff_flops": cutoff,
        "fit_models": names,
        "n_fit_points": int(history.x.size),
        "target_exact_match": fc.TARGET,
        "truth": {"threshold_flops": truth["threshold_flops"], "threshold_ci": truth["threshold_ci"],
                  "threshold_text": truth["threshold_text"], "method": "solve_probability",
                  "level": options.solve_level, "note": truth["note"]},
        "forecasters": {f.name: fc.score(f, x_truth, math.log10(cutoff)) for f in forecasts},
    }
    return result, {"runs": runs, "grid": grid, "forecasts": forecasts, "families": families}


def plot_forecast(result: dict[str, Any], plot: dict[str, Any]) -> plt.Figure:
    """The observed curve, the fit region, every forecaster's curve and threshold, the truth."""
    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    runs = plot["runs"]
    ax.scatter([r.flops for r in runs], [r.metric("exact_match") for r in runs], s=16, color="tab:blue", alpha=0.5,
               label="observed final exact match (one point per run)", zorder=3)
    fams = [f for f in plot["families"] if f["exact_match"]]
    ax.plot([f["flops"] for f in fams], [f["exact_match"]["median"] for f in fams], "-o", color="navy", ms=3,
            label="median over seeds")
    ax.axvspan(min(10**plot["grid"][0], result["cutoff_flops"]), result["cutoff_flops"], color="0.85", alpha=0.6,
               lw=0, label=f"fit region (<= {result['cutoff_flops']:.2e} FLOPs)")
    for f in plot["forecasts"]:
        entry = result["forecasters"][f.name]
        if f.curve is not None:
            ax.plot(10 ** plot["grid"], f.curve, color=COLORS[f.name], lw=1.4, label=f"{f.name}: {row_text(entry)}")
        else:
            ax.plot([], [], color=COLORS[f.name], lw=1.4, ls="--", label=f"{f.name}: {entry['reason']}")
        if entry["threshold_flops"]:
            ax.axvline(entry["threshold_flops"], color=COLORS[f.name], ls=":", lw=1.2)
    truth = result["truth"]
    if truth["threshold_flops"]:
        ax.axvline(truth["threshold_flops"], color="k", lw=1.5, label=f"truth (full sweep) {truth['threshold_text']}")
        if truth["threshold_ci"]:
            low, high = truth["threshold_ci"]
            ax.axvspan(low or min(r.flops for r in runs), high or max(r.flops for r in runs), color="k", alpha=0.08,
                       lw=0)
    ax.axhline(fc.TARGET, color="0.6", lw=0.8)
    log_x(ax)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel("exact match")
    ax.set_title(f"{result['sweep']}: forecasting the jump from {len(result['fit_models'])} sizes")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, alpha=0.3)
    return fig


def _interval_text(interval: list | None) -> str:
    return "[{}, {}]".format(*(f"{v:.2e}" if v else "—" for v in interval)) if interval else "—"


def row_text(entry: dict[str, Any]) -> str:
    """`3.1e+11 [1.2e+11, 8.0e+11] · error 0.12 dec · covered · lead 4.0x`, or the reason."""
    if entry["threshold_flops"] is None:
        return f"no forecast: {entry['reason']}"
    text = f"{entry['threshold_flops']:.2e}"
    if entry["interval"]:
        text += " " + _interval_text(entry["interval"])
    if entry["error_decades"] is not None:
        text += f" · error {entry['error_decades']:.2f} dec"
    if entry["covered"] is not None:
        text += " · covered" if entry["covered"] else " · not covered"
    if entry["lead_factor"] is not None:
        text += f" · lead {entry['lead_factor']:.1f}x"
    return text


def forecast_markdown(result: dict[str, Any]) -> str:
    """forecast.md: what was fitted, the truth, and one table row per forecaster."""
    truth = result["truth"]
    lines = [
        f"# Forecast: {result['sweep']}",
        "",
        f"Fit on {', '.join(result['fit_models'])} (<= {result['cutoff_flops']:.2e} FLOPs, "
        f"{result['n_fit_points']} evaluation points). Truth (full sweep, where half the seeds reach exact match "
        f">= {truth['level']:g}): **{truth['threshold_text']}**" + (f" ({truth['note']})" if truth["note"] else ""),
        "",
    ]
    rows = [[name, f"{e['threshold_flops']:.2e}" if e["threshold_flops"] else "no forecast",
             _interval_text(e["interval"]),
             f"{e['error_decades']:.2f}" if e["error_decades"] is not None else "—",
             {True: "yes", False: "no", None: "—"}[e["covered"]],
             f"{e['lead_factor']:.1f}x" if e["lead_factor"] is not None else "—", e["reason"]]
            for name, e in result["forecasters"].items()]
    header = ["forecaster", "threshold (FLOPs)", "90 % interval", "error (decades)", "covered", "lead factor", "reason"]
    return "\n".join([*lines, *table(header, rows), "", "![forecast](forecast.png)", ""])


def write_forecast(options: ForecastOptions) -> int:
    """Forecast, write the three files, print one row per forecaster; returns the exit code (2 on bad input)."""
    if plt is None:
        print(f"{PROG}: error: the forecast needs matplotlib (pip install 'toymodels[plot]')", file=sys.stderr)
        return 2
    start = time.perf_counter()
    out = Path(options.sweep_dir).resolve()
    try:
        result, plot = build(options)
        result = jsonable(result)
        with Staged(out, PROG) as staged:  # all three files or none: an earlier forecast is never half replaced
            staged.figure(plot_forecast(result, plot), "forecast.png")
            staged.json("forecast.json", result)
            staged.text("forecast.md", forecast_markdown(result))
            staged.commit()
    except (InputError, OutputError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    print(f"fit on {', '.join(result['fit_models'])} (<= {result['cutoff_flops']:.2e} FLOPs); "
          f"truth {result['truth']['threshold_text']}")
    for name, entry in result["forecasters"].items():
        print(f"  {name:<10} {row_text(entry)}")
    print(f"wrote {', '.join(OUTPUTS)} in {out} ({time.perf_counter() - start:.1f} s)")
    if options.wandb:
        sys.stdout.flush()
        return wandb_upload.upload_forecast(out, result, options.wandb_project, prog=PROG)
    return 0
