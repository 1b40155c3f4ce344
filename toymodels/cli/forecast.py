"""`toymodels-forecast SWEEP_DIR --fit-below FLOPS | --fit-models d8,d16,...`: can the jump be predicted?

Fits every forecaster (`toymodels.analysis.forecast`) on the runs below the cutoff, scores each against
the full sweep's headline threshold, and writes `forecast.png`, `forecast.json` and `forecast.md` into
the sweep folder atomically. Bad input is one line on stderr, exit 2, and nothing written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from toymodels.analysis import forecast as fc
from toymodels.analysis.figures import FLOPS_LABEL, _log_x, plt, save_figure
from toymodels.analysis.summary import family_table, solve_threshold
from toymodels.analysis.sweep import SweepError, load_sweep
from toymodels.runs.records import atomic_write, jsonable, write_json

PROG = "toymodels-forecast"
OUTPUTS = ("forecast.png", "forecast.json", "forecast.md")
COLORS = {"naive": "tab:red", "mirage": "tab:purple", "passuntil": "tab:green", "loss": "tab:brown"}


class InputError(Exception):
    """Input the forecast cannot use; the message is the one line printed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="sweep folder: one run folder per subdirectory")
    cut = parser.add_mutually_exclusive_group(required=True)
    cut.add_argument("--fit-below", type=float, metavar="FLOPS", help="fit on the sizes whose compute is <= FLOPS")
    cut.add_argument("--fit-models", metavar="d8,d16,...", help="fit on these sizes (comma-separated model names)")
    parser.add_argument("--solve-level", type=float, default=0.5,
                        help="truth: where half the seeds reach this exact match (default %(default)s, the level "
                        "the forecasters predict)")
    parser.add_argument("--wandb", action="store_true", help="also log the forecast to W&B")
    parser.add_argument("--wandb-project", default="toymodels", help="W&B project (default: %(default)s)")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """forecast.json's content and what the figure needs; InputError for unusable input."""
    try:
        sweep = load_sweep(args.sweep_dir)
    except SweepError as err:
        raise InputError(str(err)) from None
    runs = [r for r in sweep.completed if r.flops and r.metric("exact_match") is not None]
    if not runs:
        raise InputError(f"no completed run in {sweep.path}")
    tasks = Counter(r.task for r in runs)
    if len(tasks) > 1:
        raise InputError("the sweep mixes tasks (" + ", ".join(str(t) for t in tasks) + "): forecast one task")
    families = family_table(runs)
    if args.fit_models:
        names = [m.strip() for m in args.fit_models.split(",") if m.strip()]
        unknown = [m for m in names if m not in {f["model"] for f in families}]
        if unknown:
            raise InputError(f"no completed runs of {', '.join(unknown)} in the sweep")
        cutoff = max(f["flops"] for f in families if f["model"] in names)
    else:
        cutoff, names = args.fit_below, [f["model"] for f in families if f["flops"] <= args.fit_below]
    below = [f for f in families if f["model"] in names]
    above = [f for f in families if f["flops"] > cutoff]
    if len(below) < 3:
        raise InputError(f"the cutoff {cutoff:.2e} leaves {len(below)} size(s) to fit on; at least 3 are needed")
    if not above:
        raise InputError(f"no size above the cutoff {cutoff:.2e}: nothing to forecast")
    fit_runs = [r for r in runs if r.model in names]
    sizes = [s for r in runs if (s := r.eval_size)]
    lengths = [n for r in runs if (n := r.answer_length)]
    history = fc.load_history(fit_runs, int(np.median(sizes)) if sizes else 1000, max(lengths) if lengths else 1)
    if history.x.size == 0:
        raise InputError("no readable metrics.csv among the runs below the cutoff")

    truth = solve_threshold(runs, args.solve_level)
    x_truth = math.log10(truth["threshold_flops"]) if truth["threshold_flops"] else None
    x_cut = math.log10(cutoff)
    top = math.log10(max(f["flops"] for f in families))
    grid = np.linspace(float(history.x.min()), top + 1.5, 600)
    forecasts = [fc.run_forecaster(name, history, grid) for name in fc.FORECASTERS]
    result = {
        "sweep": sweep.name,
        "cutoff_flops": cutoff,
        "fit_models": names,
        "n_fit_points": int(history.x.size),
        "target_exact_match": fc.TARGET,
        "truth": {"threshold_flops": truth["threshold_flops"], "threshold_ci": truth["threshold_ci"],
                  "threshold_text": truth["threshold_text"], "method": "solve_probability",
                  "level": args.solve_level, "note": truth["note"]},
        "forecasters": {f.name: fc.score(f, x_truth, x_cut) for f in forecasts},
    }
    plot = {"runs": runs, "grid": grid, "forecasts": forecasts, "families": families}
    return result, plot


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
    _log_x(ax)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel("exact match")
    ax.set_title(f"{result['sweep']}: forecasting the jump from {len(result['fit_models'])} sizes")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, alpha=0.3)
    return fig


