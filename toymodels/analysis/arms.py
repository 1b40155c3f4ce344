"""Arms: a sweep's axes other than model and seed split it into families compared with each other.

An *arm* is one value of the sweep's other axes (``task.format=scratchpad``, ``model.pos_embedding=
abacus``, ``train.lr=0.001``...): its runs make one family curve. Each arm is summarised exactly as a
one-arm sweep is (`summary.summarize`: the headline solve-probability threshold with its replication
interval, a sigmoid per metric), and arms are compared two ways:

- the **shift** of the threshold from the first arm to each other arm, in decades of compute, with an
  interval from a *paired* bootstrap over seeds (one draw of seeds resamples every arm's runs of
  those seeds), widened as the thresholds' own intervals are (`replication_interval`): the spread
  another seed set would give;
- **crossovers**: compute where one arm's family curve (the median over seeds per size,
  piecewise linear in log10 compute) overtakes another's. A crossover is reported only where the
  difference between the curves changes sign and exceeds a tolerance on both sides (the larger of
  two held-out problems and the curves' seed spread), so noise never makes one; none found reads
  "none in range".

Which runs form which arm (the sweep's axes, `split_arms`, `ArmError`) is `arm_axes`'s, re-exported
here. Pure NumPy, no torch.
"""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist
from typing import Any

import numpy as np

from toymodels.analysis import fits
from toymodels.analysis import summary as summaries
from toymodels.analysis.arm_axes import ArmError, run_value, split_arms  # the arm detection, re-exported here
from toymodels.analysis.sweep import RunRecord, Sweep, num

DEFAULT_CONTINUOUS = "digit_accuracy"
X_AXES = ("train_flops", "total_flops")
__all__ = ["ArmError", "split_arms", "summarize_arms", "with_x_axis", "crossovers", "threshold_shift"]


# ----------------------------------------------------------------------------- the compute axis


def with_x_axis(runs: list[RunRecord], x: str, problems: int | None = None) -> list[RunRecord]:
    """Runs whose `flops` is the chosen compute: training FLOPs, or training plus inference FLOPs
    (inference_flops_per_problem × problems answered: `problems`, or each run's eval_size)."""
    if x == "train_flops":
        return runs
    out = []
    for run in runs:
        per_problem = num(run.info.get("inference_flops_per_problem"))
        if per_problem is None:
            raise ArmError(f"{run.name} records no inference_flops_per_problem (trained before it was recorded): "
                           "use --x train_flops")
        n = problems if problems is not None else (run.eval_size or summaries.DEFAULT_EVAL_SIZE)
        info = dict(run.info)
        if run.flops is not None:
            info["flops"] = run.flops + per_problem * n
        out.append(replace(run, info=info))
    return out


# ----------------------------------------------------------------------------- shifts


def _log_threshold(entry: dict[str, Any]) -> tuple[float | None, str | None]:
    if entry.get("threshold_flops") is not None:
        return math.log10(entry["threshold_flops"]), None
    return None, entry.get("side")


def _solve_draws(runs: list[RunRecord], weights: np.ndarray, level: float) -> np.ndarray:
    """Solve-probability thresholds (log10) of weighted resamples; ±inf where none/all solve, NaN if no rise."""
    x = np.log10([r.flops for r in runs])
    k = np.array([float(r.metric("exact_match") >= level) for r in runs])
    a, b = fits.logistic_regression(x, k, np.ones_like(k), weights)
    draws = np.where(b > 0, -a / np.where(b > 0, b, 1.0), np.nan)
    solved = weights @ k
    draws = np.where(solved == 0, np.inf, np.where(solved == weights.sum(1), -np.inf, draws))
    return np.where(draws <= x.min(), -np.inf, np.where(draws >= x.max(), np.inf, draws))


def _sigmoid_draws(runs: list[RunRecord], metric: str, weights: np.ndarray) -> np.ndarray:
    """Sigmoid midpoints (log10) of weighted resamples, ±inf outside the arm's compute range."""
    x = np.log10([r.flops for r in runs])
    y = np.array([r.metric(metric) for r in runs])
    lengths = [n for r in runs if (n := r.answer_length)]
    bounds = summaries.metric_bounds(metric, max(lengths) if lengths else None)
    z, zb, _, _ = fits.standardise(y, bounds)
    sw = weights.sum(1)
    flat = weights @ z**2 / sw - (weights @ z / sw) ** 2 < 1e-12
    x0 = np.full(len(weights), np.nan)
    if (~flat).any():
        x0[~flat] = fits.fit_rows(x, z, weights[~flat], zb)[0]
    return np.where(x0 <= x.min(), -np.inf, np.where(x0 >= x.max(), np.inf, x0))


def _done(runs: list[RunRecord], metric: str) -> list[RunRecord]:
    return [r for r in runs if r.status == "completed" and r.flops and r.metric(metric) is not None]


