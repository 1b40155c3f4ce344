"""Numbers as readable text, and `summary.md` of a single-task sweep (its family, fits and arms sections).

`summary.md` is the readable twin of `summary.json`: every number in it comes from the summary dict,
nothing is computed here. The small text helpers (`flops`, `count`, `threshold`, `fit_note`, the
arms' shift lines) are shared with the figures, the mixture report and the command-line output, so a
threshold reads the same on a figure, in a table and on the terminal. No matplotlib, no torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from toymodels.analysis import datascale, resolution
from toymodels.runs.records import METRICS, gap_text

X_LABELS = {"train_flops": "training compute (FLOPs)",
            "total_flops": "training + inference compute (FLOPs; inference = FLOPs per problem × problems)"}
FIGURES = ("emergence.png", "mirage.png", "curves.png")


# ----------------------------------------------------------------------------- numbers as text


def number(value: float | None, digits: int = 3) -> str:
    """`0.123`, or `—` for none."""
    return "—" if value is None else f"{value:.{digits}f}"


def flops(value: float | None, digits: int = 1) -> str:
    """`3.2e+12`, or `—` for none."""
    return "—" if value is None else f"{value:.{digits}e}"


def count(value: float | None) -> str:
    """Parameter counts the way people say them: 12.3k, 1.20M."""
    if value is None:
        return "—"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def fit_note(fit: dict[str, Any]) -> str:
    """Why a fit has no threshold, or its remark; empty for a clean fit."""
    return fit["note"] if fit["ok"] else f"no threshold: {fit['note']}"


def threshold(fit: dict[str, Any]) -> str:
    """`3.21e+12 FLOPs [2.10e+12, 4.02e+12]`, or the reason there is none."""
    if fit["threshold_flops"] is None:
        return f"{fit['threshold_text']} ({fit['note']})" if fit.get("side") else f"none ({fit['note']})"
    return (
        fit["threshold_text"].replace(" [", " FLOPs [", 1)
        + ("" if "[" in fit["threshold_text"] else " FLOPs")
        + (f" ({fit['note']})" if fit["note"] else "")
    )


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A markdown table: the header line, the rule, one line per row of cells."""
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def _bounds(fit: dict[str, Any]) -> str:
    low, high = fit["bounds"]
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


# ----------------------------------------------------------------------------- arms as text


def shift_text(shift: dict[str, Any]) -> str:
    """`+0.62 decades [0.31, 1.05]`, or the bound or reason when there is no number."""
    value = shift["shift_decades"]
    if value is None:
        bound = shift.get("bound")
        return f"shift {bound['side']} {bound['decades']:+.2f} decades" if bound else shift["note"]
    ci = shift.get("ci")
    if not ci:
        return f"{value:+.2f} decades (no interval: {shift['note']})" if shift["note"] else f"{value:+.2f} decades"
    ends = ["open" if end is None else f"{end:+.2f}" for end in ci]
    return f"{value:+.2f} decades [{ends[0]}, {ends[1]}]"


def arm_lines(arms: dict[str, Any]) -> list[str]:
    """Shifts and crossovers as readable lines (the figure's footer, summary.md, the report's stdout)."""
    lines = []
    for shift in arms["shifts"]:
        lines.append(f"{shift['metric']} threshold shift {shift['from']} → {shift['to']}: {shift_text(shift)}")
    for metric in arms["metrics"]:
        found = [c["text"] for c in arms["crossovers"] if c["metric"] == metric]
        lines.append(f"{metric} crossovers: " + ("; ".join(found) if found else "none in range"))
    return lines


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
    ]
    header = ["arm", "task", "runs", "headline threshold (exact_match) [95 %]", f"{continuous} threshold [95 %]"]
    rows = [[label, arms[label]["task_label"], str(arms[label]["n_completed"]),
             arms[label]["headline"]["threshold_text"], arms[label]["fits"][continuous]["threshold_text"]]
            for label in arms["labels"]]
    return [*lines, *table(header, rows), "", *(f"- {line}" for line in arm_lines(arms))]


def split_half_text(check: dict[str, Any]) -> str:
    """The split-half check as readable lines: one per split, then the tally."""
    rows = [
        f"- seeds {s['seeds_a']} → {s['a']} · seeds {s['seeds_b']} → {s['b']} · "
        f"{'each inside the other' if s['a_in_b'] and s['b_in_a'] else 'NOT mutually covered'}"
        for s in check["splits"]
    ]
    return "\n".join([*rows, f"{check['metric']}: {check['note']}"])


