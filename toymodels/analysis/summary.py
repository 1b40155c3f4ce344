"""What `summary.json` holds: the family table, each metric's bounded sigmoid, the solve probability.

Two thresholds per sweep. The sigmoid of each final metric against log10 compute (floor and
ceiling inside the metric's possible range) is kept for every metric. For exact match the headline
is the *solve-probability* threshold: per size, the fraction of seeds whose exact match reaches a
stated level (0.9), with Wilson intervals, and a logistic regression of solved-or-not on log10
compute, whose 50 % crossing is the threshold. Near the threshold a run either escapes its loss
plateau or stays on it, so the median of a few seeds jumps with whichever seeds escaped; the solve
fraction is the quantity that has a binomial error bar. Every interval resamples whole seeds and is
widened to cover what another seed set would give (`fits.replication_interval`).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np

from toymodels.analysis import fits
from toymodels.analysis.sweep import RunRecord, Sweep, num
from toymodels.runs.records import LOWER_IS_BETTER, METRICS

SOLVE_LEVEL = 0.9
UNIT_INTERVAL = ("exact_match", "digit_accuracy", "token_accuracy", "answer_prob")
DEFAULT_EVAL_SIZE = 1000  # resolution fallback for runs that did not record their eval size


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def metric_bounds(metric: str, answer_length: int | None = None) -> tuple[float, float]:
    """The range a metric can take: accuracies and answer_prob in [0, 1], answer_logprob <= 0, loss >= 0,
    edit_distance in [0, answer length]."""
    if metric in UNIT_INTERVAL or metric.startswith(("carries_acc_", "pos_acc_")):
        return 0.0, 1.0
    if metric == "answer_logprob":
        return -math.inf, 0.0
    if metric == "edit_distance":
        return 0.0, float(answer_length) if answer_length else math.inf
    return 0.0, math.inf  # loss


def flops_text(log_flops: float | None, side: str | None = None) -> str:
    """`7.4e+11`, `< 1.3e+10` (below the swept range) or `> 2.7e+12`, `—` for none."""
    if log_flops is None or (isinstance(log_flops, float) and math.isnan(log_flops)):
        return "—"
    return f"{'< ' if side == 'below' else '> ' if side == 'above' else ''}{10.0**log_flops:.2e}"


def threshold_entry(
    x_hat: float | None, side: str | None, interval: tuple[float, float] | None, x_range: tuple[float, float]
) -> dict[str, Any]:
    """The reported threshold: a number only inside the swept range, an interval whose ends are null
    where they fall outside it, and the readable text of both."""
    lo, hi = x_range
    entry: dict[str, Any] = {"threshold_flops": None, "threshold_ci": None, "side": side}
    if side:
        entry["threshold_text"] = flops_text(lo if side == "below" else hi, side) + f" ({side} the swept range)"
        return entry
    if x_hat is None:
        entry["threshold_text"] = "none"
        return entry
    entry["threshold_flops"] = float(10.0**x_hat)
    text = flops_text(x_hat)
    if interval is not None:
        low, high = interval
        entry["threshold_ci"] = [
            float(10.0**low) if math.isfinite(low) else None,
            float(10.0**high) if math.isfinite(high) else None,
        ]
        ends = (
            flops_text(lo, "below") if not math.isfinite(low) else flops_text(low),
            flops_text(hi, "above") if not math.isfinite(high) else flops_text(high),
        )
        text += " [{}, {}]".format(*ends)
    entry["threshold_text"] = text
    return entry


def family_table(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Per model name (completed runs only), ordered by median compute: size, seeds, metric median/min/max."""
    by_model: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.status == "completed":
            by_model.setdefault(run.model, []).append(run)
    families = []
    for model, members in by_model.items():
        params = [p for r in members if (p := num(r.info.get("non_embedding_params"))) is not None]
        entry: dict[str, Any] = {
            "model": model,
            "non_embedding_params": int(np.median(params)) if params else None,
            "flops": _median([r.flops for r in members if r.flops is not None]),
            "n_seeds": len(members),
            "seeds": sorted(r.seed for r in members if r.seed is not None),
        }
        for metric in METRICS:
            values = [v for r in members if (v := r.metric(metric)) is not None]
            entry[metric] = {"median": _median(values), "min": min(values), "max": max(values)} if values else None
        families.append(entry)
    return sorted(families, key=lambda f: (f["flops"] is None, f["flops"] or 0.0, f["model"]))


def _sizes(families: list[dict[str, Any]]) -> np.ndarray:
    return np.log10([f["flops"] for f in families if f["flops"]])


