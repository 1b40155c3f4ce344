"""Resolution: the same runs scored by exact match on a small test set, on the whole held-out set, and by answer_prob.

Schaeffer et al. (2023) point out that an accuracy below 1/(test-set size) reads 0: a test set of
100 problems cannot tell a model that solves 1 problem in 10,000 from one that solves none, so a
family's exact match looks flat at zero and then jumps. `toymodels-report SWEEP --resolution N`
reads each completed run's `final_problems.npz` (per held-out problem: greedy right or not, log
p(answer)) and scores the final model three ways: exact match on N-problem subsets (the disjoint
subsets of a fixed shuffle of the evaluation set: the first is "a small test set", the spread over all
of them is what another small set would have read), exact match on every problem, and answer_prob
(mean p(answer): the expected accuracy of sampling, which resolves far below 1/size). It writes
`resolution.png` and summary.json["resolution"]. Torch-free.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from toymodels.analysis.plots import FLOPS_LABEL, log_x, plt
from toymodels.analysis.sweep import Sweep

FILE = "final_problems.npz"
SHUFFLE_SEED = 0  # the fixed shuffle that cuts the evaluation set into N-problem subsets


class ResolutionError(ValueError):
    """Nothing to score at this resolution; the message is one line."""


def run_scores(correct: np.ndarray, logprob: np.ndarray, n: int) -> dict[str, Any]:
    """One run's final scores: exact match on N-problem subsets, on all problems, and answer_prob."""
    correct, logprob = np.asarray(correct, bool), np.asarray(logprob, float)
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(correct))
    k = len(correct) // n
    subsets = correct[order[: k * n]].reshape(k, n).mean(1)
    first = order[:n]
    return {
        "n_problems": int(len(correct)),
        "exact_match_all": float(correct.mean()),
        "exact_match_small": float(subsets[0]),
        "exact_match_small_range": [float(np.quantile(subsets, q, method="inverted_cdf")) for q in (0.05, 0.95)],
        "small_sets": int(k),
        "small_sets_reading_zero": float((subsets == 0).mean()),
        "answer_prob_all": float(np.exp(logprob).mean()),
        "answer_prob_small": float(np.exp(logprob[first]).mean()),
    }


