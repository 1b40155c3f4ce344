"""The report of a mixture sweep: one threshold per skill, `abilities.png`, and per-arm views when it has arms.

Numbers come from `abilities` (each skill seen as a single-task sweep) and `arms` (the arms of each
skill compared), figures from `abilities_figure` and `arm_figures`; this module writes them into the
sweep folder, writes `summary.md` and prints what it found. Reached through `report.write_report`,
which has checked the options; the files are written all or nothing (`outputs.Staged`).
"""

from __future__ import annotations

import sys
from typing import Any

from toymodels.analysis import abilities, arms
from toymodels.analysis.abilities_figure import plot_abilities
from toymodels.analysis.arm_figures import plot_arms
from toymodels.analysis.figures import plot_mirage
from toymodels.analysis.markdown import arm_lines
from toymodels.analysis.outputs import Staged
from toymodels.analysis.report_options import PROG, ReportOptions, curves_with_warnings, error, warn
from toymodels.analysis.sweep import RunRecord, Sweep
from toymodels.runs.records import jsonable


def report_mixture(sweep: Sweep, options: ReportOptions) -> int:
    """abilities.png, summary.json (with `skills`), summary.md and mirage_SKILL.png per `--mirage` skill."""
    curves, curve_problems = curves_with_warnings(sweep)
    skills = [s["name"] for s in abilities.skills_of(sweep)]
    wanted = options.mirage or []
    names = skills if "all" in wanted else wanted
    unknown = [n for n in names if n not in skills]
    if unknown:
        return error(f"--mirage {unknown[0]}: no such skill; the skills are {', '.join(skills)}")
    try:
        axes, arm_runs = arms.split_arms(sweep, options.arm_keys)
    except arms.ArmError as err:
        return error(err)
    if len(arm_runs) > 1:
        return report_mixture_arms(sweep, axes, arm_runs, curves, curve_problems, options)
    summary = abilities.summarize_mixture(sweep, solve_level=options.solve_level, split_seeds=options.split_seeds)
    summary["missing"] += curve_problems
    summary = jsonable(summary)
    figures = ["abilities.png", *(f"mirage_{n}.png" for n in names)]
    with Staged(sweep.path, PROG) as out:
        out.figure(plot_abilities(summary, curves), "abilities.png")
        for name in names:
            view = dict(summary["skills"][name], **{k: summary[k] for k in ("sweep", "n_runs_found", "n_completed")})
            out.figure(plot_mirage(view), f"mirage_{name}.png")
        out.json("summary.json", summary)
        out.text("summary.md", abilities.abilities_markdown(summary, figures))
        out.commit()
    print_mixture(summary, figures)
    if options.wandb:
        sys.stdout.flush()
        warn("--wandb uploads single-task reports only; the mixture report is on disk")
    return 0 if summary["n_completed"] else 1


def print_mixture(summary: dict[str, Any], figures: list[str]) -> None:
    """What the mixture report found, on stdout: runs, missing ones, files, each skill's threshold, the chain."""
    print(f"{summary['n_completed']} of {summary['n_runs_found']} runs completed (a mixture of "
          f"{len(summary['skills'])} skills)")
    for item in summary["missing"]:
        print(f"  missing: {item}")
    print(f"wrote {', '.join([*figures, 'summary.json', 'summary.md'])} in {summary['sweep_dir']}")
    for name in summary["threshold_order"]:
        print(f"  {name}: threshold {summary['skills'][name]['headline']['threshold_text']} FLOPs")
    chain = summary["separated"]
    print(f"skills with thresholds separated by more than their intervals: {len(chain)} ({' < '.join(chain)})")
    for name, skill in summary["skills"].items():
        if skill.get("split_half"):
            print(f"  split-half {name}: {skill['split_half']['note']}")


# ----------------------------------------------------------------------------- a mixture with arms


