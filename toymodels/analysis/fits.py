"""Fits over log10 compute: a bounded sigmoid, a logistic regression of success counts, seed bootstraps.

NumPy (and the standard library's `NormalDist` for normal quantiles), deterministic (grid searches and
fixed-iteration Newton steps), vectorised over bootstrap resamples: a resample is a row of weights over
the points, a seed drawn twice weighs 2.
Intervals are built here too, with the rules the report promises: an end beyond the swept compute is
"below/above the swept range" (±inf here, never a grid edge), one seed per size gives no interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# The logistic's 10 %-90 % rise spans 2*ln(9) scale units; `width_decades` reports that span.
WIDTH_10_90 = 2.0 * math.log(9.0)
GRADUAL_NOTE = "gradual: the 10-90 % rise is at least as wide as the swept range, no threshold"
NO_BOUNDS = (-math.inf, math.inf)


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
    side: str | None = None  # "below" / "above" when the midpoint is outside the swept range
    gradual: bool = False

    @property
    def threshold_flops(self) -> float | None:
        return None if self.x0 is None else float(10.0**self.x0)

    @property
    def width_decades(self) -> float | None:
        return None if self.scale is None else self.scale * WIDTH_10_90


def _grids(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x0 over the compute range plus a margin (to see out-of-range), scale up to a 10-90 % width = the range."""
    span = float(x.max() - x.min())
    margin = 0.1 * span
    return np.linspace(x.min() - margin, x.max() + margin, 81), np.geomspace(span / 100, span / WIDTH_10_90, 16)


