"""A mixture sweep's report: one threshold per skill, the mixture loss, `summary.json`'s `skills`.

A mixture run records each skill's metrics as ``<skill>/<metric>`` and the mixture's overall
``loss``. Here every skill of the sweep is viewed as a sweep of its own (the same runs, each with
that skill's metrics under the bare names, its chance level and its evaluation size), so the
single-task machinery (`summary.summarize`: sigmoid fits, the solve-probability headline, seed
bootstraps) gives each skill its threshold unchanged. Torch-free, like the rest of `analysis`.
"""

from __future__ import annotations

import math
from typing import Any

from toymodels.analysis import summary as summaries
from toymodels.analysis.markdown import count, fit_note, flops, number, table
from toymodels.analysis.sweep import RunRecord, Sweep
from toymodels.runs.records import METRICS

# Per-skill keys of a skill view's summary that the top level already holds (the same runs).
_SHARED = ("sweep", "sweep_dir", "n_runs_expected", "n_runs_found", "n_completed", "missing")


def skills_of(sweep: Sweep) -> list[dict[str, Any]]:
    """The mixture's skills as run.json records them (first run that names each), in config order."""
    seen: dict[str, dict[str, Any]] = {}
    for run in sweep.runs:
        for skill in run.info.get("skills") or []:
            if isinstance(skill, dict) and isinstance(skill.get("name"), str):
                seen.setdefault(skill["name"], skill)
    return list(seen.values())


def is_mixture(sweep: Sweep) -> bool:
    """A sweep of mixture runs (their run.json lists skills)."""
    return bool(skills_of(sweep))


def skill_view(run: RunRecord, skill: dict[str, Any]) -> RunRecord:
    """The run as a single-task run of one skill: that skill's metrics under the bare names."""
    name = skill["name"]
    info = dict(run.info, task=skill.get("task"), task_label=f"{name}: {skill.get('label')}",
                chance=skill.get("chance"))
    metrics = run.info.get("metrics")
    if isinstance(metrics, dict):
        prefix = f"{name}/"
        info["metrics"] = {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}
    size, held = run.info.get("eval_size"), skill.get("heldout_count")
    if isinstance(size, int) and isinstance(held, int):
        info["eval_size"] = min(size, held)  # a skill with fewer held-out problems is scored on all of them
    return RunRecord(name=run.name, path=run.path, info=info)


def skill_sweep(sweep: Sweep, skill: dict[str, Any]) -> Sweep:
    """The sweep seen through one skill."""
    runs = [skill_view(r, skill) for r in sweep.runs]
    return Sweep(name=sweep.name, path=sweep.path, runs=runs, problems=list(sweep.problems),
                 n_folders=sweep.n_folders, n_expected=sweep.n_expected)


def _log_interval(entry: dict[str, Any]) -> tuple[float, float, float]:
    """(threshold, low, high) in log10 FLOPs; an open end (or "below/above the range") is ±inf, none NaN."""
    if entry.get("side") == "below":
        return -math.inf, -math.inf, math.log10(entry["x_range"][0])
    if entry.get("side") == "above":
        return math.inf, math.log10(entry["x_range"][1]), math.inf
    return summaries.as_log10(entry)


def separated_chain(skills: dict[str, dict[str, Any]]) -> list[str]:
    """The longest list of skills, in threshold order, each of whose threshold intervals lies wholly
    above the previous one's (a threshold below or above the swept range counts as an interval open
    on that side; a skill without a threshold is left out). Earliest-ending interval first is optimal."""
    spans = []
    for name, entry in skills.items():
        x, low, high = _log_interval(entry["headline"])
        if not math.isnan(x):
            spans.append((high, low, name))
    chain, last = [], -math.inf
    for high, low, name in sorted(spans):
        if low > last or (not chain and low == -math.inf):
            chain.append(name)
            last = high
    return chain


def threshold_order(skills: dict[str, dict[str, Any]]) -> list[str]:
    """Skill names ordered by headline threshold: below the range first, none last (config order on ties)."""
    def key(item):
        x = _log_interval(item[1]["headline"])[0]
        return (math.isnan(x), 0.0 if math.isnan(x) else x)

    return [name for name, _ in sorted(skills.items(), key=key)]


def summarize_mixture(
    sweep: Sweep, seed: int = 0, solve_level: float = summaries.SOLVE_LEVEL, split_seeds: int | None = None
) -> dict[str, Any]:
    """Everything a mixture sweep's `summary.json` holds: the runs, the mixture loss's fit, and `skills`.

    `skills[name]` is a single-task summary of that skill (its `fits` by metric, `headline`, `solve`,
    `families`, `runs`, `chance`) plus what the mixture says of it (`weight`, `zipf_rank`, `eval_only`).
    With `split_seeds` (0: halves; N: pairs of disjoint N-seed sets; as `--split-seeds`), each skill also
    gets `split_half`: does each set of seeds land its threshold inside the other set's interval?
    """
    summary = summaries.summarize(sweep, seed=seed, solve_level=solve_level)
    summary["fits"] = {"loss": summary["fits"]["loss"]}  # the only bare metric of a mixture run
    summary.pop("solve")
    summary.pop("headline")
    labels = {r.info.get("task_label") for r in sweep.runs if r.info.get("task_label")}
    summary["task_label"] = " + ".join(sorted(labels)) or None
    x = [r.flops for r in sweep.completed if r.flops]
    x_range = [min(x), max(x)] if x else None
    skills: dict[str, dict[str, Any]] = {}
    for skill in skills_of(sweep):
        one_skill = skill_sweep(sweep, skill)
        view = summaries.summarize(one_skill, seed=seed, solve_level=solve_level)
        entry = {k: v for k, v in view.items() if k not in _SHARED}
        if split_seeds is not None:
            entry["split_half"] = summaries.split_half_check(one_skill, level=solve_level, per_set=split_seeds or None)
        entry["headline"]["x_range"] = x_range
        entry.update({k: skill.get(k) for k in ("label", "task", "weight", "zipf_rank", "eval_only")})
        skills[skill["name"]] = entry
    summary["x_range"] = x_range
    summary["skills"] = skills
    summary["threshold_order"] = threshold_order(skills)
    summary["separated"] = separated_chain(skills)
    summary["metrics"] = list(METRICS)
    return summary