def _one_seed_per_size(runs: list[RunRecord]) -> bool:
    return max(Counter(r.model for r in runs).values(), default=0) < 2 or len({r.group for r in runs}) < 2


def resolution(runs: list[RunRecord]) -> float:
    """The smallest change the evaluation resolves: one held-out problem, 1/eval_size (see docs/forecasting.md)."""
    sizes = [s for r in runs if (s := r.eval_size)]
    return 1.0 / (float(np.median(sizes)) if sizes else DEFAULT_EVAL_SIZE)


def fit_metric(
    runs: list[RunRecord], families: list[dict[str, Any]], metric: str, seed: int = 0, n_resamples: int = 500
) -> dict[str, Any]:
    """Bounded sigmoid threshold, seed-bootstrap interval and breakthroughness of one metric.

    Breakthroughness is taken on the metric oriented so that improvement is positive (edit_distance
    and loss are negated), so its sign means the same thing for every metric.
    """
    done = [r for r in runs if r.status == "completed" and r.flops and r.metric(metric) is not None]
    x = np.log10([r.flops for r in done]) if done else np.zeros(0)
    y = np.array([r.metric(metric) for r in done])
    lengths = [n for r in done if (n := r.answer_length)]
    bounds = metric_bounds(metric, max(lengths) if lengths else None)
    fit = fits.fit_sigmoid(x, y, bounds)
    interval, note = None, fit.note
    if fit.ok:
        sizes = _sizes(family_table(done))
        draws = (
            None
            if _one_seed_per_size(done)
            else fits.bootstrap_x0(x, y, [r.group for r in done], bounds, n_resamples, seed)
        )
        if draws is None:
            note = "one seed per size: no interval"
        else:
            interval = fits.replication_interval(fit.x0, draws, len({r.group for r in done}), sizes, fit.width_decades)
    x_range = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    entry = threshold_entry(fit.x0 if fit.ok else None, fit.side, interval, x_range)
    medians = [f[metric]["median"] for f in families if f.get(metric) is not None]
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    floor, ceiling = fit.floor, fit.ceiling
    if floor is None and done:  # no fit: report what the smallest and largest compute reached
        floor, ceiling = float(y[np.argmin(x)]), float(y[np.argmax(x)])
    step = resolution(done) if done else 1.0 / DEFAULT_EVAL_SIZE
    entry.update(
        {
            "breakthroughness": fits.breakthroughness(sign * np.array(medians), step) if medians else None,
            "breakthroughness_resolution": step,
            "floor": floor,
            "ceiling": ceiling,
            "bounds": [None if not math.isfinite(b) else b for b in bounds],
            "width_decades": fit.width_decades,
            "sigmoid": {"x0": fit.x0, "scale": fit.scale} if fit.x0 is not None else None,
            "n_points": fit.n_points,
            "ok": fit.ok,
            "gradual": fit.gradual,
            "note": note,
            "higher_is_better": metric not in LOWER_IS_BETTER,
        }
    )
    return entry


def solve_threshold(
    runs: list[RunRecord], level: float = SOLVE_LEVEL, seed: int = 0, n_resamples: int = 1000
) -> dict[str, Any]:
    """Per size, the fraction of seeds with exact match >= level (Wilson 95 %), and the compute where a
    logistic regression of solved-or-not on log10 compute crosses 0.5, with a seed-bootstrap interval."""
    done = [r for r in runs if r.status == "completed" and r.flops and r.metric("exact_match") is not None]
    families = family_table(done)
    per_size = []
    for fam in families:
        members = [r for r in done if r.model == fam["model"]]
        k = sum(r.metric("exact_match") >= level for r in members)
        low, high = fits.wilson_interval(k, len(members))
        per_size.append(
            {
                "model": fam["model"],
                "flops": fam["flops"],
                "n": len(members),
                "solved": k,
                "fraction": k / len(members),
                "wilson": [low, high],
            }
        )
    result: dict[str, Any] = {"level": level, "per_size": per_size, "width_decades": None, "logistic": None, "note": ""}
    x = np.log10([r.flops for r in done]) if done else np.zeros(0)
    k = np.array([float(r.metric("exact_match") >= level) for r in done])
    x_range = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if len(families) < 3:
        result.update(threshold_entry(None, None, None, x_range), note="fewer than 3 sizes")
        return result
    if k.sum() in (0, k.size):
        side = "above" if k.sum() == 0 else "below"
        what = "no run reaches" if side == "above" else "every run reaches"
        result.update(threshold_entry(None, side, None, x_range), note=f"{what} exact match >= {level:g}")
        return result
    a, b = fits.logistic_regression(x, k, np.ones_like(k), np.ones((1, k.size)))
    if b[0] <= 0:
        result.update(threshold_entry(None, None, None, x_range), note="solving does not become likelier with compute")
        return result
    x_hat, width = float(-a[0] / b[0]), fits.WIDTH_10_90 / float(b[0])
    result["width_decades"] = width
    result["logistic"] = {"x0": x_hat, "slope_per_decade": float(b[0])}
    side = "below" if x_hat <= x_range[0] else "above" if x_hat >= x_range[1] else None
    interval = None
    weights = None if _one_seed_per_size(done) else fits.seed_weights([r.group for r in done], n_resamples, seed)
    if weights is None:
        result["note"] = "one seed per size: no interval"
    elif side is None:
        a_r, b_r = fits.logistic_regression(x, k, np.ones_like(k), weights)
        solved = weights @ k
        draws = np.where(b_r > 0, -a_r / np.where(b_r > 0, b_r, 1.0), np.nan)
        draws = np.where(solved == 0, np.inf, np.where(solved == weights.sum(1), -np.inf, draws))
        draws = np.where(draws <= x_range[0], -np.inf, np.where(draws >= x_range[1], np.inf, draws))
        se = fits.logistic_threshold_se(x, np.ones_like(k), float(a[0]), float(b[0]))
        interval = fits.replication_interval(x_hat, draws, len({r.group for r in done}), _sizes(families), width,
                                             std_error=se)
        result["std_error_decades"] = se
    result.update(threshold_entry(None if side else x_hat, side, interval, x_range))
    return result