def row_text(entry: dict[str, Any]) -> str:
    """`3.1e+11 [1.2e+11, 8.0e+11] · error 0.12 dec · covered · lead 4.0x`, or the reason."""
    if entry["threshold_flops"] is None:
        return f"no forecast: {entry['reason']}"
    text = f"{entry['threshold_flops']:.2e}"
    if entry["interval"]:
        text += " [{}, {}]".format(*(f"{v:.2e}" if v else "—" for v in entry["interval"]))
    if entry["error_decades"] is not None:
        text += f" · error {entry['error_decades']:.2f} dec"
    if entry["covered"] is not None:
        text += " · covered" if entry["covered"] else " · not covered"
    if entry["lead_factor"] is not None:
        text += f" · lead {entry['lead_factor']:.1f}x"
    return text


def forecast_markdown(result: dict[str, Any]) -> str:
    truth = result["truth"]
    lines = [
        f"# Forecast: {result['sweep']}",
        "",
        f"Fit on {', '.join(result['fit_models'])} (<= {result['cutoff_flops']:.2e} FLOPs, "
        f"{result['n_fit_points']} evaluation points). Truth (full sweep, where half the seeds reach exact match "
        f">= {truth['level']:g}): **{truth['threshold_text']}**" + (f" ({truth['note']})" if truth["note"] else ""),
        "",
        "| forecaster | threshold (FLOPs) | 90 % interval | error (decades) | covered | lead factor | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in result["forecasters"].items():
        cells = [name, f"{e['threshold_flops']:.2e}" if e["threshold_flops"] else "no forecast",
                 "[{}, {}]".format(*(f"{v:.2e}" if v else "—" for v in e["interval"])) if e["interval"] else "—",
                 f"{e['error_decades']:.2f}" if e["error_decades"] is not None else "—",
                 {True: "yes", False: "no", None: "—"}[e["covered"]],
                 f"{e['lead_factor']:.1f}x" if e["lead_factor"] is not None else "—", e["reason"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", "![forecast](forecast.png)", ""])


def upload_to_wandb(sweep_dir: Path, result: dict[str, Any], project: str) -> int:
    """Log the forecast figure and table to W&B as the sweep's `forecast` job (offline unless asked)."""
    try:
        import wandb
    except ImportError:
        print(f"{PROG}: error: --wandb needs the wandb package (pip install 'toymodels[wandb]')", file=sys.stderr)
        return 2
    from toymodels.training.wandb_logging import resolve_mode

    os.environ.setdefault("WANDB_SILENT", "true")
    mode, _ = resolve_mode(None)
    try:
        wb_run = wandb.init(project=project, group=result["sweep"], job_type="forecast", dir=str(sweep_dir),
                            name=f"forecast-{result['sweep']}", mode=mode, settings=wandb.Settings(init_timeout=20))
        columns = ["forecaster", "threshold_flops", "error_decades", "covered", "lead_factor", "reason"]
        rows = [[n, e["threshold_flops"], e["error_decades"], e["covered"], e["lead_factor"], e["reason"]]
                for n, e in result["forecasters"].items()]
        wandb.log({"forecast": wandb.Image(str(sweep_dir / "forecast.png")),
                   "forecasters": wandb.Table(columns=columns, data=rows)})
        wb_run.summary["truth/threshold_flops"] = result["truth"]["threshold_flops"]
        wb_run.summary["cutoff_flops"] = result["cutoff_flops"]
    except Exception as err:
        print(f"{PROG}: error: wandb upload failed: {err}".splitlines()[0], file=sys.stderr)
        return 2
    finally:
        wandb.finish()
    print(f"W&B ({mode}): logged the forecast")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Forecast, write the three files, print one row per forecaster; exit 2 on bad input."""
    args = parse_args(argv)
    if plt is None:
        print(f"{PROG}: error: the forecast needs matplotlib (pip install 'toymodels[plot]')", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        result, plot = build(args)
    except InputError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    result = jsonable(result)
    out = Path(args.sweep_dir).resolve()
    save_figure(plot_forecast(result, plot), out / "forecast.png")
    write_json(out / "forecast.json", result)
    atomic_write(out / "forecast.md", forecast_markdown(result))
    print(f"fit on {', '.join(result['fit_models'])} (<= {result['cutoff_flops']:.2e} FLOPs); "
          f"truth {result['truth']['threshold_text']}")
    for name, entry in result["forecasters"].items():
        print(f"  {name:<10} {row_text(entry)}")
    print(f"wrote {', '.join(OUTPUTS)} in {out} ({time.perf_counter() - start:.1f} s)")
    if args.wandb:
        sys.stdout.flush()
        return upload_to_wandb(out, result, args.wandb_project)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
