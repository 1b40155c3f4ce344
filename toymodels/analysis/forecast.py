"""Forecasting the exact-match threshold from the smaller runs of a sweep (see docs/forecasting.md).

The fit set is every evaluation point (metrics.csv, the whole history) of the runs whose size lies
below a compute cutoff. Each forecaster is a small function that turns the fit set into a predicted
exact-match curve over log10 compute, for a batch of weight rows at once: row 0 weighs every point
once (the forecast), the other rows resample whole seeds (its 90 % interval). The threshold is where
the predicted curve first reaches exact match 0.5. A forecaster that cannot say anything raises
`NoForecast` with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toymodels.analysis import fits
from toymodels.analysis.sweep import RunRecord, read_metrics_csv

TARGET = 0.5  # the exact match at which a forecaster's threshold is read off its curve
AT_FLOOR = 0.05  # below this everywhere in the fit set, exact match shows no rise to fit a sigmoid to
N_RESAMPLES = 200


class NoForecast(Exception):
    """The forecaster cannot forecast from this fit set; the message says why."""


@dataclass
class History:
    """Evaluation points of the fit set: log10 compute, the run's seed, and every metrics.csv column."""

    x: np.ndarray
    groups: list[str]
    columns: dict[str, np.ndarray]
    eval_size: int
    answer_length: int

    def column(self, name: str) -> np.ndarray | None:
        values = self.columns.get(name)
        return None if values is None or not np.isfinite(values).any() else values


def load_history(runs: list[RunRecord], eval_size: int, answer_length: int) -> History:
    """Every evaluation point (flops > 0) of the runs' metrics.csv; runs without one are skipped."""
    xs, groups, parts = [], [], []
    for run in runs:
        try:
            table = read_metrics_csv(run.path / "metrics.csv")
        except ValueError:
            continue
        keep = np.isfinite(table["flops"]) & (table["flops"] > 0)
        xs.append(np.log10(table["flops"][keep]))
        groups += [run.group] * int(keep.sum())
        parts.append({name: values[keep] for name, values in table.items()})
    names = sorted({name for part in parts for name in part})
    n = [len(x) for x in xs]
    columns = {
        name: np.concatenate([p.get(name, np.full(k, np.nan)) for p, k in zip(parts, n)]) if parts else np.zeros(0)
        for name in names
    }
    return History(np.concatenate(xs) if xs else np.zeros(0), groups, columns, eval_size, answer_length)


MIN_POINTS = 3  # evaluation points a forecaster needs at the least


def _finite(h: History, *names: str) -> np.ndarray:
    """The points where every named column is finite; NoForecast if fewer than MIN_POINTS (or no such column)."""
    keep = np.isfinite(h.x)
    for name in names:
        keep &= np.isfinite(h.columns[name]) if name in h.columns else False
    if int(keep.sum()) < MIN_POINTS:
        raise NoForecast(f"fewer than {MIN_POINTS} evaluation points with {' and '.join(names)} in the fit set")
    return keep


