"""Sweep analysis: reading run folders, sigmoid thresholds, bootstrap intervals, breakthroughness.

This module owns everything the report computes, as pure functions over NumPy arrays and the records
that training leaves on disk (`run.json`, `metrics.csv`, Hydra's `multirun.yaml`). It never imports the
model or the training stack, so a sweep can be analysed on a machine without torch. Plotting and
writing files belong to `toymodels.report`.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

METRICS = ("exact_match", "digit_accuracy", "edit_distance", "answer_logprob", "token_accuracy", "loss")
CONTINUOUS_METRICS = ("digit_accuracy", "edit_distance", "answer_logprob", "token_accuracy")
LOWER_IS_BETTER = frozenset({"edit_distance", "loss"})
STATUSES = ("running", "completed", "failed", "diverged")

# The logistic's 10 %-90 % rise spans 2*ln(9) scale units; `width_decades` reports that span.
WIDTH_10_90 = 2.0 * math.log(9.0)
GRADUAL_NOTE = "width at its upper bound: a gradual trend, no sharp transition within the sweep"


class SweepError(Exception):
    """The sweep folder cannot be reported at all (missing, not a folder, no run folders)."""


# ----------------------------------------------------------------------------- reading run folders


def _num(value: Any) -> float | None:
    """A finite float from a JSON value, or None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class Run:
    """One run folder and its parsed `run.json`."""

    name: str
    path: Path
    info: dict[str, Any]

    @property
    def status(self) -> str:
        return self.info["status"]

    @property
    def model(self) -> str:
        return self.info["model"]

    @property
    def seed(self) -> int | None:
        seed = self.info.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def flops(self) -> float | None:
        return _num(self.info.get("flops"))

    def metric(self, name: str) -> float | None:
        """Final value of a metric, None when absent or not finite."""
        metrics = self.info.get("metrics")
        return _num(metrics.get(name)) if isinstance(metrics, dict) else None


@dataclass
class Sweep:
    """A sweep folder: its parsed runs and the folders that could not be used."""

    name: str
    path: Path
    runs: list[Run]
    problems: list[str] = field(default_factory=list)  # corrupt / unstarted run folders, readable
    n_folders: int = 0
    n_expected: int | None = None

    @property
    def completed(self) -> list[Run]:
        return [r for r in self.runs if r.status == "completed"]


def is_run_dir(path: Path) -> bool:
    """A run folder holds `run.json` or Hydra's `.hydra/` (so `wandb/` and the like are skipped)."""
    return path.is_dir() and ((path / "run.json").is_file() or (path / ".hydra").is_dir())


def load_run(run_dir: Path) -> Run:
    """Parse a run folder's `run.json`; raise ValueError with a readable reason if it is unusable."""
    try:
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"unreadable run.json ({err})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON in run.json ({err})") from None
    if not isinstance(info, dict):
        raise ValueError(f"run.json holds a {type(info).__name__}, not an object")
    if info.get("status") not in STATUSES:
        raise ValueError(f"run.json has no valid status (got {info.get('status')!r})")
    if not isinstance(info.get("model"), str):
        raise ValueError("run.json has no model name")
    if info["status"] == "completed":
        if not isinstance(info.get("metrics"), dict):
            raise ValueError("completed run.json has no metrics")
        if not (_num(info.get("flops")) or 0.0) > 0.0:
            raise ValueError("completed run.json has no positive flops")
    return Run(name=run_dir.name, path=run_dir, info=info)


def expected_run_count(multirun_yaml: Path) -> int | None:
    """Runs a Hydra multirun asked for: the product of its sweep axes; None if unknown.

    Axes come from `hydra.sweeper.params` (an experiment's own sweep) and the command-line overrides
    in `hydra.overrides.task`; as in Hydra's basic sweeper, a command-line value replaces the same key.
    """
    try:
        import yaml

        from toymodels.sweeps import count_jobs, sweep_axes

        hydra = yaml.safe_load(multirun_yaml.read_text())["hydra"]
        params = (hydra.get("sweeper") or {}).get("params")
        return count_jobs(sweep_axes(hydra["overrides"]["task"], params))
    except Exception:  # any failure here only means "expected count unknown"
        return None


