"""The sweep report: `write_report(sweep_dir, options)` turns a sweep folder into figures and a summary.

This module owns what a report is made of and where it goes: it reads the sweep, picks the report
kind and writes that kind's files atomically into the sweep folder, then prints what it found. The
kinds, each from its own modules (numbers / text / figure):

- one run folder: `training.png` (`training_time`);
- a mixture sweep (runs that list skills): `mixture_report`;
- a single-task sweep (the family report): `summary` / `markdown` / `figures`, with the sections its
  sweep calls for: arms (`arms`, `arm_figures`), data scaling (`datascale`), training time and grok
  gaps (`training_time`), resolution (`resolution`), the split-half check (`summary`).

Exit codes: 0, 1 when no run completed, 2 for a sweep that cannot be reported (one line on stderr).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from toymodels.analysis import abilities, arms, datascale, resolution, training_time, wandb_upload
from toymodels.analysis import summary as summaries
from toymodels.analysis.arm_figures import plot_arms
from toymodels.analysis.figures import FIGURES, plot_curves, plot_emergence, plot_mirage
from toymodels.analysis.markdown import X_LABELS, arm_lines, extra_figures, split_half_text, summary_markdown, threshold
from toymodels.analysis.mixture_report import report_mixture
from toymodels.analysis.outputs import OutputError, Staged
from toymodels.analysis.plots import plt
from toymodels.analysis.report_options import PROG, ReportOptions, curves_with_warnings, error
from toymodels.analysis.sweep import Sweep, SweepError, load_sweep
from toymodels.runs.records import jsonable

__all__ = ["FIGURES", "OUTPUTS", "PROG", "ReportOptions", "curves_with_warnings", "error", "write_report"]

OUTPUTS = (*FIGURES, "summary.json", "summary.md")


def _usable_sweep(sweep_dir: Path, options: ReportOptions) -> Sweep | str:
    """The sweep, or why it cannot be reported with these options (one line)."""
    try:
        sweep = load_sweep(sweep_dir)
    except SweepError as err:
        return str(err)
    if not sweep.runs:  # every run folder skipped: nothing to report, and no earlier report is replaced
        return (f"none of the {sweep.n_folders} run folder(s) in {sweep.path} has a usable run.json "
                f"(first: {sweep.problems[0]})")
    if options.mirage and not abilities.is_mixture(sweep):
        return f"--mirage {options.mirage[0]}: {sweep.path} is not a mixture sweep (its run.json files list no skills)"
    return sweep


def write_report(sweep_dir: Path | str, options: ReportOptions | None = None) -> int:
    """Write the report of a sweep folder (or `training.png` of one run folder) into it; returns the exit code.

    Every option is checked first; the files are written all or nothing (`outputs.Staged`), so a report
    that fails leaves the earlier report byte-identical.
    """
    options = options or ReportOptions()
    problem = options.problem()
    if problem:
        return error(problem)
    if plt is None:
        return error("the report needs matplotlib (pip install 'toymodels[plot]')")
    sweep_dir = Path(sweep_dir)
    if (sweep_dir / "run.json").is_file():  # one run folder: its training-time figure
        return training_time.report_run(sweep_dir, PROG)
    sweep = _usable_sweep(sweep_dir, options)
    if isinstance(sweep, str):
        return error(sweep)
    try:
        if abilities.is_mixture(sweep):  # one sweep, many skills: its own report (training FLOPs)
            return report_mixture(sweep, options)
        return report_family(sweep, options)
    except OutputError as err:
        return error(err)


# ----------------------------------------------------------------------------- the family report


def summarize_family(sweep: Sweep, options: ReportOptions, arm_summary: dict | None,
                     curve_problems: list[str]) -> dict[str, Any]:
    """summary.json of a single-task sweep: `summary.summarize` plus the sections the sweep and options call for.

    Raises `resolution.ResolutionError` when `--resolution` finds nothing to score.
    """
    summary = summaries.summarize(sweep, solve_level=options.solve_level)
    if options.x != "train_flops":
        summary["x"], summary["x_label"] = options.x, X_LABELS[options.x]
    if arm_summary is not None:
        summary["arms"] = arm_summary
    summary["missing"] += curve_problems
    if options.split_seeds is not None:
        summary["split_half"] = summaries.split_half_check(sweep, level=options.solve_level,
                                                           per_set=options.split_seeds or None)
    scaling = datascale.data_scaling(sweep)
    if scaling:
        summary["data_scaling"] = scaling
    if any(r.info.get("train_size") for r in sweep.completed):  # training-time records: finite training sets
        summary["grok"] = training_time.grok_summary(sweep.completed)
    if options.resolution is not None:
        summary["resolution"] = resolution.summarize(sweep, options.resolution)
    return jsonable(summary)


def write_family(sweep: Sweep, summary: dict[str, Any], curves: dict) -> list[str]:
    """Draw the family report's files, then move them into the sweep folder together; the extra figures' names."""
    title = summary["task_label"] or sweep.name
    with Staged(sweep.path, PROG) as out:
        if summary.get("resolution"):
            out.figure(resolution.plot_resolution(summary["resolution"], f"{title}: exact match at two test-set "
                                                  "sizes, and answer_prob"), "resolution.png")
        out.figure(plot_arms(summary) if summary.get("arms") else plot_emergence(summary), "emergence.png")
        out.figure(plot_mirage(summary), "mirage.png")
        out.figure(plot_curves(summary, sweep, curves), "curves.png")
        if summary.get("grok") is not None:
            out.figure(training_time.plot_training(sweep.completed, curves, f"{title}: exact match and weight norm "
                                                   "over training"), "training.png")
        if summary.get("data_scaling"):
            out.figure(datascale.plot_data_scaling(summary["data_scaling"], f"{title}: held-out exact match against "
                                                   "training-set size"), "data_scaling.png")
        out.json("summary.json", summary)
        out.text("summary.md", summary_markdown(summary))
        out.commit()
    return extra_figures(summary)


def print_family(summary: dict[str, Any], extra: list[str], options: ReportOptions) -> None:
    """What the family report found, on stdout: runs, missing ones, files written, thresholds, arms."""
    expected = summary["n_runs_expected"]
    print(f"{summary['n_completed']} of {summary['n_runs_found']} runs completed"
          + (f" ({expected} expected)" if expected is not None else ""))
    for item in summary["missing"]:
        print(f"  missing: {item}")
    print(f"wrote {', '.join(OUTPUTS)}{''.join(', ' + name for name in extra)} in {summary['sweep_dir']}")
    for label, series in (summary.get("data_scaling") or {}).get("series", {}).items():
        print(f"data threshold ({label}): {series['threshold_text']}")
    head = summary["headline"]
    print(f"headline threshold (exact_match, {head['method'].replace('_', ' ')}, FLOPs): {head['threshold_text']}")
    print(f"sigmoid threshold (exact_match): {threshold(summary['fits']['exact_match'])}")
    if summary.get("arms"):
        for label in summary["arms"]["labels"]:
            print(f"  arm {label}: headline threshold {summary['arms'][label]['headline']['threshold_text']}")
        for line in arm_lines(summary["arms"]):
            print(f"  {line}")
    if options.split_seeds:
        print(split_half_text(summary["split_half"]))


def report_family(sweep: Sweep, options: ReportOptions) -> int:
    """The report of a single-task sweep: emergence.png, mirage.png, curves.png, summary.json, summary.md."""
    try:
        sweep.runs = arms.with_x_axis(sweep.runs, options.x, options.problems)
        arm_summary = arms.summarize_arms(sweep, options.arm_keys, options.arm_metric, options.x, options.solve_level)
    except arms.ArmError as err:
        return error(err)
    curves, curve_problems = curves_with_warnings(sweep)
    try:
        summary = summarize_family(sweep, options, arm_summary, curve_problems)
    except resolution.ResolutionError as err:
        return error(err)
    extra = write_family(sweep, summary, curves)
    print_family(summary, extra, options)
    if options.wandb:
        sys.stdout.flush()  # the report's lines first, whatever wandb prints after
        code = wandb_upload.upload_report(sweep.path, summary, project=options.wandb_project, prog=PROG)
        if code:
            return code
    return 0 if summary["n_completed"] else 1
