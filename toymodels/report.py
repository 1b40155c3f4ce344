"""The sweep report: `toymodels-report SWEEP_DIR` turns a sweep folder into figures and a summary.

This module owns the command line, the three figures (`emergence.png`, `mirage.png`, `curves.png`),
`summary.json` / `summary.md`, atomic writing of those files into the sweep folder, and the optional
W&B upload. All numbers come from `toymodels.analysis`; nothing here imports torch or the model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from toymodels import analysis
from toymodels.analysis import LOWER_IS_BETTER, METRICS, WIDTH_10_90
from toymodels.runs import atomic_write

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window: the report runs on headless machines and in CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
except ImportError:  # matplotlib is the optional `plot` extra: main() says so in one line
    plt = None

PROG = "toymodels-report"
FIGURES = ("emergence.png", "mirage.png", "curves.png")
OUTPUTS = (*FIGURES, "summary.json", "summary.md")
DPI = 120
FLOPS_LABEL = "training compute (FLOPs)"
PARAMS_LABEL = "non-embedding parameters"
POINT, BAND, MEDIAN, FIT, DIVERGED = "tab:blue", "tab:blue", "navy", "tab:orange", "tab:red"


# ----------------------------------------------------------------------------- writing files


def _save_figure(fig: plt.Figure, path: Path) -> None:
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
    finally:
        plt.close(fig)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, text)


# ----------------------------------------------------------------------------- formatting


def _flops(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}e}"


def _interval(fit: dict[str, Any], unit: str = "") -> str:
    """`3.21e+12 [2.10e+12, 4.02e+12]` (unit after the threshold), `—` without a threshold."""
    if fit["threshold_flops"] is None:
        return "—"
    text = _flops(fit["threshold_flops"], 2) + unit
    if fit["threshold_ci"]:
        text += " [{}, {}]".format(*(_flops(v, 2) for v in fit["threshold_ci"]))
    return text


def _fit_note(fit: dict[str, Any]) -> str:
    """Why a fit is missing or not trusted, or its remark; empty for a clean fit."""
    if fit["ok"]:
        return fit["note"]
    return f"{'no fit' if fit['threshold_flops'] is None else 'not trusted'}: {fit['note']}"


def _threshold(fit: dict[str, Any]) -> str:
    """`3.21e+12 FLOPs [2.10e+12, 4.02e+12]`, with the reason when there is none or it is not trusted."""
    if fit["threshold_flops"] is None:
        return f"none ({fit['note']})"
    return _interval(fit, " FLOPs") + ("" if fit["ok"] else f" ({_fit_note(fit)})")


def _count(value: float | None) -> str:
    """Parameter counts the way people say them: 12.3k, 1.20M."""
    if value is None:
        return "—"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _jsonable(obj: Any) -> Any:
    """Replace NaN/inf by None and NumPy scalars by Python ones, so the JSON is strict."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def summary_markdown(summary: dict[str, Any]) -> str:
    """The readable twin of summary.json."""
    expected = summary["n_runs_expected"]
    lines = [
        f"# Sweep report: {summary['sweep']}",
        "",
        f"**Task:** {summary['task_label'] or 'unknown'} · **runs:** {summary['n_completed']} completed "
        f"of {summary['n_runs_found']} found"
        + (f" ({expected} expected)" if expected is not None else " (expected count unknown)"),
        "",
        f"Folder: `{summary['sweep_dir']}`",
        "",
        "## Missing, unfinished or broken runs",
        "",
    ]
    lines += [f"- {item}" for item in summary["missing"]] or ["Nothing missing: every run completed."]
    lines += ["", "## Family (median over seeds of the final metrics)", ""]
    if summary["families"]:
        metrics = ("exact_match", *analysis.CONTINUOUS_METRICS)
        lines += [
            "| model | non-emb params | compute (FLOPs) | seeds | " + " | ".join(metrics) + " |",
            "|---" * (4 + len(metrics)) + "|",
        ]
        for fam in summary["families"]:
            cells = [fam["model"], _count(fam["non_embedding_params"]), _flops(fam["flops"]), str(fam["n_seeds"])]
            cells += [_num(fam[m]["median"] if fam[m] else None) for m in metrics]
            lines.append("| " + " | ".join(cells) + " |")
    else:
        lines.append("No completed runs yet: nothing to tabulate.")
    lines += [
        "",
        "## Thresholds",
        "",
        "Sigmoid fit of each final metric against log10(training FLOPs) over the completed runs; the "
        "threshold is the compute at the midpoint between the fitted floor and ceiling, with a 95 % "
        "bootstrap interval over seeds. Width = decades of compute from 10 % to 90 % of the change. "
        "Breakthroughness is BIG-bench's I(y) / sqrt(median(Δy²)) over the family medians ordered by "
        "compute, signed so that improvement is positive (edit_distance and loss are negated).",
        "",
        "| metric | threshold (FLOPs) [95 % CI] | breakthroughness | floor → ceiling | width (decades) | note |",
        "|---|---|---|---|---|---|",
    ]
    for metric, fit in summary["fits"].items():
        b = fit["breakthroughness"]
        cells = [
            metric,
            _interval(fit),
            "—" if b is None else f"{b:.1f}",
            f"{_num(fit['floor'])} → {_num(fit['ceiling'])}" if fit["floor"] is not None else "—",
            _num(fit["width_decades"], 2),
            _fit_note(fit),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"![{name}]({name})" for name in FIGURES), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures


def _log_x(ax: plt.Axes) -> None:
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


def _placeholder(fig: plt.Figure, message: str) -> None:
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="0.4")


def _title(summary: dict[str, Any], what: str) -> str:
    found = summary["n_runs_found"]
    return f"{summary['task_label'] or summary['sweep']}: {what} — {summary['n_completed']} of {found} runs completed"


def _metric_label(metric: str) -> str:
    return f"{metric} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)"


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
    _log_x(ax)
    ax.grid(True, which="major", alpha=0.3)


def _fit_overlay(
    ax: plt.Axes, fit: dict[str, Any], x_range: tuple[float, float], with_label: bool = True, numbers: bool = True
) -> None:
    """The fitted sigmoid over the data's range (never extrapolated) and, if trusted, the threshold with its
    shaded interval (numbers in the label)."""
    if fit["width_decades"] is None:
        ax.text(0.02, 0.97, _fit_note(fit), transform=ax.transAxes, va="top", fontsize=8, color="0.3")
        return
    lo, hi = np.log10(x_range)
    xs = np.linspace(lo - 0.05, hi + 0.05, 300)
    scale = fit["width_decades"] / WIDTH_10_90
    ys = analysis.sigmoid(xs, fit["floor"], fit["ceiling"], math.log10(fit["threshold_flops"]), scale)
    ax.plot(10**xs, ys, color=FIT, lw=1.5, label="sigmoid fit" if with_label else None, zorder=2)
    if fit["ok"] and fit["threshold_ci"]:
        label = f"threshold {_threshold(fit)}" if numbers else "threshold (midpoint of the fit)"
        ax.axvline(fit["threshold_flops"], color=FIT, ls=":", lw=1.5, label=label if with_label else None)
        ax.axvspan(
            *fit["threshold_ci"], color=FIT, alpha=0.15, lw=0, label="95 % bootstrap interval" if with_label else None
        )
    elif not fit["ok"]:
        ax.text(0.02, 0.97, _fit_note(fit), transform=ax.transAxes, va="top", fontsize=8, color="0.3")


def _x_range(summary: dict[str, Any]) -> tuple[float, float] | None:
    flops = [r["flops"] for r in summary["runs"] if r["status"] == "completed" and r["flops"]]
    return (min(flops), max(flops)) if flops else None