def load_sweep(sweep_dir: Path | str) -> Sweep:
    """Read every run folder directly under a sweep folder; raise SweepError if there is none."""
    path = Path(sweep_dir)
    if not path.exists():
        raise SweepError(f"no sweep folder at {path}")
    if not path.is_dir():
        raise SweepError(f"{path} is not a directory")
    run_dirs = sorted((p for p in path.iterdir() if is_run_dir(p)), key=lambda p: p.name)
    if not run_dirs:
        raise SweepError(f"no run folders in {path}")
    sweep = Sweep(name=path.resolve().name, path=path.resolve(), runs=[], n_folders=len(run_dirs))
    for run_dir in run_dirs:
        if not (run_dir / "run.json").is_file():
            sweep.problems.append(f"{run_dir.name}: no run.json (not started, or crashed before its first record)")
            continue
        try:
            sweep.runs.append(load_run(run_dir))
        except ValueError as err:
            sweep.problems.append(f"{run_dir.name}: corrupt: {err}")
    if (path / "multirun.yaml").is_file():
        sweep.n_expected = expected_run_count(path / "multirun.yaml")
    return sweep


def read_metrics_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a run's `metrics.csv` as float arrays, rows sorted by flops; ValueError if unusable."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise ValueError(f"unreadable metrics.csv ({err})") from None
    if not rows or "flops" not in rows[0]:
        raise ValueError("metrics.csv has no rows or no flops column")

    def as_float(text: str | None) -> float:
        try:
            return float(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return math.nan

    columns = {name: np.array([as_float(row.get(name)) for row in rows]) for name in rows[0] if name}
    order = np.argsort(columns["flops"], kind="stable")
    return {name: values[order] for name, values in columns.items()}


# ----------------------------------------------------------------------------- sigmoid fit


def sigmoid(x: np.ndarray, floor: float, ceiling: float, x0: float, scale: float) -> np.ndarray:
    """floor + (ceiling - floor) * logistic((x - x0) / scale); x is log10(FLOPs)."""
    z = np.clip((np.asarray(x, dtype=float) - x0) / scale, -60.0, 60.0)
    return floor + (ceiling - floor) / (1.0 + np.exp(-z))


@dataclass
class SigmoidFit:
    """A least-squares sigmoid in log10(FLOPs). floor is the low-compute asymptote, ceiling the high one."""

    ok: bool
    note: str
    n_points: int
    x0: float | None = None  # log10 FLOPs of the midpoint
    scale: float | None = None  # logistic scale, decades
    floor: float | None = None
    ceiling: float | None = None

    @property
    def threshold_flops(self) -> float | None:
        return None if self.x0 is None else float(10.0**self.x0)

    @property
    def width_decades(self) -> float | None:
        return None if self.scale is None else self.scale * WIDTH_10_90


def _grids(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coarse grids: x0 over the compute range plus a margin (to detect out-of-range), scale in decades."""
    span = float(x.max() - x.min())
    margin = 0.1 * span
    return np.linspace(x.min() - margin, x.max() + margin, 161), np.geomspace(span / 100, span / 2, 32)


def _shapes(x: np.ndarray, x0s: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Unit sigmoids at the points for every (x0, scale): (A*B, n) for 1-D grids, (R, A*B, n) for per-row."""
    if x0s.ndim == 1:
        return sigmoid(x, 0.0, 1.0, x0s[:, None, None], scales[None, :, None]).reshape(-1, x.size)
    s = sigmoid(x, 0.0, 1.0, x0s[:, :, None, None], scales[:, None, :, None])
    return s.reshape(len(x0s), -1, x.size)


def _search(
    s: np.ndarray, z: np.ndarray, weights: np.ndarray, x0s: np.ndarray, scales: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares over an (x0, scale) grid, for R weight vectors (rows) at once.

    For fixed (x0, scale) the model is linear in (floor, rise = ceiling - floor), so those two are
    solved in closed form and only the shape is searched. `s` comes from `_shapes` (a grid shared by
    all rows, or one per row). Returns per row the best x0, scale, floor and rise.
    """
    shared = s.ndim == 2
    sw = weights.sum(axis=1, keepdims=True)

    def mean(v: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Weighted mean over the points of t, per row of v and per grid point."""
        return (v @ t.T if shared else np.einsum("rn,rgn->rg", v, t)) / sw

    y_mean = (weights @ z)[:, None] / sw
    s_mean = mean(weights, s)
    var_s = mean(weights, s * s) - s_mean**2
    cov = mean(weights * z, s) - s_mean * y_mean
    # A sigmoid that is constant over the data explains nothing; guard against dividing by ~0.
    usable = var_s > 1e-9
    rise = np.where(usable, cov / np.where(usable, var_s, 1.0), 0.0)
    best = np.argmax(rise * cov, axis=1)  # most variance explained = least residual sum of squares
    rows = np.arange(weights.shape[0])
    grid_row = np.zeros_like(rows) if shared else rows
    x0s, scales = np.atleast_2d(x0s), np.atleast_2d(scales)
    x0, scale = x0s[grid_row, best // scales.shape[1]], scales[grid_row, best % scales.shape[1]]
    rise = rise[rows, best]
    return x0, scale, y_mean[:, 0] - rise * s_mean[rows, best], rise


def _fit_rows(x: np.ndarray, z: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Best (x0, scale, floor, rise) per weight row: a shared coarse grid, then two local zooms per row."""
    x0s, scales = _grids(x)
    coarse = _shapes(x, x0s, scales)
    results = []
    for chunk in np.array_split(weights, max(1, len(weights) // 200)):  # bounds memory to tens of MB
        x0, scale, floor, rise = _search(coarse, z, chunk, x0s, scales)
        step, ratio = x0s[1] - x0s[0], scales[1] / scales[0]
        offsets = np.linspace(-3.0, 3.0, 25)
        for _ in range(2):
            # Clipping keeps every row inside the coarse bounds (a repeated edge value is harmless).
            local_x0 = np.clip(x0[:, None] + step * offsets, x0s[0], x0s[-1])
            local_scale = np.clip(scale[:, None] * ratio ** offsets[::2], scales[0], scales[-1])
            x0, scale, floor, rise = _search(_shapes(x, local_x0, local_scale), z, chunk, local_x0, local_scale)
            step, ratio = step / 4, ratio**0.25
        results.append((x0, scale, floor, rise))
    return tuple(np.concatenate(parts) for parts in zip(*results, strict=True))


def fit_sigmoid(log_flops: np.ndarray, y: np.ndarray) -> SigmoidFit:
    """Fit y = floor + (ceiling - floor) * logistic((x - x0) / scale) to points (x = log10 FLOPs).

    Deterministic grid search (no optimizer, no scipy). Decreasing metrics come out with
    ceiling < floor. ok=False (threshold None) for fewer than 3 distinct x or a flat metric;
    ok=False with the extrapolated threshold kept when the midpoint lies outside the compute range.
    """
    x, y = np.asarray(log_flops, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n == 0:
        return SigmoidFit(ok=False, note="no completed run has this metric", n_points=0)
    if np.unique(x).size < 3:
        return SigmoidFit(ok=False, note="fewer than 3 distinct compute values", n_points=n)
    if float(y.max() - y.min()) < 1e-9:
        return SigmoidFit(ok=False, note="metric is flat across the sweep", n_points=n)
    # Standardise y so the numerical guards do not depend on the metric's units.
    y_mu, y_sd = float(y.mean()), float(y.std())
    x0, scale, floor, rise = (float(v[0]) for v in _fit_rows(x, (y - y_mu) / y_sd, np.ones((1, n))))
    fit = SigmoidFit(
        ok=True,
        note="",
        n_points=n,
        x0=x0,
        scale=scale,
        floor=y_mu + y_sd * floor,
        ceiling=y_mu + y_sd * (floor + rise),
    )
    if not x.min() <= x0 <= x.max():
        side = "below the smallest" if x0 < x.min() else "above the largest"
        fit.ok, fit.note = False, f"midpoint {side} compute in the sweep (extrapolated)"
    elif scale >= _grids(x)[1][-1] * 0.999:
        fit.note = GRADUAL_NOTE
    return fit


def bootstrap_threshold(
    log_flops: np.ndarray, y: np.ndarray, groups: list[str], n_resamples: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """95 % interval (FLOPs) of the sigmoid threshold, resampling each group's runs (seeds) with replacement.

    Every resample is a weighted refit (a run drawn twice has weight 2) with the same search as
    `fit_sigmoid`, vectorised over resamples. Resamples whose values are all equal are skipped.
    """
    x, y = np.asarray(log_flops, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, labels = x[keep], y[keep], np.asarray(groups, dtype=object)[keep]
    if np.unique(x).size < 3 or float(y.max() - y.min()) < 1e-9:
        return None
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_resamples, x.size))
    rows = np.arange(n_resamples)[:, None]
    for label in dict.fromkeys(labels):  # first-seen order keeps the draws deterministic
        members = np.flatnonzero(labels == label)
        draws = members[rng.integers(0, members.size, size=(n_resamples, members.size))]
        np.add.at(weights, (np.broadcast_to(rows, draws.shape), draws), 1.0)
    z = (y - y.mean()) / y.std()
    sw = weights.sum(axis=1)
    flat = weights @ z**2 / sw - (weights @ z / sw) ** 2 < 1e-12
    weights = weights[~flat]
    if weights.shape[0] == 0:
        return None
    x0 = _fit_rows(x, z, weights)[0]
    low, high = np.percentile(x0, [2.5, 97.5])
    return float(10.0**low), float(10.0**high)


def breakthroughness(y: np.ndarray) -> float | None:
    """BIG-bench breakthroughness of a curve ordered by compute: I(y) / sqrt(median((y[i+1] - y[i])**2)).

    I(y) = sign(argmax y - argmin y) * (max y - min y). None for fewer than 2 points or all equal.
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2 or float(y.max() - y.min()) == 0.0:
        return None
    spread = np.sign(int(np.argmax(y)) - int(np.argmin(y))) * (y.max() - y.min())
    return float(spread / max(math.sqrt(float(np.median(np.diff(y) ** 2))), 1e-12))


# ----------------------------------------------------------------------------- summary


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def family_table(runs: list[Run]) -> list[dict[str, Any]]:
    """Per model name (completed runs only), ordered by median compute: size, seeds, metric median/min/max."""
    by_model: dict[str, list[Run]] = {}
    for run in runs:
        if run.status == "completed":
            by_model.setdefault(run.model, []).append(run)
    families = []
    for model, members in by_model.items():
        params = [p for r in members if (p := _num(r.info.get("non_embedding_params"))) is not None]
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


def fit_metric(runs: list[Run], families: list[dict[str, Any]], metric: str, seed: int = 0) -> dict[str, Any]:
    """Sigmoid threshold, bootstrap interval and breakthroughness of one metric over the completed runs.

    Breakthroughness is taken on the metric oriented so that improvement is positive (edit_distance
    and loss are negated), so its sign means the same thing for every metric.
    """
    points = [(r.flops, r.metric(metric), r.model) for r in runs if r.status == "completed"]
    points = [(f, v, m) for f, v, m in points if f and v is not None]
    x = np.log10([f for f, _, _ in points]) if points else np.zeros(0)
    y = np.array([v for _, v, _ in points])
    fit = fit_sigmoid(x, y)
    ci = bootstrap_threshold(x, y, [m for _, _, m in points], seed=seed) if fit.ok else None
    if fit.ok and ci is None:  # cannot happen for ok fits, but the contract says finite whenever ok
        ci = (fit.threshold_flops, fit.threshold_flops)
    medians = [f[metric]["median"] for f in families if f[metric] is not None]
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    floor, ceiling = fit.floor, fit.ceiling
    if floor is None and points:  # no fit: report what the smallest and largest compute reached
        floor, ceiling = float(y[np.argmin(x)]), float(y[np.argmax(x)])
    return {
        "threshold_flops": fit.threshold_flops,
        "threshold_ci": list(ci) if ci else None,
        "breakthroughness": breakthroughness(sign * np.array(medians)) if medians else None,
        "floor": floor,
        "ceiling": ceiling,
        "width_decades": fit.width_decades,
        "n_points": fit.n_points,
        "ok": fit.ok,
        "note": fit.note,
        "higher_is_better": metric not in LOWER_IS_BETTER,
    }


def _describe(run: Run) -> str:
    """One readable line on why a run is not in the fits."""
    step, max_steps = run.info.get("step"), run.info.get("max_steps")
    progress = f" at step {step}/{max_steps}" if step is not None and max_steps is not None else ""
    message = f": {run.info['message']}" if run.info.get("message") else ""
    label = {"running": "still running", "failed": "failed", "diverged": "diverged"}[run.status]
    return f"{run.name}: {label}{progress}{message}"


def _run_entry(run: Run) -> dict[str, Any]:
    keys = ("model", "seed", "d_model", "n_layer", "params", "non_embedding_params", "flops", "flops_6nd", "tokens")
    entry: dict[str, Any] = {"name": run.name, "status": run.status}
    for key in keys:
        value = run.info.get(key)
        entry[key] = value if isinstance(value, str) or _num(value) is not None else None
    entry.update({metric: run.metric(metric) for metric in METRICS})
    return entry


def chance_level(runs: list[Run], metric: str) -> float | None:
    """The chance floor of a metric as the runs record it (median over runs), None if not recorded."""
    chances = [r.info["chance"] for r in runs if isinstance(r.info.get("chance"), dict)]
    return _median([v for chance in chances if (v := _num(chance.get(metric))) is not None])


def summarize(sweep: Sweep, seed: int = 0) -> dict[str, Any]:
    """Everything `summary.json` holds, JSON-ready (no NaN: missing numbers are None)."""
    missing = list(sweep.problems) + [_describe(r) for r in sweep.runs if r.status != "completed"]
    missing.sort(key=lambda line: line.split(":", 1)[0])  # folder order, like the sweep on disk
    if sweep.n_expected is not None and sweep.n_folders < sweep.n_expected:
        missing.append(f"{sweep.n_expected - sweep.n_folders} of {sweep.n_expected} expected runs have no folder")
    labels = Counter(str(r.info["task_label"]) for r in sweep.runs if r.info.get("task_label"))
    families = family_table(sweep.runs)
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
        "fits": {metric: fit_metric(sweep.runs, families, metric, seed=seed) for metric in METRICS},
    }
