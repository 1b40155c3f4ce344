"""Reading a sweep folder: run folders (`run.json`, `metrics.csv`) and Hydra's `multirun.yaml`.

Pure reading, no fitting: the records that training leaves on disk become `RunRecord` and `Sweep` objects
and NumPy columns (`Sweep.to_frame()` gives the same records as one pandas DataFrame, see `frame`).
Never imports torch, so a sweep can be analysed on a machine without it.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STATUSES = ("running", "completed", "failed", "diverged")


class SweepError(Exception):
    """The sweep folder cannot be reported at all (missing, not a folder, no run folders)."""


# ----------------------------------------------------------------------------- reading run folders


def num(value: Any) -> float | None:
    """A finite float from a JSON value, or None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def flat_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """A run's recorded config as {"task.format": "reversed", ...} (lists kept whole, as text)."""
    if not isinstance(config, dict):
        return {prefix.rstrip("."): config if not isinstance(config, list) else str(config)} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        out.update(flat_config(value, f"{prefix}{key}."))
    return out


@dataclass
class RunRecord:
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
        return num(self.info.get("flops"))

    @property
    def group(self) -> str:
        """The seed as a bootstrap unit: seed s shares its training stream across sizes."""
        return f"seed {self.seed}" if self.seed is not None else f"run {self.name}"

    @property
    def task(self) -> str | None:
        label = self.info.get("task_label") or self.info.get("task")
        return str(label) if label else None

    @property
    def eval_size(self) -> int | None:
        size = num(self.info.get("eval_size"))
        return int(size) if size else None

    @property
    def answer_length(self) -> int | None:
        """Answer positions scored per problem (from the final per-position accuracies)."""
        metrics = self.info.get("metrics")
        positions = metrics.get("position_accuracy") if isinstance(metrics, dict) else None
        return len(positions) if isinstance(positions, list) and positions else None

    def metric(self, name: str) -> float | None:
        """Final value of a metric, None when absent or not finite."""
        metrics = self.info.get("metrics")
        return num(metrics.get(name)) if isinstance(metrics, dict) else None


@dataclass
class Sweep:
    """A sweep folder: its parsed runs and the folders that could not be used."""

    name: str
    path: Path
    runs: list[RunRecord]
    problems: list[str] = field(default_factory=list)  # corrupt / unstarted run folders, readable
    n_folders: int = 0
    n_expected: int | None = None

    @property
    def completed(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status == "completed"]

    def to_frame(self):
        """Every evaluation point of every run as one tidy pandas DataFrame (`frame.sweep_frame`)."""
        from toymodels.analysis.frame import sweep_frame

        return sweep_frame(self)


def is_run_dir(path: Path) -> bool:
    """A run folder holds `run.json` or Hydra's `.hydra/` (so `wandb/` and the like are skipped)."""
    return path.is_dir() and ((path / "run.json").is_file() or (path / ".hydra").is_dir())


def load_run(run_dir: Path) -> RunRecord:
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
        if not (num(info.get("flops")) or 0.0) > 0.0:
            raise ValueError("completed run.json has no positive flops")
    return RunRecord(name=run_dir.name, path=run_dir, info=info)


def expected_run_count(multirun_yaml: Path) -> int | None:
    """Runs a Hydra multirun asked for: the product of its sweep axes times the seeds of each job's
    ensemble (`train.ensemble`); None if unknown.

    Axes come from `hydra.sweeper.params` (an experiment's own sweep) and the command-line overrides
    in `hydra.overrides.task`; as in Hydra's basic sweeper, a command-line value replaces the same key.
    """
    try:
        import yaml

        from toymodels.runs.axes import count_jobs, sweep_axes

        config = yaml.safe_load(multirun_yaml.read_text())
        hydra = config["hydra"]
        params = (hydra.get("sweeper") or {}).get("params")
        axes = sweep_axes(hydra["overrides"]["task"], params)
        ensemble = axes.pop("train.ensemble", [(config.get("train") or {}).get("ensemble", 1)])
        if len(ensemble) != 1:
            return None
        return count_jobs(axes) * int(str(ensemble[0]).split("=")[-1])
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
    except (OSError, UnicodeDecodeError, csv.Error) as err:  # missing, binary or malformed: one line, no traceback
        raise ValueError(f"unreadable metrics.csv ({err})".splitlines()[0]) from None
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