def _shapes(x: np.ndarray, x0s: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Unit sigmoids at the points for every (x0, scale): (A*B, n) for 1-D grids, (R, A*B, n) for per-row."""
    if x0s.ndim == 1:
        return sigmoid(x, 0.0, 1.0, x0s[:, None, None], scales[None, :, None]).reshape(-1, x.size)
    s = sigmoid(x, 0.0, 1.0, x0s[:, :, None, None], scales[:, None, :, None])
    return s.reshape(len(x0s), -1, x.size)


def _box_least_squares(m: dict[str, np.ndarray], lo: float, hi: float) -> tuple[np.ndarray, ...]:
    """Minimise E[(z - a(1-s) - c s)^2] over floor a and ceiling c, both in [lo, hi], per shape.

    The objective is a convex quadratic in (a, c), so the box optimum is the unconstrained one when it
    is inside, else the best of the four edges (one variable at a bound, the other solved and clipped).
    `m` holds the weighted moments E[s], E[s^2], E[z], E[sz]. Returns (loss up to a constant, a, c).
    """
    uu = 1.0 - 2.0 * m["s"] + m["ss"]
    us = m["s"] - m["ss"]
    ss = m["ss"]
    uy = m["z"] - m["sz"]
    sy = m["sz"]
    det = uu * ss - us * us
    usable = det > 1e-12  # a shape (nearly) constant over the data explains nothing
    safe = lambda v: np.where(np.abs(v) > 1e-15, v, 1e-15)
    loss = lambda a, c: -2 * a * uy - 2 * c * sy + a * a * uu + 2 * a * c * us + c * c * ss
    a_free = (uy * ss - sy * us) / safe(det)
    c_free = (sy * uu - uy * us) / safe(det)
    inside = usable & (a_free >= lo) & (a_free <= hi) & (c_free >= lo) & (c_free <= hi)
    best_loss = np.where(inside, loss(a_free, c_free), np.inf)
    best_a, best_c = a_free, c_free
    for bound in (lo, hi):
        if not math.isfinite(bound):
            continue
        candidates = (
            (np.full_like(uu, bound), np.clip((sy - bound * us) / safe(ss), lo, hi)),
            (np.clip((uy - bound * us) / safe(uu), lo, hi), np.full_like(uu, bound)),
        )
        for a, c in candidates:
            value = np.where(usable, loss(a, c), np.inf)
            better = value < best_loss
            best_loss = np.where(better, value, best_loss)
            best_a, best_c = np.where(better, a, best_a), np.where(better, c, best_c)
    return best_loss, best_a, best_c


def _search(
    s: np.ndarray, z: np.ndarray, weights: np.ndarray, x0s: np.ndarray, scales: np.ndarray, bounds: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted, box-bounded least squares over an (x0, scale) grid, for R weight rows at once.

    For fixed (x0, scale) the model is linear in (floor, ceiling), solved in closed form inside the
    bounds; only the shape is searched. `s` comes from `_shapes` (a grid shared by all rows, or one per
    row). Returns per row the best x0, scale, floor and rise (= ceiling - floor).
    """
    shared = s.ndim == 2
    sw = weights.sum(axis=1, keepdims=True)

    def mean(v: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Weighted mean over the points of t, per row of v and per grid point."""
        return (v @ t.T if shared else np.einsum("rn,rgn->rg", v, t)) / sw

    moments = {"s": mean(weights, s), "ss": mean(weights, s * s), "sz": mean(weights * z, s)}
    moments["z"] = (weights @ z)[:, None] / sw
    loss, floor, ceiling = _box_least_squares(moments, *bounds)
    best = np.argmin(loss, axis=1)
    rows = np.arange(weights.shape[0])
    grid_row = np.zeros_like(rows) if shared else rows
    x0s, scales = np.atleast_2d(x0s), np.atleast_2d(scales)
    x0, scale = x0s[grid_row, best // scales.shape[1]], scales[grid_row, best % scales.shape[1]]
    return x0, scale, floor[rows, best], ceiling[rows, best] - floor[rows, best]


def fit_rows(x: np.ndarray, z: np.ndarray, weights: np.ndarray, bounds: tuple = NO_BOUNDS) -> tuple[np.ndarray, ...]:
    """Best (x0, scale, floor, rise) per weight row: a shared coarse grid, then three local zooms per row."""
    x0s, scales = _grids(x)
    coarse = _shapes(x, x0s, scales)
    results = []
    for chunk in np.array_split(weights, max(1, len(weights) // 200)):  # bounds memory to tens of MB
        x0, scale, floor, rise = _search(coarse, z, chunk, x0s, scales, bounds)
        step, ratio = x0s[1] - x0s[0], scales[1] / scales[0]
        offsets = np.linspace(-2.0, 2.0, 9)
        for _ in range(3):
            # Clipping keeps every row inside the coarse bounds (a repeated edge value is harmless).
            local_x0 = np.clip(x0[:, None] + step * offsets, x0s[0], x0s[-1])
            local_scale = np.clip(scale[:, None] * ratio**offsets, scales[0], scales[-1])
            shapes = _shapes(x, local_x0, local_scale)
            x0, scale, floor, rise = _search(shapes, z, chunk, local_x0, local_scale, bounds)
            step, ratio = step / 3, ratio ** (1 / 3)
        results.append((x0, scale, floor, rise))
    return tuple(np.concatenate(parts) for parts in zip(*results, strict=True))


def standardise(y: np.ndarray, bounds: tuple) -> tuple[np.ndarray, tuple, float, float]:
    """y scaled to mean 0, sd 1 (the fits' numerical guards do not depend on units), its bounds scaled alike,
    and the mean and sd to undo it."""
    mu, sd = float(y.mean()), float(y.std())
    return (y - mu) / sd, ((bounds[0] - mu) / sd, (bounds[1] - mu) / sd), mu, sd


def fit_sigmoid(log_flops: np.ndarray, y: np.ndarray, bounds: tuple = NO_BOUNDS) -> SigmoidFit:
    """Fit y = floor + (ceiling - floor) * logistic((x - x0) / scale) to points (x = log10 FLOPs).

    floor and ceiling stay inside `bounds`, the metric's possible range. Deterministic grid search.
    Decreasing metrics come out with ceiling < floor. ok=False (threshold None) for fewer than 3
    distinct x or a flat metric; ok=False with `side` set when the midpoint lies outside the compute
    range; ok=False with `gradual` when the width reaches its bound (the swept range).
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
    z, zb, mu, sd = standardise(y, bounds)
    x0, scale, floor, rise = (float(v[0]) for v in fit_rows(x, z, np.ones((1, n)), zb))
    fit = SigmoidFit(ok=True, note="", n_points=n, x0=x0, scale=scale, floor=mu + sd * floor)
    fit.ceiling = mu + sd * (floor + rise)
    if not x.min() < x0 < x.max():
        fit.side = "below" if x0 <= x.min() else "above"
        fit.ok, fit.note = False, f"midpoint {fit.side} the swept range (extrapolated, not reported)"
    elif scale >= _grids(x)[1][-1] * 0.98:
        fit.ok, fit.gradual, fit.note = False, True, GRADUAL_NOTE
    return fit


def seed_weights(groups: list[str], n_resamples: int, seed: int = 0) -> np.ndarray | None:
    """Bootstrap rows resampling whole seeds: each draw takes every run (all sizes) of the drawn seeds.

    Seed s shares its training stream across sizes, so its runs are not independent draws; resampling
    runs per size would understate the spread. None with fewer than 2 seeds (no interval).
    """
    labels = np.asarray(groups, dtype=object)
    unique = list(dict.fromkeys(labels))  # first-seen order keeps the draws deterministic
    if len(unique) < 2:
        return None
    index = np.array([unique.index(label) for label in labels])
    draws = np.random.default_rng(seed).integers(0, len(unique), size=(n_resamples, len(unique)))
    counts = np.zeros((n_resamples, len(unique)))
    np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
    return counts[:, index]


def bootstrap_x0(
    log_flops: np.ndarray,
    y: np.ndarray,
    groups: list[str],
    bounds: tuple = NO_BOUNDS,
    n_resamples: int = 1000,
    seed: int = 0,
) -> np.ndarray | None:
    """Sigmoid midpoints (log10 FLOPs) of seed-bootstrap refits; ±inf where a refit's midpoint leaves the range."""
    x, y = np.asarray(log_flops, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, groups = x[keep], y[keep], list(np.asarray(groups, dtype=object)[keep])
    weights = seed_weights(groups, n_resamples, seed)
    if weights is None or np.unique(x).size < 3 or float(y.max() - y.min()) < 1e-9:
        return None
    z, zb, _, _ = standardise(y, bounds)
    sw = weights.sum(axis=1)
    flat = weights @ z**2 / sw - (weights @ z / sw) ** 2 < 1e-12
    weights = weights[~flat]
    if weights.shape[0] == 0:
        return None
    x0 = fit_rows(x, z, weights, zb)[0]
    return np.where(x0 <= x.min(), -np.inf, np.where(x0 >= x.max(), np.inf, x0))


def replication_interval(
    x_hat: float,
    draws: np.ndarray,
    n_seeds: int,
    sizes: np.ndarray,
    width: float | None = None,
    level: float = 0.95,
    std_error: float = 0.0,
) -> tuple[float, float]:
    """Interval (log10 FLOPs) for the threshold another set of as many seeds would give.

    Two estimates of the threshold's spread, the larger one wins on each side: the seed bootstrap's
    percentiles around the estimate, widened by sqrt(n/(n-1)) (a bootstrap of n seeds shrinks the
    spread by that much), and `std_error`, a parametric standard error (for the solve probability:
    the binomial one, which a bootstrap of 3 seeds with only 10 distinct resamples underestimates).
    Both are then widened by sqrt(2): the other seed set has its own noise, as large as ours, so the
    difference of two estimates has sqrt(2) times the spread of one. When the transition is sharper
    than the gap between the swept sizes either side of it (`width` < gap), the data cannot place it
    inside that gap, so the interval covers both sizes. Ends beyond the swept range come back as
    -inf / +inf.
    """
    tail = 50.0 * (1.0 - level)
    finite = draws[~np.isnan(draws)]
    q_lo = float(np.percentile(finite, tail, method="lower"))
    q_hi = float(np.percentile(finite, 100.0 - tail, method="higher"))
    z = NormalDist().inv_cdf(1.0 - tail / 100.0)
    shrink = math.sqrt(n_seeds / max(n_seeds - 1, 1))
    low_half = max(shrink * max(x_hat - q_lo, 0.0), z * std_error)
    high_half = max(shrink * max(q_hi - x_hat, 0.0), z * std_error)
    low = x_hat - math.sqrt(2.0) * low_half if math.isfinite(q_lo) else -math.inf
    high = x_hat + math.sqrt(2.0) * high_half if math.isfinite(q_hi) else math.inf
    below, above = sizes[sizes <= x_hat], sizes[sizes >= x_hat]
    if below.size and above.size and (width is None or width < above.min() - below.max()):
        low, high = min(low, float(below.max())), max(high, float(above.min()))
    if low <= sizes.min() + 1e-9:
        low = -math.inf
    if high >= sizes.max() - 1e-9:
        high = math.inf
    return low, high


# ----------------------------------------------------------------------------- success counts


def logistic_regression(
    x: np.ndarray, k: np.ndarray, n: np.ndarray, weights: np.ndarray, ridge: float = 0.01, iterations: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """Binomial logistic regression p = logistic(a + b x) of k successes in n trials, per weight row.

    Newton steps on the 2x2 system, vectorised over rows. Kept instead of scipy.optimize because of the rows:
    a solve threshold's bootstrap (1000 weight rows x 21 runs) took 21 ms here against 6.1 s for
    scipy.optimize.minimize (L-BFGS-B, analytic gradient) row by row, same slopes to 1e-5 (measured on the
    2-core dev machine, scipy 1.17); a single fit is 1.4 ms against 0.5 ms. A weak ridge on the slope b (a normal prior
    of sd 1/sqrt(ridge) per decade) keeps it finite when the data separate (all seeds fail below a
    size and solve above it): the crossing then sits between the two sizes. Returns (a, b) per row.
    """
    x, k, n = (np.asarray(v, dtype=float) for v in (x, k, n))
    w = np.atleast_2d(weights)
    xc = float(np.average(x, weights=n))
    d = x - xc
    a = np.zeros(w.shape[0])
    b = np.zeros(w.shape[0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a[:, None] + b[:, None] * d, -60, 60)))
        resid = w * (k - n * p)
        curv = w * n * p * (1 - p)
        g_a, g_b = resid.sum(1) - 1e-4 * a, resid @ d - ridge * b
        h_aa, h_ab, h_bb = curv.sum(1) + 1e-4, curv @ d, curv @ (d * d) + ridge
        det = h_aa * h_bb - h_ab * h_ab
        step_a, step_b = (h_bb * g_a - h_ab * g_b) / det, (h_aa * g_b - h_ab * g_a) / det
        a, b = a + np.clip(step_a, -5, 5), b + np.clip(step_b, -5, 5)
    return a - b * xc, b


def logistic_threshold_se(x: np.ndarray, n: np.ndarray, a: float, b: float, ridge: float = 0.01) -> float:
    """Standard error (decades) of the crossing x0 = -a/b of a binomial logistic fit p = logistic(a + b x),
    by the delta method on the Fisher information of the fit (the ridge as in `logistic_regression`)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    p = 1.0 / (1.0 + np.exp(-np.clip(a + b * x, -60, 60)))
    w = n * p * (1 - p)
    info = np.array([[w.sum() + 1e-4, (w * x).sum()], [(w * x).sum(), (w * x * x).sum() + ridge]])
    g = np.array([1.0, -a / b])  # d x0 / d(a, b) = -(1, x0) / b
    return float(math.sqrt(max(g @ np.linalg.solve(info, g), 0.0)) / abs(b))


def wilson_interval(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (95 % by default)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (0.0 if k <= 0 else max(0.0, centre - half)), (1.0 if k >= n else min(1.0, centre + half))


# ----------------------------------------------------------------------------- breakthroughness


def breakthroughness(y: np.ndarray, resolution: float = 0.0) -> float | None:
    """BIG-bench breakthroughness of a curve ordered by compute: I(y) / max(sqrt(median(dy^2)), resolution).

    I(y) = sign(argmax y - argmin y) * (max y - min y). When most steps are flat the median squared
    step is 0 and the score would be unbounded; the denominator is floored at the metric's resolution
    (the smallest change the evaluation can show, e.g. 1/eval_size for an accuracy). None for fewer
    than 2 points or all equal.
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2 or float(y.max() - y.min()) == 0.0:
        return None
    spread = np.sign(int(np.argmax(y)) - int(np.argmin(y))) * (y.max() - y.min())
    return float(spread / max(math.sqrt(float(np.median(np.diff(y) ** 2))), resolution, 1e-12))