def report_mixture_arms(sweep: Sweep, axes: list[str], arm_runs: dict[str, list[RunRecord]], curves: dict,
                        curve_problems: list[str], options: ReportOptions) -> int:
    """A mixture sweep with arms (e.g. model.pos_embedding): per arm, its abilities (abilities_<k>.png); per
    skill, the arms compared as in a single-task sweep (arms_<skill>.png: thresholds, shifts, crossovers)."""
    labels, skills = list(arm_runs), abilities.skills_of(sweep)
    per_arm, by_skill = {}, {}
    for label in labels:
        part = Sweep(name=f"{sweep.name} [{label}]", path=sweep.path, runs=arm_runs[label],
                     n_folders=len(arm_runs[label]))
        per_arm[label] = jsonable(abilities.summarize_mixture(part, solve_level=options.solve_level,
                                                              split_seeds=options.split_seeds))
    for skill in skills:
        view = abilities.skill_sweep(sweep, skill)
        compared = arms.summarize_arms(view, axes, options.arm_metric, "train_flops", options.solve_level)
        by_skill[skill["name"]] = jsonable(compared)
    summary = {"sweep": sweep.name, "arm_axis": ", ".join(axes), "labels": labels, "arms": per_arm,
               "skill_arms": by_skill, "missing": list(curve_problems)}
    figures = [*(f"abilities_{k}.png" for k in range(1, len(labels) + 1)), *(f"arms_{s['name']}.png" for s in skills)]
    with Staged(sweep.path, PROG) as out:
        for k, label in enumerate(labels, start=1):
            names = {r.name for r in arm_runs[label]}
            out.figure(plot_abilities(per_arm[label], {n: c for n, c in curves.items() if n in names}),
                       f"abilities_{k}.png")
        for name, compared in by_skill.items():
            out.figure(plot_arms({"sweep": f"{sweep.name} — {name}", "arms": compared}), f"arms_{name}.png")
        out.json("summary.json", summary)
        out.text("summary.md", mixture_arms_markdown(summary))
        out.commit()
    print_mixture_arms(summary, len(sweep.runs), figures, sweep.path)
    return 0 if any(p["n_completed"] for p in per_arm.values()) else 1


def mixture_arms_markdown(summary: dict[str, Any]) -> str:
    """summary.md of a mixture with arms: each arm's skill thresholds, then each skill's arms compared."""
    labels, per_arm = summary["labels"], summary["arms"]
    lines = [f"# {summary['sweep']}: a mixture with {len(labels)} arms of {summary['arm_axis']}", ""]
    for k, label in enumerate(labels, start=1):
        lines += [f"## Arm {label} (abilities_{k}.png)", ""]
        for name in per_arm[label]["threshold_order"]:
            skill = per_arm[label]["skills"][name]
            check = f" · split-half: {skill['split_half']['note']}" if skill.get("split_half") else ""
            lines.append(f"- {name}: threshold {skill['headline']['threshold_text']} FLOPs{check}")
        lines.append("")
    for name, compared in summary["skill_arms"].items():
        lines += [f"## Skill {name}: the arms compared (arms_{name}.png)", "",
                  *(f"- {line}" for line in arm_lines(compared)), ""]
    return "\n".join(lines)


def print_mixture_arms(summary: dict[str, Any], n_runs: int, figures: list[str], out) -> None:
    """What the mixture-with-arms report found, on stdout."""
    labels, per_arm = summary["labels"], summary["arms"]
    print(f"{sum(p['n_completed'] for p in per_arm.values())} of {n_runs} runs "
          f"completed (a mixture with {len(labels)} arms of {summary['arm_axis']})")
    print(f"wrote {', '.join([*figures, 'summary.json', 'summary.md'])} in {out}")
    for label in labels:
        for name in per_arm[label]["threshold_order"]:
            print(f"  {label} {name}: threshold {per_arm[label]['skills'][name]['headline']['threshold_text']} FLOPs")
    for label in labels:
        for name, skill in per_arm[label]["skills"].items():
            if skill.get("split_half"):
                print(f"  split-half {label} {name}: {skill['split_half']['note']}")
    for name, compared in summary["skill_arms"].items():
        for line in arm_lines(compared):
            print(f"  {name}: {line}")