def plot_emergence(summary: dict[str, Any]) -> plt.Figure:
    """Final exact_match against training FLOPs (with the fit) and against non-embedding parameters."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True, layout="constrained")
    fig.suptitle(_title(summary, "exact match against scale"))
    x_range = _x_range(summary)
    if x_range is None:
        for ax in axes:
            ax.set_axis_off()
        _placeholder(fig, "no completed runs yet: nothing to plot")
        return fig
    _scatter_panel(axes[0], summary, "exact_match", "flops")
    _fit_overlay(axes[0], summary["fits"]["exact_match"], x_range)
    axes[0].set_xlabel(FLOPS_LABEL)
    axes[0].set_ylabel("exact match (fraction of held-out problems)")
    axes[0].set_title("against training compute")
    _scatter_panel(axes[1], summary, "exact_match", "non_embedding_params")
    axes[1].set_xlabel(PARAMS_LABEL)
    axes[1].set_title("against model size (threshold fit is in FLOPs, left)")
    axes[1].tick_params(labelleft=True)
    for ax in axes:
        ax.set_ylim(-0.03, 1.03)
        ax.legend(loc="center left", fontsize=8, framealpha=0.9)
    return fig


def plot_mirage(summary: dict[str, Any]) -> plt.Figure:
    """The same runs scored by every metric, each with its breakthroughness, against training FLOPs."""
    fig, axes = plt.subplots(2, 3, figsize=(14, 8), layout="constrained")
    fig.suptitle(_title(summary, "one sweep, six metrics"))
    x_range = _x_range(summary)
    for ax, metric in zip(axes.flat, METRICS, strict=True):
        if x_range is None:
            ax.set_axis_off()
            continue
        fit = summary["fits"][metric]
        b = fit["breakthroughness"]
        width = fit["width_decades"]
        at_bound = "≥ " if fit["note"] == analysis.GRADUAL_NOTE else ""  # the search's widest: a lower bound
        width = "" if width is None else f"\nsigmoid 10–90 % width {at_bound}{width:.2f} decades"
        ax.set_title(f"{metric} — breakthroughness {'n/a' if b is None else f'{b:.1f}'}{width}", fontsize=10)
        _scatter_panel(ax, summary, metric, "flops", show_diverged=False)
        _fit_overlay(ax, fit, x_range, with_label=metric == "exact_match", numbers=False)
        ax.set_xlabel(FLOPS_LABEL)
        ax.set_ylabel(_metric_label(metric))
    if x_range is None:
        _placeholder(fig, "no completed runs yet: nothing to plot")
    else:
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    return fig


def read_curves(sweep: analysis.Sweep) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """metrics.csv of every completed run, by run name, and a readable line for each one that is unusable."""
    curves, problems = {}, []
    for run in sweep.completed:
        try:
            curves[run.name] = analysis.read_metrics_csv(run.path / "metrics.csv")
        except ValueError as err:
            problems.append(f"{run.name}: {err}; its final metrics are in the fits, it has no line in curves.png")
    return curves, problems


def _curve_runs(summary: dict[str, Any], sweep: analysis.Sweep, curves: dict) -> list[tuple[dict, analysis.Run, dict]]:
    """One completed run per model size (lowest seed with a readable curve), in compute order."""
    chosen = []
    for fam in summary["families"]:
        members = [r for r in sweep.completed if r.model == fam["model"] and r.name in curves]
        if members:
            run = min(members, key=lambda r: (r.seed is None, r.seed or 0, r.name))
            chosen.append((fam, run, curves[run.name]))
    return chosen


def plot_curves(summary: dict[str, Any], sweep: analysis.Sweep, curves: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """Within-run curves from metrics.csv, one line per size, and accuracy per answer digit over training."""
    fig = plt.figure(figsize=(15, 11), layout="constrained")
    fig.suptitle(_title(summary, "within-run curves (lowest seed of each size)"))
    grid = fig.add_gridspec(3, 3)
    chosen = _curve_runs(summary, sweep, curves)
    if not chosen:
        _placeholder(fig, "no completed run with a readable metrics.csv: nothing to plot")
        return fig
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(chosen)))
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(grid[i // 3, i % 3])
        for color, (fam, run, curve) in zip(colors, chosen, strict=True):
            if metric in curve:
                seen = curve["flops"] > 0  # a step-0 evaluation has no place on a log axis
                label = f"{fam['model']} ({_count(fam['non_embedding_params'])}, seed {run.seed})"
                ax.plot(curve["flops"][seen], curve[metric][seen], "-", marker=".", ms=3, color=color, label=label)
        _log_x(ax)
        ax.set_xlabel(FLOPS_LABEL)
        ax.set_ylabel(_metric_label(metric))
        ax.set_title(metric, fontsize=10)
        ax.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(title="model (non-emb params)", fontsize=7, title_fontsize=7)
    # The staircase: per-digit accuracy for the smallest, a middle and the largest size.
    picks = sorted({0, len(chosen) // 2, len(chosen) - 1})
    for col, idx in enumerate(picks):
        fam, run, curve = chosen[idx]
        ax = fig.add_subplot(grid[2, col])
        positions = sorted(int(name.rsplit("_", 1)[1]) for name in curve if name.startswith("pos_acc_"))
        seen = curve["flops"] > 0
        shades = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, max(len(positions), 1)))
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
        _log_x(ax)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(FLOPS_LABEL)
        ax.set_ylabel("digit accuracy at this position")
        ax.grid(True, alpha=0.3)
        if positions:
            ax.legend(fontsize=7, ncol=2)
        else:
            ax.text(0.5, 0.5, "no pos_acc_* columns", transform=ax.transAxes, ha="center", color="0.4")
    return fig


# ----------------------------------------------------------------------------- W&B


def upload_to_wandb(sweep_dir: Path, summary: dict[str, Any], project: str = "toymodels") -> int:
    """Log the figures, the fits and a per-run table to W&B as the sweep's `report` job; returns an exit code.

    The mode is decided as for training runs (`wandb_logging.resolve_mode`): offline unless online is
    asked for and credentials exist, so it never prompts; init gives up after 20 s.
    """
    try:
        import wandb
    except ImportError:
        print(f"{PROG}: error: --wandb needs the wandb package (pip install 'toymodels[wandb]')", file=sys.stderr)
        return 2
    from toymodels.wandb_logging import resolve_mode

    sweep_dir = Path(sweep_dir)
    os.environ.setdefault("WANDB_SILENT", "true")  # our own line says where the run went
    mode, refused = resolve_mode(None)
    if refused:
        print(f"{PROG}: warning: W&B online refused: {refused}; logging offline", file=sys.stderr)
    if wandb.run is not None:  # a run left open in this process (a training job) must not receive the report
        wandb.run.finish()
    try:
        wb_run = wandb.init(
            project=project,
            group=summary["sweep"],
            job_type="report",
            name=f"report-{summary['sweep']}",
            dir=str(sweep_dir),  # its wandb/ folder is not a run folder, so later reports skip it
            mode=mode,
            settings=wandb.Settings(init_timeout=20),
        )
    except Exception as err:  # the report is already written: say why the upload failed, in one line
        print(f"{PROG}: error: wandb.init failed: {err}".splitlines()[0], file=sys.stderr)
        return 2
    try:
        columns = list(summary["runs"][0]) if summary["runs"] else ["name"]
        table = wandb.Table(columns=columns, data=[[run.get(c) for c in columns] for run in summary["runs"]])
        images = {name.removesuffix(".png"): wandb.Image(str(sweep_dir / name)) for name in FIGURES}
        wandb.log({**images, "runs": table})
        for metric, fit in summary["fits"].items():
            wb_run.summary[f"{metric}/threshold_flops"] = fit["threshold_flops"]
            wb_run.summary[f"{metric}/breakthroughness"] = fit["breakthroughness"]
        where = {"online": getattr(wb_run, "url", None), "offline": f"{sweep_dir / 'wandb'} (upload: wandb sync)"}
    except Exception as err:
        print(f"{PROG}: error: wandb upload failed: {err}".splitlines()[0], file=sys.stderr)
        return 2
    finally:
        wandb.finish()  # always: an unfinished run would swallow the next job's logs
    print(f"W&B ({mode}): {where.get(mode) or 'nothing uploaded'}")
    return 0


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of `toymodels-report`."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="sweep folder: one run folder per subdirectory")
    parser.add_argument("--wandb", action="store_true", help="also log the figures and summary to W&B")
    parser.add_argument("--wandb-project", default="toymodels", help="W&B project (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write the report into the sweep folder; exit 0, or 1 if no run completed, 2 if no sweep."""
    args = parse_args(argv)
    if plt is None:
        print(f"{PROG}: error: the report needs matplotlib (pip install 'toymodels[plot]')", file=sys.stderr)
        return 2
    try:
        sweep = analysis.load_sweep(args.sweep_dir)
    except analysis.SweepError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    curves, curve_problems = read_curves(sweep)
    for problem in [p for p in sweep.problems if ": corrupt: " in p] + curve_problems:
        print(f"{PROG}: warning: {problem}", file=sys.stderr)
    summary = analysis.summarize(sweep)
    summary["missing"] += curve_problems
    summary = _jsonable(summary)

    out = sweep.path
    _save_figure(plot_emergence(summary), out / "emergence.png")
    _save_figure(plot_mirage(summary), out / "mirage.png")
    _save_figure(plot_curves(summary, sweep, curves), out / "curves.png")
    _write_text(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    _write_text(out / "summary.md", summary_markdown(summary))

    expected = summary["n_runs_expected"]
    print(
        f"{summary['n_completed']} of {summary['n_runs_found']} runs completed"
        + (f" ({expected} expected)" if expected is not None else "")
    )
    for item in summary["missing"]:
        print(f"  missing: {item}")
    print(f"wrote {', '.join(OUTPUTS)} in {out}")
    print(f"threshold (exact_match): {_threshold(summary['fits']['exact_match'])}")

    if args.wandb:
        sys.stdout.flush()  # the report's lines first, whatever wandb prints after
        code = upload_to_wandb(out, summary, project=args.wandb_project)
        if code:
            return code
    return 0 if summary["n_completed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
