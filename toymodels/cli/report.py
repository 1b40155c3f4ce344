"""The sweep report: `toymodels-report SWEEP_DIR` turns a sweep folder into figures and a summary.

This module owns the command line, `summary.md`, writing the report's files atomically into the
sweep folder, and the optional W&B upload. Numbers come from `toymodels.analysis.summary`, figures
from `toymodels.analysis.figures`; nothing here imports torch or the model.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from toymodels import labs
from toymodels.analysis import abilities, datascale, resolution, training_time
from toymodels.analysis import arms as arm_analysis
from toymodels.analysis import summary as summaries
from toymodels.analysis.abilities_figure import plot_abilities
from toymodels.analysis.arm_figures import X_LABELS, arm_lines, plot_arms
from toymodels.analysis.figures import (
    FIGURES,
    count,
    fit_note,
    flops,
    plot_curves,
    plot_emergence,
    plot_mirage,
    plt,
    read_curves,
    save_figure,
    threshold,
)
from toymodels.analysis.sweep import Sweep, SweepError, load_sweep
from toymodels.runs.records import METRICS, atomic_write, gap_text, jsonable, write_json

PROG = "toymodels-report"
OUTPUTS = (*FIGURES, "summary.json", "summary.md")


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _bounds(fit: dict[str, Any]) -> str:
    low, high = fit["bounds"]
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


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
        lines += [
            "| model | non-emb params | compute (FLOPs) | seeds | " + " | ".join(METRICS) + " |",
            "|---" * (4 + len(METRICS)) + "|",
        ]
        for fam in summary["families"]:
            cells = [fam["model"], count(fam["non_embedding_params"]), flops(fam["flops"]), str(fam["n_seeds"])]
            cells += [_num(fam[m]["median"] if fam.get(m) else None) for m in METRICS]
            lines.append("| " + " | ".join(cells) + " |")
    else:
        lines.append("No completed runs yet: nothing to tabulate.")
    head, solve = summary["headline"], summary["solve"]
    lines += [
        "",
        "## Headline threshold",
        "",
        f"**exact_match: {head['threshold_text']}** FLOPs ({head['method'].replace('_', ' ')}). Why: {head['why']}.",
        "",
        f"Solve probability per size (exact match ≥ {solve['level']:g}; Wilson 95 % interval):",
        "",
        "| model | compute (FLOPs) | solved / seeds | fraction [95 %] |",
        "|---|---|---|---|",
    ]
    for row in solve["per_size"]:
        low, high = row["wilson"]
        cells = [
            row["model"],
            flops(row["flops"]),
            f"{row['solved']} / {row['n']}",
            f"{row['fraction']:.2f} [{low:.2f}, {high:.2f}]",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if solve["note"]:
        lines += ["", f"Note: {solve['note']}."]
    lines += [
        "",
        "## Sigmoid fits, every metric",
        "",
        "Sigmoid of each final metric against log10(training FLOPs) over the completed runs, floor and "
        "ceiling bounded to the metric's range; the threshold is the midpoint. Intervals (95 %) resample "
        "whole seeds and are widened to cover what another seed set of the same size would give; an end "
        "beyond the swept compute reads `< smallest` / `> largest`. A fit whose 10–90 % width reaches the "
        "swept range is *gradual* and has no threshold. Breakthroughness is BIG-bench's I(y) / "
        "max(sqrt(median(Δy²)), resolution) over the family medians ordered by compute (resolution = "
        "1/eval_size), signed so that improvement is positive (edit_distance and loss are negated).",
        "",
        "| metric | threshold (FLOPs) [95 %] | breakthroughness | floor → ceiling (range) | width (decades) | note |",
        "|---|---|---|---|---|---|",
    ]
    for metric, fit in summary["fits"].items():
        b = fit["breakthroughness"]
        cells = [
            metric,
            fit["threshold_text"],
            "—" if b is None else f"{b:.1f}",
            f"{_num(fit['floor'])} → {_num(fit['ceiling'])} {_bounds(fit)}" if fit["floor"] is not None else "—",
            _num(fit["width_decades"], 2),
            fit_note(fit),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if summary.get("arms"):
        lines += ["", *arms_markdown(summary["arms"])]
    if summary.get("split_half"):
        lines += ["", "## Split-half check", "", split_half_text(summary["split_half"])]
    if summary.get("data_scaling"):
        lines += ["", *datascale.markdown(summary["data_scaling"])]
    if summary.get("resolution"):
        lines += ["", *resolution.markdown(summary["resolution"])]
    if summary.get("grok"):
        lines += ["", "## Grok gap (train exact match ≥ 0.99 → held-out ≥ 0.99)", ""]
        lines += [f"- {g['name']}: {gap_text(g['grok_gap'])}" for g in summary["grok"]]
    extra = [*(["training.png"] if summary.get("grok") is not None else []),
             *(["data_scaling.png"] if summary.get("data_scaling") else []),
             *(["resolution.png"] if summary.get("resolution") else [])]
    lines += ["", *(f"![{name}]({name})" for name in (*FIGURES, *extra)), ""]
    return "\n".join(lines)


def arms_markdown(arms: dict[str, Any]) -> list[str]:
    """The arms section of summary.md: per-arm thresholds, the shifts between arms, the crossovers."""
    continuous = arms["metrics"][1]
    lines = [
        f"## Arms: {arms['arm_axis']}",
        "",
        f"The sweep splits into {len(arms['labels'])} arms (one family curve each; compute axis: "
        f"{X_LABELS[arms['x']]}). "
        "The sections above pool every arm into one family; the per-arm numbers are here. Shifts are from the "
        "first arm, in decades (positive: the other arm needs more compute), with a 95 % interval from a paired "
        "bootstrap over seeds, widened to cover another seed set.",
        "",
        f"| arm | task | runs | headline threshold (exact_match) [95 %] | {continuous} threshold [95 %] |",
        "|---|---|---|---|---|",
    ]
    for label in arms["labels"]:
        arm = arms[label]
        lines.append(f"| {label} | {arm['task_label']} | {arm['n_completed']} | {arm['headline']['threshold_text']} | "
                     f"{arm['fits'][continuous]['threshold_text']} |")
    lines += ["", *(f"- {line}" for line in arm_lines(arms))]
    return lines


def split_half_text(check: dict[str, Any]) -> str:
    """The split-half check as readable lines: one per split, then the tally."""
    rows = [
        f"- seeds {s['seeds_a']} → {s['a']} · seeds {s['seeds_b']} → {s['b']} · "
        f"{'each inside the other' if s['a_in_b'] and s['b_in_a'] else 'NOT mutually covered'}"
        for s in check["splits"]
    ]
    return "\n".join([*rows, f"{check['metric']}: {check['note']}"])


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
    from toymodels.training.wandb_logging import resolve_mode

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
        for metric, fit in summary["fits"].items():  # every metric, answer_prob included
            wb_run.summary[f"{metric}/threshold_flops"] = fit["threshold_flops"]
            wb_run.summary[f"{metric}/threshold_ci"] = fit["threshold_ci"]
            wb_run.summary[f"{metric}/breakthroughness"] = fit["breakthroughness"]
        wb_run.summary["headline/threshold_flops"] = summary["headline"]["threshold_flops"]
        wb_run.summary["headline/threshold_ci"] = summary["headline"]["threshold_ci"]
        wb_run.summary["headline/threshold_text"] = summary["headline"]["threshold_text"]
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
    parser.add_argument("sweep_dir", type=Path, nargs="?",
                        help="sweep folder: one run folder per subdirectory (with --example: a new folder)")
    parser.add_argument("--example", metavar="LAB",
                        help=f"copy the lab's precomputed sweep ({', '.join(labs.LABS)}) into a new folder and report "
                        "it, with no training")
    parser.add_argument("--resolution", type=int, metavar="N",
                        help="also write resolution.png: each run's final exact match on N-problem subsets of its "
                        "held-out problems against all of them, and answer_prob (reads final_problems.npz)")
    parser.add_argument(
        "--solve-level",
        type=float,
        default=summaries.SOLVE_LEVEL,
        help="a run solves the task when its final exact match reaches this (default: %(default)s)",
    )
    parser.add_argument(
        "--split-seeds",
        nargs="?",
        type=int,
        const=0,
        default=None,
        metavar="N",
        help="also split the seeds into disjoint halves and check each half's threshold lies in "
        "the other's interval (needs 4+ seeds); with N, draw 20 pairs of disjoint N-seed sets instead "
        "(the smallest N whose pairs agree is the seed count that makes the threshold reproducible)",
    )
    parser.add_argument(
        "--arm-axis",
        action="append",
        metavar="KEY",
        help="compare the arms of this sweep axis (repeatable; default: every axis besides model and seed)",
    )
    parser.add_argument("--arm-metric", default=arm_analysis.DEFAULT_CONTINUOUS, choices=METRICS,
                        help="the continuous metric compared between arms beside exact match (default: %(default)s)")
    parser.add_argument("--x", choices=arm_analysis.X_AXES, default="train_flops",
                        help="compute axis: training FLOPs, or training plus inference FLOPs (default: %(default)s)")
    parser.add_argument("--problems", type=int, default=None, metavar="N",
                        help="with --x total_flops: problems answered per run (default: each run's eval.size)")
    parser.add_argument(
        "--mirage",
        action="append",
        metavar="SKILL",
        help="mixture sweeps: also write mirage_SKILL.png, the skill scored by every metric (repeat, or 'all')",
    )
    parser.add_argument("--wandb", action="store_true", help="also log the figures and summary to W&B")
    parser.add_argument("--wandb-project", default="toymodels", help="W&B project (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.sweep_dir is None and args.example is None:
        parser.error("give a sweep folder (or --example LAB)")
    return args


def mixture_report(sweep, curves: dict, curve_problems: list[str], args: argparse.Namespace) -> int:
    """The report of a mixture sweep: abilities.png, summary.json (with `skills`), summary.md, mirage per skill."""
    skills = [s["name"] for s in abilities.skills_of(sweep)]
    wanted = args.mirage or []
    names = skills if "all" in wanted else wanted
    unknown = [n for n in names if n not in skills]
    if unknown:
        print(f"{PROG}: error: --mirage {unknown[0]}: no such skill; the skills are {', '.join(skills)}",
              file=sys.stderr)
        return 2
    try:
        axes, arm_runs = arm_analysis.split_arms(sweep, args.arm_axis and [k for a in args.arm_axis
                                                                             for k in a.split(",")])
    except arm_analysis.ArmError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    if len(arm_runs) > 1:
        return mixture_arms_report(sweep, axes, arm_runs, curves, curve_problems, args)
    summary = abilities.summarize_mixture(sweep, solve_level=args.solve_level, split_seeds=args.split_seeds)
    summary["missing"] += curve_problems
    summary = jsonable(summary)
    out = sweep.path
    figures = ["abilities.png", *(f"mirage_{n}.png" for n in names)]
    save_figure(plot_abilities(summary, curves), out / "abilities.png")
    for name in names:
        view = dict(summary["skills"][name], **{k: summary[k] for k in ("sweep", "n_runs_found", "n_completed")})
        save_figure(plot_mirage(view), out / f"mirage_{name}.png")
    write_json(out / "summary.json", summary)
    atomic_write(out / "summary.md", abilities.abilities_markdown(summary, figures))
    print(f"{summary['n_completed']} of {summary['n_runs_found']} runs completed (a mixture of "
          f"{len(summary['skills'])} skills)")
    for item in summary["missing"]:
        print(f"  missing: {item}")
    print(f"wrote {', '.join([*figures, 'summary.json', 'summary.md'])} in {out}")
    for name in summary["threshold_order"]:
        print(f"  {name}: threshold {summary['skills'][name]['headline']['threshold_text']} FLOPs")
    chain = summary["separated"]
    print(f"skills with thresholds separated by more than their intervals: {len(chain)} ({' < '.join(chain)})")
    for name, skill in summary["skills"].items():
        if skill.get("split_half"):
            print(f"  split-half {name}: {skill['split_half']['note']}")
    if args.wandb:
        print(f"{PROG}: warning: --wandb uploads single-task reports only; the mixture report is on disk",
              file=sys.stderr)
    return 0 if summary["n_completed"] else 1


def mixture_arms_report(sweep, axes: list[str], arm_runs: dict, curves: dict, curve_problems: list[str],
                        args: argparse.Namespace) -> int:
    """A mixture sweep with arms (e.g. model.pos_embedding): per arm, its abilities (abilities_<k>.png); per
    skill, the arms compared as in a single-task sweep (arms_<skill>.png: thresholds, shifts, crossovers)."""
    out, labels = sweep.path, list(arm_runs)
    per_arm = {}
    for k, label in enumerate(labels, start=1):
        part = Sweep(name=f"{sweep.name} [{label}]", path=sweep.path, runs=arm_runs[label],
                     n_folders=len(arm_runs[label]))
        per_arm[label] = jsonable(abilities.summarize_mixture(part, solve_level=args.solve_level,
                                                              split_seeds=args.split_seeds))
        names = {r.name for r in arm_runs[label]}
        save_figure(plot_abilities(per_arm[label], {n: c for n, c in curves.items() if n in names}),
                    out / f"abilities_{k}.png")
    skills = abilities.skills_of(sweep)
    by_skill = {}
    for skill in skills:
        view = abilities.skill_sweep(sweep, skill)
        arms = arm_analysis.summarize_arms(view, axes, args.arm_metric, "train_flops", args.solve_level)
        by_skill[skill["name"]] = jsonable(arms)
        save_figure(plot_arms({"sweep": f"{sweep.name} — {skill['name']}", "arms": by_skill[skill["name"]]}),
                    out / f"arms_{skill['name']}.png")
    summary = {"sweep": sweep.name, "arm_axis": ", ".join(axes), "labels": labels, "arms": per_arm,
               "skill_arms": by_skill, "missing": list(curve_problems)}
    figures = [*(f"abilities_{k}.png" for k in range(1, len(labels) + 1)), *(f"arms_{s['name']}.png" for s in skills)]
    write_json(out / "summary.json", summary)
    lines = [f"# {sweep.name}: a mixture with {len(labels)} arms of {summary['arm_axis']}", ""]
    for k, label in enumerate(labels, start=1):
        lines += [f"## Arm {label} (abilities_{k}.png)", ""]
        for name in per_arm[label]["threshold_order"]:
            skill = per_arm[label]["skills"][name]
            check = f" · split-half: {skill['split_half']['note']}" if skill.get("split_half") else ""
            lines.append(f"- {name}: threshold {skill['headline']['threshold_text']} FLOPs{check}")
        lines.append("")
    for name, arms in by_skill.items():
        lines += [f"## Skill {name}: the arms compared (arms_{name}.png)", "",
                  *(f"- {line}" for line in arm_lines(arms)), ""]
    atomic_write(out / "summary.md", "\n".join(lines))
    print(f"{sum(p['n_completed'] for p in per_arm.values())} of {len(sweep.runs)} runs "
          f"completed (a mixture with {len(labels)} arms of {summary['arm_axis']})")
    print(f"wrote {', '.join([*figures, 'summary.json', 'summary.md'])} in {out}")
    for label in labels:
        for name in per_arm[label]["threshold_order"]:
            print(f"  {label} {name}: threshold {per_arm[label]['skills'][name]['headline']['threshold_text']} FLOPs")
    for label in labels:
        for name, skill in per_arm[label]["skills"].items():
            if skill.get("split_half"):
                print(f"  split-half {label} {name}: {skill['split_half']['note']}")
    for name, arms in by_skill.items():
        for line in arm_lines(arms):
            print(f"  {name}: {line}")
    return 0 if any(p["n_completed"] for p in per_arm.values()) else 1


def main(argv: list[str] | None = None) -> int:
    """Write the report into the sweep folder; exit 0, or 1 if no run completed, 2 if no sweep."""
    args = parse_args(argv)
    if plt is None:
        print(f"{PROG}: error: the report needs matplotlib (pip install 'toymodels[plot]')", file=sys.stderr)
        return 2
    if args.example is not None:  # the no-compute path: a copy of the packaged sweep, reported as any other
        try:
            lab = labs.get_lab(args.example)
            args.sweep_dir = labs.copy_example(lab.name, args.sweep_dir)
        except labs.LabError as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            return 2
        print(f"copied the example of lab {lab.number} ({lab.title}) into {args.sweep_dir}")
        for key, value in lab.report_options.items():
            setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    if (args.sweep_dir / "run.json").is_file():  # one run folder: its training-time figure
        return training_time.report_run(args.sweep_dir, PROG)
    try:
        sweep = load_sweep(args.sweep_dir)
    except SweepError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    if args.problems is not None and args.problems <= 0:
        print(f"{PROG}: error: --problems={args.problems} must be positive", file=sys.stderr)
        return 2
    if abilities.is_mixture(sweep):  # one sweep, many skills: its own report (no arms, training FLOPs)
        curves, curve_problems = read_curves(sweep)
        for problem in [p for p in sweep.problems if ": corrupt: " in p] + curve_problems:
            print(f"{PROG}: warning: {problem}", file=sys.stderr)
        return mixture_report(sweep, curves, curve_problems, args)
    try:
        sweep.runs = arm_analysis.with_x_axis(sweep.runs, args.x, args.problems)
        arms = arm_analysis.summarize_arms(sweep, args.arm_axis and [k for a in args.arm_axis for k in a.split(",")],
                                           args.arm_metric, args.x, args.solve_level)
    except arm_analysis.ArmError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    curves, curve_problems = read_curves(sweep)
    for problem in [p for p in sweep.problems if ": corrupt: " in p] + curve_problems:
        print(f"{PROG}: warning: {problem}", file=sys.stderr)
    summary = summaries.summarize(sweep, solve_level=args.solve_level)
    if args.x != "train_flops":
        summary["x"], summary["x_label"] = args.x, X_LABELS[args.x]
    if arms is not None:
        summary["arms"] = arms
    summary["missing"] += curve_problems
    if args.split_seeds is not None:
        summary["split_half"] = summaries.split_half_check(sweep, level=args.solve_level,
                                                           per_set=args.split_seeds or None)
    # Training-time records (train_ metrics, grok gaps) exist only for finite training sets.
    finite = any(r.info.get("train_size") for r in sweep.completed)
    scaling = datascale.data_scaling(sweep)
    if scaling:
        summary["data_scaling"] = scaling
    if finite:
        summary["grok"] = training_time.grok_summary(sweep.completed)
    if args.resolution is not None:
        try:
            summary["resolution"] = resolution.summarize(sweep, args.resolution)
        except resolution.ResolutionError as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            return 2
    summary = jsonable(summary)

    out = sweep.path
    if summary.get("resolution"):
        save_figure(resolution.plot_resolution(summary["resolution"], f"{summary['task_label'] or sweep.name}: "
                                               "exact match at two test-set sizes, and answer_prob"),
                    out / "resolution.png")
    save_figure(plot_arms(summary) if summary.get("arms") else plot_emergence(summary), out / "emergence.png")
    save_figure(plot_mirage(summary), out / "mirage.png")
    save_figure(plot_curves(summary, sweep, curves), out / "curves.png")
    if finite:
        save_figure(training_time.plot_training(sweep.completed, curves, f"{summary['task_label'] or sweep.name}: "
                                           "exact match and weight norm over training"), out / "training.png")
    if summary.get("data_scaling"):
        save_figure(datascale.plot_data_scaling(summary["data_scaling"], f"{summary['task_label'] or sweep.name}: "
                                                "held-out exact match against training-set size"),
                    out / "data_scaling.png")
    write_json(out / "summary.json", summary)
    atomic_write(out / "summary.md", summary_markdown(summary))

    expected = summary["n_runs_expected"]
    print(
        f"{summary['n_completed']} of {summary['n_runs_found']} runs completed"
        + (f" ({expected} expected)" if expected is not None else "")
    )
    for item in summary["missing"]:
        print(f"  missing: {item}")
    extra = (", training.png" if finite else "") + (", data_scaling.png" if summary.get("data_scaling") else "")
    extra += ", resolution.png" if summary.get("resolution") else ""
    print(f"wrote {', '.join(OUTPUTS)}{extra} in {out}")
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
    if args.split_seeds:
        print(split_half_text(summary["split_half"]))

    if args.wandb:
        sys.stdout.flush()  # the report's lines first, whatever wandb prints after
        code = upload_to_wandb(out, summary, project=args.wandb_project)
        if code:
            return code
    return 0 if summary["n_completed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