def _linear(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares line y = a + b x per weight row."""
    sw = w.sum(1)
    mx, my = w @ x / sw, w @ y / sw
    sxx = w @ (x * x) / sw - mx * mx
    b = (w @ (x * y) / sw - mx * my) / np.where(sxx > 1e-12, sxx, np.inf)
    return my - b * mx, b


# ----------------------------------------------------------------------------- the forecasters


def naive(h: History, w: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(a) A sigmoid on exact match of the fit set, floor and ceiling in [0, 1], extended to larger compute."""
    y = h.columns["exact_match"]
    keep = _finite(h, "exact_match")
    if float(np.nanmax(y[keep])) < AT_FLOOR:
        raise NoForecast(f"exact match is at its floor in the fit set (max {np.nanmax(y[keep]):.3f} < {AT_FLOOR})")
    z, bounds, mu, sd = fits.standardise(y[keep], (0.0, 1.0))
    x0, scale, floor, rise = fits.fit_rows(h.x[keep], z, w[:, keep], bounds)
    low, high = mu + sd * floor, mu + sd * (floor + rise)
    return fits.sigmoid(grid[None, :], low[:, None], high[:, None], x0[:, None], scale[:, None])


def mirage(h: History, w: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(b) Per-position accuracy p_i with logit(p_i) linear in log10 compute (binomial fits), composed
    to exact match = prod_i p_i (or token_accuracy^L when the sweep has no per-position columns)."""
    positions = sorted((c for c in h.columns if c.startswith("pos_acc_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    names = [c for c in positions if h.column(c) is not None]
    power = 1
    if not names:
        if h.column("token_accuracy") is None:
            raise NoForecast("no per-position or token accuracy in the fit set's metrics.csv")
        names, power = ["token_accuracy"], h.answer_length
    log_em = np.zeros((w.shape[0], grid.size))
    for name in names:
        keep = _finite(h, name)
        k = np.clip(h.columns[name][keep], 0, 1) * h.eval_size
        a, b = fits.logistic_regression(h.x[keep], k, np.full(k.size, float(h.eval_size)), w[:, keep])
        log_em += power * -np.logaddexp(0.0, -(a[:, None] + b[:, None] * grid[None, :]))
    return np.exp(log_em)


def passuntil(h: History, w: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(c) PassUntil-style: log(-log answer_prob) linear in log10 compute, answer_prob read as exact match."""
    if h.column("answer_prob") is None:
        raise NoForecast("the sweep has no answer_prob column (an older sweep)")
    keep = _finite(h, "answer_prob")
    p = np.clip(h.columns["answer_prob"][keep], 1e-12, 1 - 1e-6)
    a, b = _linear(h.x[keep], np.log(-np.log(p)), w[:, keep])
    if b[0] >= 0:
        raise NoForecast("answer_prob does not rise with compute in the fit set")
    return np.exp(-np.exp(np.clip(a[:, None] + b[:, None] * grid[None, :], -50, 50)))


def loss_threshold(h: History, w: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(d) Du et al.: exact match as a logistic function of held-out loss (binomial fit on the fit set's
    points), and loss as a power law of compute; exact match crosses 0.5 where loss reaches that loss."""
    keep = _finite(h, "exact_match", "loss") & (np.nan_to_num(h.columns["loss"]) > 0)
    if int(keep.sum()) < MIN_POINTS:
        raise NoForecast(f"fewer than {MIN_POINTS} evaluation points with a positive loss in the fit set")
    em, loss = np.clip(h.columns["exact_match"][keep], 0, 1), h.columns["loss"][keep]
    if float(em.max()) * h.eval_size < 1:
        raise NoForecast("exact match never leaves 0 in the fit set: the loss where it rises cannot be located")
    a, b = fits.logistic_regression(loss, em * h.eval_size, np.full(em.size, float(h.eval_size)), w[:, keep])
    if b[0] >= 0:
        raise NoForecast("exact match does not rise as loss falls in the fit set")
    c, d = _linear(h.x[keep], np.log10(loss), w[:, keep])
    if d[0] >= 0:
        raise NoForecast("loss does not fall with compute in the fit set")
    predicted_loss = 10.0 ** (c[:, None] + d[:, None] * grid[None, :])
    return 1.0 / (1.0 + np.exp(-np.clip(a[:, None] + b[:, None] * predicted_loss, -60, 60)))


FORECASTERS = {"naive": naive, "mirage": mirage, "passuntil": passuntil, "loss": loss_threshold}


# ----------------------------------------------------------------------------- thresholds and scores


def crossing(grid: np.ndarray, curves: np.ndarray, target: float = TARGET) -> np.ndarray:
    """First log10 compute where each curve reaches the target (linear between grid points); +inf if none,
    -inf if it starts above it."""
    above = curves >= target
    first = np.argmax(above, axis=1)
    out = np.full(curves.shape[0], np.inf)
    hit = above.any(axis=1)
    start = hit & (first == 0)
    out[start] = -np.inf
    mid = hit & (first > 0)
    i = first[mid]
    rows = np.flatnonzero(mid)
    y0, y1 = curves[rows, i - 1], curves[rows, i]
    t = (target - y0) / np.where(y1 > y0, y1 - y0, 1.0)
    out[mid] = grid[i - 1] + t * (grid[i] - grid[i - 1])
    return out


@dataclass
class Forecast:
    """One forecaster's answer: threshold (log10 FLOPs) and 90 % interval, or the reason there is none."""

    name: str
    x_hat: float | None
    interval: tuple[float, float] | None
    curve: np.ndarray | None
    reason: str


def run_forecaster(name: str, h: History, grid: np.ndarray, seed: int = 0) -> Forecast:
    """Fit one forecaster (row 0) and its seed bootstrap (the other rows); read off the thresholds."""
    boot = fits.seed_weights(h.groups, N_RESAMPLES, seed)
    weights = np.vstack([np.ones((1, h.x.size)), boot]) if boot is not None else np.ones((1, h.x.size))
    try:
        with np.errstate(all="ignore"):
            curves = FORECASTERS[name](h, weights, grid)
    except NoForecast as err:
        return Forecast(name, None, None, None, str(err))
    x = crossing(grid, curves)
    reason = "" if boot is not None else "one seed: no interval"
    if not math.isfinite(x[0]):
        where = "never reaches" if x[0] > 0 else "starts above"
        return Forecast(name, None, None, curves[0], f"the predicted curve {where} exact match {TARGET} on the grid")
    interval = None
    if boot is not None:
        interval = tuple(float(np.percentile(x[1:], q, method=m)) for q, m in ((5, "lower"), (95, "higher")))
    return Forecast(name, float(x[0]), interval, curves[0], reason)


def score(forecast: Forecast, truth: float | None, cutoff: float) -> dict:
    """forecast.json's entry: threshold and interval (FLOPs), error in decades, covered, lead factor."""
    flops = lambda v: None if v is None or not math.isfinite(v) else float(10.0**v)
    entry = {
        "threshold_flops": flops(forecast.x_hat),
        "interval": [flops(v) for v in forecast.interval] if forecast.interval else None,
        "error_decades": None,
        "covered": None,
        "lead_factor": None if truth is None else float(10.0 ** (truth - cutoff)),
        "reason": forecast.reason,
    }
    if truth is not None and forecast.x_hat is not None:
        entry["error_decades"] = abs(forecast.x_hat - truth)
        if forecast.interval:
            entry["covered"] = bool(forecast.interval[0] <= truth <= forecast.interval[1])
    return entry