def headline(fits_by_metric: dict[str, Any], solve: dict[str, Any]) -> dict[str, Any]:
    """The one threshold the report leads with: the solve probability's when it could be fitted."""
    use_solve = solve["note"] != "fewer than 3 sizes"
    source = solve if use_solve else fits_by_metric["exact_match"]
    why = (
        f"exact match is bimodal across seeds near the threshold (a run escapes its loss plateau or not), so "
        f"the headline is where half the seeds reach exact match >= {solve['level']:g}: a fraction with a "
        "binomial error bar, not a sigmoid through the median of a few seeds"
        if use_solve
        else "fewer than 3 sizes: the sigmoid fit's answer (which says why there is no threshold)"
    )
    keys = ("threshold_flops", "threshold_ci", "threshold_text", "side")
    return {
        "metric": "exact_match",
        "method": "solve_probability" if use_solve else "sigmoid",
        "level": solve["level"],
        **{k: source.get(k) for k in keys},
        "why": why,
    }


def as_log10(entry: dict[str, Any]) -> tuple[float, float, float]:
    """(threshold, low, high) in log10 FLOPs; ±inf for "below/above the swept range", NaN for none."""
    side = entry.get("side")
    if side:
        x = -math.inf if side == "below" else math.inf
        return x, x, x
    if entry.get("threshold_flops") is None:
        return math.nan, math.nan, math.nan
    ci = entry.get("threshold_ci") or [entry["threshold_flops"], entry["threshold_flops"]]
    low = math.log10(ci[0]) if ci[0] is not None else -math.inf
    high = math.log10(ci[1]) if ci[1] is not None else math.inf
    return math.log10(entry["threshold_flops"]), low, high