# ----------------------------------------------------------------------------- summary.md


def _weight(skill: dict[str, Any]) -> str:
    return "0 (evaluation only)" if skill["eval_only"] else number(skill["weight"], 3)


def _thresholds_section(summary: dict[str, Any]) -> list[str]:
    """Per skill, in threshold order: its weight, chance, headline and sigmoid thresholds; then the chain."""
    skills = summary["skills"]
    level = next(iter(skills.values()))["solve"]["level"] if skills else summaries.SOLVE_LEVEL
    lines = [
        "## Thresholds per skill, in order",
        "",
        f"Per skill, the compute where half the seeds reach exact match ≥ {level:g} (logistic "
        "regression of solved-or-not on log10 FLOPs; 95 % interval over seeds, widened to cover another seed "
        "set), then the sigmoid fit's midpoint of exact match. Zipf rank 1 = the most frequent trained skill.",
        "",
    ]
    rows = []
    for name in summary["threshold_order"]:
        s = skills[name]
        fit, head = s["fits"]["exact_match"], s["headline"]
        chance = (s.get("chance") or {}).get("exact_match")
        b = fit["breakthroughness"]
        rows.append([name, s["label"] or "—", _weight(s), str(s["zipf_rank"] or "—"),
                     "—" if chance is None else f"{chance:.1e}", head["threshold_text"], fit["threshold_text"],
                     "—" if b is None else f"{b:.1f}", s["solve"]["note"] or fit_note(fit)])
    header = ["skill", "task", "weight", "Zipf rank", "chance (exact match)", "threshold (FLOPs) [95 %]",
              "sigmoid threshold [95 %]", "breakthroughness", "note"]
    chain = summary["separated"]
    return [*lines, *table(header, rows), "",
            f"**Skills whose thresholds are separated by more than their intervals:** {len(chain)}"
            + (f" ({' < '.join(chain)})" if chain else "") + "."]


def _family_section(summary: dict[str, Any]) -> list[str]:
    """Per model size: compute, seeds, the mixture loss and every skill's exact match (medians over seeds)."""
    skills = summary["skills"]
    per_model = {n: {f["model"]: f for f in s["families"]} for n, s in skills.items()}
    rows = []
    for fam in summary["families"]:
        cells = [fam["model"], count(fam["non_embedding_params"]), flops(fam["flops"]), str(fam["n_seeds"]),
                 number(fam["loss"]["median"] if fam.get("loss") else None)]
        for n in skills:
            em = per_model[n].get(fam["model"], {}).get("exact_match")
            cells.append(number(em["median"] if em else None))
        rows.append(cells)
    header = ["model", "non-emb params", "compute (FLOPs)", "seeds", "mixture loss",
              *(f"{n} exact match" for n in skills)]
    return ["## Family (median over seeds of the final metrics)", "", *table(header, rows)]


def _loss_section(summary: dict[str, Any]) -> list[str]:
    loss, skills = summary["fits"]["loss"], summary["skills"]
    b = loss["breakthroughness"]
    jumps = [f"{n} {s['fits']['exact_match']['breakthroughness']:.1f}" for n, s in skills.items()
             if s["fits"]["exact_match"]["breakthroughness"] is not None]
    return [
        "## The mixture loss",
        "",
        "Held-out cross-entropy per target token of the training mixture (evaluation-only skills excluded). "
        f"Breakthroughness of its family curve: {'—' if b is None else f'{b:.1f}'} (skills' exact match: "
        f"{', '.join(jumps) or '—'}). Sigmoid threshold: {loss['threshold_text']} ({fit_note(loss) or 'clean fit'}).",
    ]


def abilities_markdown(summary: dict[str, Any], figures: list[str]) -> str:
    """The readable twin of a mixture sweep's summary.json."""
    skills, expected = summary["skills"], summary["n_runs_expected"]
    lines = [
        f"# Sweep report: {summary['sweep']} (mixture of {len(skills)} skills)",
        "",
        f"**Task:** {summary['task_label'] or 'unknown'} · **runs:** {summary['n_completed']} completed "
        f"of {summary['n_runs_found']} found" + (f" ({expected} expected)" if expected is not None else ""),
        "",
        f"Folder: `{summary['sweep_dir']}`",
        "",
        "## Missing, unfinished or broken runs",
        "",
        *([f"- {item}" for item in summary["missing"]] or ["Nothing missing: every run completed."]),
        "",
        *_thresholds_section(summary),
        "",
        *_family_section(summary),
    ]
    checks = {n: s["split_half"] for n, s in skills.items() if s.get("split_half")}
    if checks:
        lines += ["", "## Split-half check per skill", "",
                  "Each skill's seeds split into disjoint halves: does each half's threshold lie inside the other "
                  "half's interval?", ""]
        lines += [f"- {n}: {c['note']}" for n, c in checks.items()]
    lines += ["", *_loss_section(summary), "", *(f"![{name}]({name})" for name in figures), ""]
    return "\n".join(lines)