def read_problems(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(correct, logprob) of a run's final_problems.npz; ValueError (one line) if the file is not two
    equally long 1-D numeric arrays of that name."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            correct, logprob = data["correct"], data["logprob"]
    except KeyError as err:
        raise ValueError(f"no array {err}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError, TypeError) as err:
        raise ValueError(f"{type(err).__name__}: {str(err)[:80]}".splitlines()[0]) from None
    if correct.ndim != 1 or logprob.ndim != 1 or len(correct) != len(logprob):
        raise ValueError(f"correct {correct.shape} and logprob {logprob.shape} are not equally long lists")
    if correct.dtype.kind not in "biuf" or logprob.dtype.kind not in "biuf" or np.isnan(logprob).any():
        raise ValueError("correct and logprob must be numbers (logprob without NaN)")
    return correct, logprob


def summarize(sweep: Sweep, n: int) -> dict[str, Any]:
    """summary.json["resolution"]: per completed run its scores at N problems and at all of them."""
    if n < 1:
        raise ResolutionError(f"--resolution {n} must be at least 1 problem")
    runs, skipped = [], []
    for run in sweep.completed:
        path = run.path / FILE
        if not path.is_file():
            skipped.append(f"{run.name}: no {FILE}")
            continue
        try:
            correct, logprob = read_problems(path)
        except ValueError as err:
            skipped.append(f"{run.name}: unreadable {FILE} ({err})")
            continue
        if len(correct) < 2 * n:
            skipped.append(f"{run.name}: {len(correct)} held-out problems, fewer than two sets of {n}")
            continue
        runs.append({"name": run.name, "model": run.model, "seed": run.seed, "flops": run.flops,
                     **run_scores(correct, logprob, n)})
    if not runs:
        why = skipped[0] if skipped else "no completed run"
        raise ResolutionError(f"--resolution {n}: no run to score ({why}); the runs need eval.size >= {2 * n}")
    runs.sort(key=lambda r: (r["flops"], r["seed"] if r["seed"] is not None else -1))
    return {"n_small": n, "n_all": min(r["n_problems"] for r in runs), "runs": runs, "skipped": skipped}


def _medians(runs: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per model size (in compute order) the median over seeds of a score."""
    sizes: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        sizes.setdefault(r["model"], []).append(r)
    x = np.array([np.median([r["flops"] for r in rs]) for rs in sizes.values()])
    y = np.array([np.median([r[key] for r in rs]) for rs in sizes.values()])
    order = np.argsort(x)
    return x[order], y[order]


SERIES = (
    ("exact_match_small", "exact match, {small} problems", "tab:red", "o"),
    ("exact_match_all", "exact match, all {all} problems", "tab:blue", "s"),
    ("answer_prob_all", "answer_prob (mean p(answer)), all problems", "tab:green", "^"),
)


def plot_resolution(res: dict[str, Any], title: str):
    """resolution.png: left, linear accuracy (how a small test set shows the jump); right, log scale,
    where a zero on the small set is drawn at the bottom edge and each set's resolution 1/size is a line."""
    runs, small, full = res["runs"], res["n_small"], res["n_all"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    positive = [r[key] for r in runs for key, *_ in SERIES if r[key] > 0]
    # Zeros are drawn at the bottom of the log panel: below the whole set's resolution and every value.
    floor = min([0.2 / full, *(0.3 * v for v in positive)])
    for ax, log in zip(axes, (False, True)):
        for key, label, color, marker in SERIES:
            x = np.array([r["flops"] for r in runs])
            y = np.array([r[key] for r in runs])
            zero = y <= 0
            shown = np.where(zero, floor, y) if log else y
            ax.scatter(x[~zero], shown[~zero], color=color, marker=marker, alpha=0.45, s=22)
            if log and zero.any():
                ax.scatter(x[zero], shown[zero], facecolors="none", edgecolors=color, marker=marker, s=30)
            mx, my = _medians(runs, key)
            ax.plot(mx, np.where(my <= 0, floor, my) if log else my, color=color,
                    label=label.format(small=small, all=full))
        if not log:  # what other small test sets would have read
            lows = np.array([r["exact_match_small_range"][0] for r in runs])
            highs = np.array([r["exact_match_small_range"][1] for r in runs])
            xs = np.array([r["flops"] for r in runs])
            ax.vlines(xs, lows, highs, color="tab:red", alpha=0.35, lw=3,
                      label=f"90 % of {runs[0]['small_sets']} disjoint {small}-problem sets")
        log_x(ax)
        ax.set_xlabel(FLOPS_LABEL)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(floor / 2, 1.5)
            for n, style in ((small, "--"), (full, ":")):
                ax.axhline(1 / n, color="gray", ls=style, lw=1)
                ax.annotate(f"1/{n}", (ax.get_xlim()[0], 1 / n), xytext=(3, 2), textcoords="offset points",
                            fontsize=8, color="gray")
            ax.axhline(floor, color="lightgray", lw=0.8)
            ax.set_title("log scale: hollow markers on the bottom line read 0")
            ax.set_ylabel("accuracy (log)")
        else:
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"linear scale: {small} problems vs all {full}")
            ax.set_ylabel("accuracy")
            ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def markdown(res: dict[str, Any]) -> list[str]:
    """The resolution section of summary.md: one line per run, in compute order."""
    small, full = res["n_small"], res["n_all"]
    lines = [f"## Resolution: exact match on {small} problems vs all {full}, and answer_prob", "",
             f"Each run's final answers re-scored on {small}-problem subsets of its held-out problems (the "
             f"first subset, and the 5-95 % range over all {res['runs'][0]['small_sets']} disjoint ones), on "
             "all of them, and by answer_prob (mean p(answer)).", "",
             f"| run | compute (FLOPs) | exact match ({small}) | 90 % of {small}-problem sets | "
             f"sets reading 0 | exact match (all) | answer_prob |", "|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        low, high = r["exact_match_small_range"]
        lines.append(f"| {r['name']} | {r['flops']:.1e} | {r['exact_match_small']:.2f} | [{low:.2f}, {high:.2f}] | "
                     f"{r['small_sets_reading_zero']:.0%} | {_sig(r['exact_match_all'])} | "
                     f"{_sig(r['answer_prob_all'])} |")
    lines += [*(f"- skipped {s}" for s in res["skipped"])]
    return lines


def _sig(value: float) -> str:
    """A small accuracy with its significant digits (0.00012 rather than 0.000)."""
    return "0" if value <= 0 else f"{value:.3f}" if value >= 0.01 else f"{value:.1e}" if not math.isnan(value) else "—"