def threshold_shift(
    first: list[RunRecord], second: list[RunRecord], entries: tuple[dict, dict], metric: str,
    level: float = summaries.SOLVE_LEVEL, n_resamples: int = 400, seed: int = 0, labels: tuple = ("", ""),
) -> dict[str, Any]:
    """Shift (decades) from the first arm's threshold to the second's, with a paired seed-bootstrap interval."""
    out: dict[str, Any] = {"from": labels[0], "to": labels[1], "metric": metric, "shift_decades": None,
                           "ci": None, "note": ""}
    (xa, side_a), (xb, side_b) = (_log_threshold(e) for e in entries)
    if xa is None or xb is None:
        what = [f"{lab}: {e.get('threshold_text', 'none')}" + (f" ({e['note']})" if e.get("note") else "")
                for lab, e in zip(labels, entries) if e.get("threshold_flops") is None]
        out["note"] = "no shift: an arm has no threshold inside its swept range (" + "; ".join(what) + ")"
        a_done, b_done = _done(first, metric), _done(second, metric)
        if xa is not None and side_b and b_done:  # the bound the data do give
            edge = math.log10(max(r.flops for r in b_done) if side_b == "above" else min(r.flops for r in b_done))
            out["bound"] = {"side": ">" if side_b == "above" else "<", "decades": edge - xa}
        elif xb is not None and side_a and a_done:
            edge = math.log10(max(r.flops for r in a_done) if side_a == "above" else min(r.flops for r in a_done))
            out["bound"] = {"side": "<" if side_a == "above" else ">", "decades": xb - edge}
        return out
    shift = xb - xa
    out["shift_decades"] = shift
    key = "exact_match" if metric == "exact_match" else metric
    a_runs, b_runs = _done(first, key), _done(second, key)
    groups = [r.group for r in a_runs] + [r.group for r in b_runs]
    weights = fits.seed_weights(groups, n_resamples, seed)  # one seed draw for both arms: paired
    if weights is None or len({r.group for r in a_runs}) < 2 or len({r.group for r in b_runs}) < 2:
        out["note"] = "one seed per size: no interval"
        return out
    wa, wb = weights[:, : len(a_runs)], weights[:, len(a_runs):]
    keep = (wa.sum(1) > 0) & (wb.sum(1) > 0)
    if metric == "exact_match":
        da, db = _solve_draws(a_runs, wa[keep], level), _solve_draws(b_runs, wb[keep], level)
    else:
        da, db = _sigmoid_draws(a_runs, metric, wa[keep]), _sigmoid_draws(b_runs, metric, wb[keep])
    with np.errstate(invalid="ignore"):
        draws = db - da
    draws = draws[~np.isnan(draws)]
    n_seeds = len(set(groups))
    se = math.hypot(*(e.get("std_error_decades") or 0.0 for e in entries))
    out["ci"] = list(shift_interval(shift, draws, n_seeds, se))
    out["n_resamples"] = int(draws.size)
    return out


def shift_interval(shift: float, draws: np.ndarray, n_seeds: int, std_error: float = 0.0,
                   level: float = 0.95) -> tuple[float | None, float | None]:
    """The 95 % interval (decades) of the shift another seed set would give: bootstrap percentiles around the
    estimate (or the thresholds' parametric standard error, whichever is wider), widened by sqrt(n/(n-1))
    and sqrt(2) as `fits.replication_interval` does. An end is None (open) where the draws' tail is
    infinite (a resample's threshold left its swept range)."""
    if draws.size == 0:
        return None, None
    tail = 50.0 * (1.0 - level)
    q_lo = float(np.percentile(draws, tail, method="lower"))
    q_hi = float(np.percentile(draws, 100.0 - tail, method="higher"))
    z = NormalDist().inv_cdf(1.0 - tail / 100.0)
    grow = math.sqrt(2.0) * math.sqrt(n_seeds / max(n_seeds - 1, 1))
    low = shift - max(grow * max(shift - q_lo, 0.0), math.sqrt(2.0) * z * std_error) if math.isfinite(q_lo) else None
    high = shift + max(grow * max(q_hi - shift, 0.0), math.sqrt(2.0) * z * std_error) if math.isfinite(q_hi) else None
    return low, high


# ----------------------------------------------------------------------------- crossovers