# ----------------------------------------------------------------------------- summary.md


def missing_section(summary: dict[str, Any]) -> list[str]:
    """Title, task, run counts and the list of missing, unfinished or broken runs."""
    expected = summary["n_runs_expected"]
    return [
        f"**Task:** {summary['task_label'] or 'unknown'} · **runs:** {summary['n_completed']} completed "
        f"of {summary['n_runs_found']} found"
        + (f" ({expected} expected)" if expected is not None else " (expected count unknown)"),
        "",
        f"Folder: `{summary['sweep_dir']}`",
        "",
        "## Missing, unfinished or broken runs",
        "",
        *([f"- {item}" for item in summary["missing"]] or ["Nothing missing: every run completed."]),
    ]


def _family_section(summary: dict[str, Any]) -> list[str]:
    lines = ["## Family (median over seeds of the final metrics)", ""]
    if not summary["families"]:
        return [*lines, "No completed runs yet: nothing to tabulate."]
    header = ["model", "non-emb params", "compute (FLOPs)", "seeds", *METRICS]
    rows = [[fam["model"], count(fam["non_embedding_params"]), flops(fam["flops"]), str(fam["n_seeds"]),
             *(number(fam[m]["median"] if fam.get(m) else None) for m in METRICS)] for fam in summary["families"]]
    return [*lines, *table(header, rows)]


def _headline_section(summary: dict[str, Any]) -> list[str]:
    head, solve = summary["headline"], summary["solve"]
    lines = [
        "## Headline threshold",
        "",
        f"**exact_match: {head['threshold_text']}** FLOPs ({head['method'].replace('_', ' ')}). Why: {head['why']}.",
        "",
        f"Solve probability per size (exact match ≥ {solve['level']:g}; Wilson 95 % interval):",
        "",
    ]
    rows = [[row["model"], flops(row["flops"]), f"{row['solved']} / {row['n']}",
             f"{row['fraction']:.2f} [{row['wilson'][0]:.2f}, {row['wilson'][1]:.2f}]"] for row in solve["per_size"]]
    lines += table(["model", "compute (FLOPs)", "solved / seeds", "fraction [95 %]"], rows)
    return lines + (["", f"Note: {solve['note']}."] if solve["note"] else [])


FITS_TEXT = (
    "Sigmoid of each final metric against log10(training FLOPs) over the completed runs, floor and "
    "ceiling bounded to the metric's range; the threshold is the midpoint. Intervals (95 %) resample "
    "whole seeds and are widened to cover what another seed set of the same size would give; an end "
    "beyond the swept compute reads `< smallest` / `> largest`. A fit whose 10–90 % width reaches the "
    "swept range is *gradual* and has no threshold. Breakthroughness is BIG-bench's I(y) / "
    "max(sqrt(median(Δy²)), resolution) over the family medians ordered by compute (resolution = "
    "1/eval_size), signed so that improvement is positive (edit_distance and loss are negated)."
)


def _fits_section(summary: dict[str, Any]) -> list[str]:
    rows = []
    for metric, fit in summary["fits"].items():
        b = fit["breakthroughness"]
        rows.append([
            metric,
            fit["threshold_text"],
            "—" if b is None else f"{b:.1f}",
            f"{number(fit['floor'])} → {number(fit['ceiling'])} {_bounds(fit)}" if fit["floor"] is not None else "—",
            number(fit["width_decades"], 2),
            fit_note(fit),
        ])
    header = ["metric", "threshold (FLOPs) [95 %]", "breakthroughness", "floor → ceiling (range)",
              "width (decades)", "note"]
    return ["## Sigmoid fits, every metric", "", FITS_TEXT, "", *table(header, rows)]


def extra_figures(summary: dict[str, Any]) -> list[str]:
    """The figures a single-task report writes beside the three it always writes, in summary.md's order."""
    return [*(["training.png"] if summary.get("grok") is not None else []),
            *(["data_scaling.png"] if summary.get("data_scaling") else []),
            *(["resolution.png"] if summary.get("resolution") else [])]


def summary_markdown(summary: dict[str, Any]) -> str:
    """The readable twin of summary.json."""
    lines = [f"# Sweep report: {summary['sweep']}", "", *missing_section(summary), "", *_family_section(summary),
             "", *_headline_section(summary), "", *_fits_section(summary)]
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
    lines += ["", *(f"![{name}]({name})" for name in (*FIGURES, *extra_figures(summary))), ""]
    return "\n".join(lines)
