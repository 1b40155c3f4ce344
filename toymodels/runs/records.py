"""Run records: the metric names, reading run.json back, writing files atomically (no torch in here).

The names of the metrics every evaluation point records are a contract (README, DESIGN.md): the
evaluator writes them, the report and the forecasts read them, W&B shows them. They are defined
here once, in the torch-free layer both sides import.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Every evaluation point's metrics, in the order metrics.csv and run.json hold them.
METRICS = (
    "exact_match",  # greedy, the whole answer right: the "emergent" metric
    "digit_accuracy",  # greedy, fraction of answer digits right, aligned by significance
    "edit_distance",  # greedy, token edit distance of the written answer to the target
    "answer_logprob",  # teacher-forced, mean log p(whole answer)
    "answer_prob",  # teacher-forced, mean p(whole answer): expected accuracy of sampling at temperature 1
    "token_accuracy",  # teacher-forced, fraction of answer digits whose argmax is right
    "loss",  # teacher-forced cross-entropy on every target token
)
LOWER_IS_BETTER = frozenset({"edit_distance", "loss"})
# The same metrics on a fixed sample of a finite training set (task.train_size): memorisation.
TRAIN_PREFIX = "train_"
TRAIN_METRICS = tuple(TRAIN_PREFIX + m for m in METRICS)
GROK_LEVEL = 0.99  # exact match that counts as "fitted" (training sample) or "generalised" (held out)
NOT_GROKKED = "not grokked"


def solved_at(points: list[dict], metric: str, level: float = GROK_LEVEL) -> dict | None:
    """The first evaluation point (its step and flops) where `metric` reaches `level`, or None."""
    for point in points:
        value = point.get(metric)
        if isinstance(value, (int, float)) and value >= level:
            return {"step": int(point["step"]), "flops": float(point["flops"])}
    return None


def grok_gap(points: list[dict], level: float = GROK_LEVEL) -> dict | str:
    """From fitting the training set to generalising, over a run's evaluation points (in order).

    A dict when both happened: the first point where train_exact_match >= level (`train`), the first
    where the held-out exact_match >= level (`heldout`), the gap between them in `steps` and `flops`,
    and `ratio` = held-out flops / train flops (how many times later generalisation came). Otherwise
    the string "not grokked" (the training set was not fitted, or held-out accuracy never followed).
    """
    fitted = solved_at(points, TRAIN_PREFIX + "exact_match", level)
    general = solved_at(points, "exact_match", level)
    if fitted is None or general is None:
        return NOT_GROKKED
    return {
        "level": level,
        "train": fitted,
        "heldout": general,
        "steps": general["step"] - fitted["step"],
        "flops": general["flops"] - fitted["flops"],
        "ratio": general["flops"] / fitted["flops"] if fitted["flops"] > 0 else math.inf,
    }


def gap_text(gap) -> str:
    """A run's grok_gap record in one line: `train ≥ 0.99 at 1.2e+09, held-out at 8.4e+09 FLOPs (7.0x; steps
    120 → 840)`, or why there is none."""
    if not isinstance(gap, dict):
        return str(gap or NOT_GROKKED)
    ratio = gap.get("ratio")  # inf (trained from 0 FLOPs) is null once written as strict JSON
    ratio_text = f"{ratio:.1f}x" if isinstance(ratio, (int, float)) else "ratio undefined"
    return (f"train ≥ {gap['level']} at {gap['train']['flops']:.1e}, held-out at {gap['heldout']['flops']:.1e} "
            f"FLOPs ({ratio_text}; steps {gap['train']['step']} → {gap['heldout']['step']})")


def atomic_write(path: Path, content: str | Callable[[Path], None]) -> None:
    """Write a file so that readers see the old or the new content, never a partial one.

    `content` is the text, or a function that writes the temporary path it is given (a figure's
    savefig, say). The temporary file sits in the same folder, so the final rename is atomic.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as f:
            if isinstance(content, str):
                f.write(content)
        if not isinstance(content, str):
            content(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: dict) -> None:
    """Atomically write strict JSON (NaN and inf become null, NumPy scalars plain numbers)."""
    atomic_write(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def jsonable(obj):
    """A copy of obj that strict JSON accepts: NaN/inf become None, NumPy scalars Python ones, keys strings."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def read_run_json(run_dir: Path) -> dict | None:
    """The run's record, or None where there is none or it cannot be read."""
    path = Path(run_dir) / "run.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