def family_curve(families: list[dict[str, Any]], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log10 compute, median, half the min–max spread over seeds) per size, ordered by compute."""
    rows = [(math.log10(f["flops"]), f[metric]["median"], (f[metric]["max"] - f[metric]["min"]) / 2)
            for f in families if f.get("flops") and f.get(metric) and f[metric]["median"] is not None]
    rows.sort()
    return tuple(np.array([r[i] for r in rows], dtype=float) for i in range(3))  # type: ignore[return-value]


def crossovers(curves: dict[str, tuple], metric: str, resolution: float, higher_is_better: bool = True
               ) -> list[dict[str, Any]]:
    """Where one arm's family curve overtakes another's, for every pair of arms, inside their common compute range.

    The curves are piecewise linear in log10 compute; their difference is taken at every size of
    either arm in the overlap. A crossover needs the leader to change, with the difference beyond the
    tolerance (max of 2 × resolution and the local seed spread of both curves) on both sides; its
    compute is where the linearly interpolated difference is zero between the two sides.
    """
    out = []
    labels = list(curves)
    sign = 1.0 if higher_is_better else -1.0
    for i, first in enumerate(labels):
        for second in labels[i + 1:]:
            (xa, ya, sa), (xb, yb, sb) = curves[first], curves[second]
            if xa.size < 2 or xb.size < 2:
                continue
            lo, hi = max(xa.min(), xb.min()), min(xa.max(), xb.max())
            grid = np.unique(np.concatenate([xa, xb]))
            grid = grid[(grid >= lo - 1e-12) & (grid <= hi + 1e-12)]
            if grid.size < 2:
                continue
            diff = sign * (np.interp(grid, xb, yb) - np.interp(grid, xa, ya))  # > 0: the second arm leads
            tol = np.maximum(2 * resolution, np.interp(grid, xa, sa) + np.interp(grid, xb, sb))
            state = np.where(diff > tol, 1, np.where(diff < -tol, -1, 0))
            clear = np.flatnonzero(state)
            for j, k in zip(clear[:-1], clear[1:]):
                if state[j] == state[k]:
                    continue
                # The zero of the interpolated difference between the two clear sides (the last sign change).
                seg = np.arange(j, k)
                cross = [m for m in seg if np.sign(diff[m]) != np.sign(diff[m + 1]) or diff[m + 1] == 0]
                m = cross[-1] if cross else j
                t = diff[m] / (diff[m] - diff[m + 1]) if diff[m] != diff[m + 1] else 0.0
                x_cross = grid[m] + t * (grid[m + 1] - grid[m])
                leader_below, leader_above = (second, first) if state[j] > 0 else (first, second)
                out.append({"arms": [first, second], "metric": metric, "flops": float(10.0**x_cross),
                            "below": leader_below, "above": leader_above,
                            "text": f"{leader_above} overtakes {leader_below} at {10.0**x_cross:.2e} FLOPs"})
    return out


# ----------------------------------------------------------------------------- the summary's `arms`


def _headline_entry(arm: dict[str, Any]) -> dict[str, Any]:
    """An arm's headline threshold, with the solve fit's standard error when the headline is the solve probability."""
    entry = dict(arm["headline"])
    if entry.get("method") == "solve_probability":
        entry["std_error_decades"] = arm["solve"].get("std_error_decades")
    return entry


def summarize_arms(
    sweep: Sweep, arm_axis: list[str] | None = None, continuous: str = DEFAULT_CONTINUOUS, x: str = "train_flops",
    solve_level: float = summaries.SOLVE_LEVEL, seed: int = 0,
) -> dict[str, Any] | None:
    """summary.json's `arms` (None for a one-arm sweep): per arm its families, fits, solve probability and
    headline, keyed by labels `key=value` (so never a reserved key), plus `arm_axis`, `x`, `metrics`,
    `shifts` (from the first arm to each other, per metric) and `crossovers` (every pair, per metric).
    The sweep's runs already carry the compute of axis `x` (`with_x_axis`); `x` is recorded."""
    axes, arms = split_arms(sweep, arm_axis)
    if len(arms) < 2:
        return None
    out: dict[str, Any] = {"arm_axis": ", ".join(axes), "x": x, "metrics": ["exact_match", continuous],
                           "labels": list(arms)}
    runs_by_arm = {}
    for label, runs in arms.items():
        runs_by_arm[label] = runs
        part = Sweep(name=f"{sweep.name} [{label}]", path=sweep.path, runs=runs, n_folders=len(runs))
        s = summaries.summarize(part, seed=seed, solve_level=solve_level)
        out[label] = {key: s[key] for key in ("task_label", "n_completed", "families", "solve", "headline", "fits")}
        out[label]["values"] = {k: run_value(runs[0], k) for k in axes}
    shifts, crossings = [], []
    base = out["labels"][0]
    for label in out["labels"][1:]:
        pair = (runs_by_arm[base], runs_by_arm[label])
        heads = (_headline_entry(out[base]), _headline_entry(out[label]))
        shifts.append(threshold_shift(*pair, heads, "exact_match", solve_level, seed=seed, labels=(base, label)))
        shifts.append(threshold_shift(*pair, (out[base]["fits"][continuous], out[label]["fits"][continuous]),
                                      continuous, seed=seed, labels=(base, label)))
    resolution = summaries.resolution([r for runs in runs_by_arm.values() for r in runs])
    for metric in out["metrics"]:
        curves = {label: family_curve(out[label]["families"], metric) for label in out["labels"]}
        crossings += crossovers(curves, metric, resolution, higher_is_better=metric not in summaries.LOWER_IS_BETTER)
    out["shifts"], out["crossovers"] = shifts, crossings
    return out