def split_half_check(
    sweep: Sweep, metric: str = "exact_match", level: float = SOLVE_LEVEL, max_splits: int = 20, seed: int = 0,
    per_set: int | None = None,
) -> dict[str, Any]:
    """Split the seeds into disjoint halves, many ways; does each half's threshold lie in the other's interval?

    The reported interval claims to cover what another seed set would give; this is that claim tested
    on the sweep itself. exact_match uses the headline (solve-probability) threshold, other metrics
    the sigmoid. Needs at least 4 seeds (2 per half). With `per_set`, two disjoint sets of that many
    seeds each are drawn at random (up to max_splits pairs): how many seeds make a threshold reproducible.
    """
    runs = [r for r in sweep.runs if r.status == "completed" and r.seed is not None]
    seeds = sorted({r.seed for r in runs})
    result: dict[str, Any] = {"metric": metric, "n_seeds": len(seeds), "splits": []}
    half = per_set or len(seeds) // 2
    if half < 2 or len(seeds) < 2 * half:
        result["note"] = f"{len(seeds)} seeds: two disjoint sets of {max(half, 2)} need at least {2 * max(half, 2)}"
        return result
    rng = np.random.default_rng(seed)
    if per_set is None:
        pairs = [(c, tuple(s for s in seeds if s not in c)) for c in itertools.combinations(seeds, half)
                 if seeds[0] in c or len(seeds) != 2 * half]
        if len(pairs) > max_splits:
            pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), max_splits, replace=False))]
    else:
        pairs = []
        for _ in range(max_splits):
            order = [int(s) for s in rng.permutation(seeds)]
            pairs.append((tuple(sorted(order[:half])), tuple(sorted(order[half : 2 * half]))))
    for first, second in pairs:
        halves = [[r for r in runs if r.seed in chosen] for chosen in (first, second)]
        estimates = []
        for members in halves:
            if metric == "exact_match":
                entry = solve_threshold(members, level, seed=seed, n_resamples=400)
            else:
                entry = fit_metric(members, family_table(members), metric, seed=seed, n_resamples=400)
            estimates.append(entry)
        (xa, la, ha), (xb, lb, hb) = (as_log10(e) for e in estimates)
        result["splits"].append(
            {
                "seeds_a": list(first),
                "seeds_b": list(second),
                "a": estimates[0]["threshold_text"],
                "b": estimates[1]["threshold_text"],
                "a_in_b": bool(lb <= xa <= hb),
                "b_in_a": bool(la <= xb <= ha),
                # Wide enough intervals always cover each other: an interval open at an end of the
                # swept range says little, so count the splits whose two intervals are both closed.
                "closed": bool(np.isfinite([la, ha, lb, hb]).all()),
            }
        )
    both = [s["a_in_b"] and s["b_in_a"] for s in result["splits"]]
    result["fraction_mutually_covered"] = float(np.mean(both))
    closed = [s["closed"] for s in result["splits"]]
    result["fraction_closed"] = float(np.mean(closed))
    result["note"] = (f"{sum(both)} of {len(both)} splits: each half's threshold inside the other half's interval; "
                      f"in {sum(closed)} both intervals lie inside the swept range")
    return result


def _describe(run: RunRecord) -> str:
    """One readable line on why a run is not in the fits."""
    step, max_steps = run.info.get("step"), run.info.get("max_steps")
    progress = f" at step {step}/{max_steps}" if step is not None and max_steps is not None else ""
    message = f": {run.info['message']}" if run.info.get("message") else ""
    label = {"running": "still running", "failed": "failed", "diverged": "diverged"}[run.status]
    return f"{run.name}: {label}{progress}{message}"


def _run_entry(run: RunRecord) -> dict[str, Any]:
    keys = ("model", "seed", "d_model", "n_layer", "params", "non_embedding_params", "flops", "flops_6nd", "tokens")
    entry: dict[str, Any] = {"name": run.name, "status": run.status}
    for key in keys:
        value = run.info.get(key)
        entry[key] = value if isinstance(value, str) or num(value) is not None else None
    entry.update({metric: run.metric(metric) for metric in METRICS})
    return entry


def chance_level(runs: list[RunRecord], metric: str) -> float | None:
    """The chance floor of a metric as the runs record it (median over runs), None if not recorded."""
    chances = [r.info["chance"] for r in runs if isinstance(r.info.get("chance"), dict)]
    return _median([v for chance in chances if (v := num(chance.get(metric))) is not None])


def summarize(sweep: Sweep, seed: int = 0, solve_level: float = SOLVE_LEVEL) -> dict[str, Any]:
    """Everything `summary.json` holds, JSON-ready (no NaN: missing numbers are None)."""
    missing = list(sweep.problems) + [_describe(r) for r in sweep.runs if r.status != "completed"]
    missing.sort(key=lambda line: line.split(":", 1)[0])  # folder order, like the sweep on disk
    if sweep.n_expected is not None and sweep.n_folders < sweep.n_expected:
        missing.append(f"{sweep.n_expected - sweep.n_folders} of {sweep.n_expected} expected runs have no folder")
    labels = Counter(str(r.info["task_label"]) for r in sweep.runs if r.info.get("task_label"))
    families = family_table(sweep.runs)
    fits_by_metric = {metric: fit_metric(sweep.runs, families, metric, seed=seed) for metric in METRICS}
    solve = solve_threshold(sweep.runs, solve_level, seed=seed)
    return {
        "sweep": sweep.name,
        "sweep_dir": str(sweep.path),
        "task_label": " + ".join(label for label, _ in labels.most_common()) or None,
        "n_runs_expected": sweep.n_expected,
        "n_runs_found": sweep.n_folders,
        "n_completed": len(sweep.completed),
        "missing": missing,
        "chance": {metric: chance_level(sweep.runs, metric) for metric in ("exact_match", "digit_accuracy")},
        "runs": [_run_entry(r) for r in sweep.runs],
        "families": families,
        "headline": headline(fits_by_metric, solve),
        "solve": solve,
        "fits": fits_by_metric,
    }
