"""Reading a sweep folder: run folders (`run.json`, `metrics.csv`) and Hydra's `multirun.yaml`.

Pure reading, no fitting: the records that training leaves on disk become `RunRecord` and `Sweep` objects
and NumPy columns (`Sweep.to_frame()` gives the same records as one pandas DataFrame, see `frame`).
Never imports torch, so a sweep can be analysed on a machine without it.

Corrupt or foreign files never raise past this module's readers with a traceback; each becomes one line
naming the file and what is wrong:
- a run folder whose `run.json` is unreadable, not JSON, not an object, or has a field of the wrong type
  (`check_run_json`) is skipped: `load_sweep` lists it in `Sweep.problems` ("<run>: corrupt: ...") and
  the report warns about it on one line; `load_run` raises ValueError with that line;
- a `metrics.csv` that cannot be read (binary, a field over the csv limit, no `flops` column, an indexed
  column that is not `pos_acc_<i>`/`carries_acc_<c>`) raises ValueError from `read_metrics_csv`: the
  report keeps the run's final metrics and warns that it has no curve;
- an unreadable `multirun.yaml` leaves the expected run count unknown and is noted in
  `Sweep.warnings`;
- the sweep folder itself (missing, a file, no run folders) raises SweepError: the report stops, exit 2.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from toymodels.runs.axes import count_jobs, sweep_axes
from toymodels.runs.records import METRICS, NOT_GROKKED, TRAIN_METRICS

STATUSES = ("running", "completed", "failed", "diverged")
# run.json fields the readers use, by the type they must have when present (None is always allowed).
NUMBER_FIELDS = ("flops", "tokens", "params", "non_embedding_params", "flops_6nd", "eval_size", "step", "max_steps",
                 "wall_seconds", "train_size", "flops_per_step", "d_model", "n_layer", "n_head",
                 "inference_flops_per_problem")
TEXT_FIELDS = ("task", "task_label", "message")
DICT_FIELDS = ("config", "chance")
SKILL_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")  # a skill's name becomes part of file names
INDEXED_COLUMN = re.compile(r"(?:^|/)(pos_acc|carries_acc)_(.*)$")  # pos_acc_<i>, carries_acc_<c>, per skill too


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
    warnings: list[str] = field(default_factory=list)  # other unreadable files (multirun.yaml), one line each
    n_folders: int = 0
    n_expected: int | None = None

    @property
    def completed(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status == "completed"]

    def to_frame(self):
        """Every evaluation point of every run as one tidy pandas DataFrame (`frame.sweep_frame`)."""
        from toymodels.analysis.frame import sweep_frame  # here: frame builds on this module (a cycle at the top)

        return sweep_frame(self)


def is_run_dir(path: Path) -> bool:
    """A run folder holds `run.json` or Hydra's `.hydra/` (so `wandb/` and the like are skipped)."""
    return path.is_dir() and ((path / "run.json").is_file() or (path / ".hydra").is_dir())


MAX_NUMBER = 1e30  # no count, size or compute of a toy run comes near; beyond it a value is corrupt


def _is_number(value: Any) -> bool:
    """A JSON number (not a bool) of a plausible size: NaN and inf pass (read as missing), 1e308 does not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) > MAX_NUMBER


def _check_grok_gap(gap: Any) -> str | None:
    """What is wrong with a run.json `grok_gap` ("not grokked", or the record `records.grok_gap` writes)."""
    if gap is None or isinstance(gap, str):
        return None
    if not isinstance(gap, dict):
        return f"grok_gap is a {type(gap).__name__}, not {NOT_GROKKED!r} or a record"
    points = [gap.get("train"), gap.get("heldout")]
    if not all(isinstance(p, dict) and _is_number(p.get("step")) and _is_number(p.get("flops")) for p in points):
        return "grok_gap has no train and heldout points (step, flops)"
    if not all(_is_number(gap.get(k)) or gap.get(k) is None for k in ("level", "steps", "flops", "ratio")):
        return "grok_gap has a level, steps, flops or ratio that is not a number"
    return None


def _check_skills(skills: Any) -> str | None:
    """What is wrong with a mixture run's `skills` list (the records `tasks.mixture.skill_record` writes)."""
    if not isinstance(skills, list) or not all(isinstance(k, dict) for k in skills):
        return "skills is not a list of skill records"
    for skill in skills:
        name = skill.get("name")
        if not isinstance(name, str) or not SKILL_NAME.fullmatch(name):
            return f"skills has a name that is not a plain skill name (got {json.dumps(name)[:40]})"
        if not isinstance(skill.get("eval_only"), bool) or not _is_number(skill.get("weight")):
            return f"skill {name} has no weight (a number) and eval_only (true or false)"
        if any(skill.get(k) is not None and not isinstance(skill[k], t)
               for k, t in (("label", str), ("task", str), ("chance", dict), ("zipf_rank", int),
                            ("heldout_count", int))):
            return f"skill {name} has a label, task, chance, zipf_rank or heldout_count of the wrong type"
    return None


def _check_metrics(metrics: Any) -> str | None:
    if not isinstance(metrics, dict):
        return f"metrics is a {type(metrics).__name__}, not an object"
    for name, value in metrics.items():
        values = value if isinstance(value, list) else [value]
        if not all(v is None or _is_number(v) for v in values):
            return f"metrics.{name} is not a number (got {json.dumps(value)[:40]})"
    return None


def check_run_json(info: Any) -> str | None:
    """What makes a parsed run.json unusable (one line), or None: the shape, status, model and field types."""
    if not isinstance(info, dict):
        return f"run.json holds a {type(info).__name__}, not an object"
    if info.get("status") not in STATUSES:
        return f"run.json has no valid status (got {json.dumps(info.get('status'))[:40]})"
    if not isinstance(info.get("model"), str):
        return "run.json has no model name"
    wrong = [k for k in NUMBER_FIELDS if info.get(k) is not None and not _is_number(info[k])]
    wrong += [k for k in TEXT_FIELDS if info.get(k) is not None and not isinstance(info[k], str)]
    wrong += [k for k in DICT_FIELDS if info.get(k) is not None and not isinstance(info[k], dict)]
    if info.get("seed") is not None and not (isinstance(info["seed"], int) and not isinstance(info["seed"], bool)):
        wrong.append("seed")
    if wrong:
        return f"run.json field {wrong[0]} has the wrong type (got {json.dumps(info[wrong[0]])[:40]})"
    if info["status"] == "completed":
        if not isinstance(info.get("metrics"), dict):
            return "completed run.json has no metrics"
        if not (num(info.get("flops")) or 0.0) > 0.0:
            return "completed run.json has no positive flops"
    problem = _check_metrics(info["metrics"]) if info.get("metrics") is not None else _check_grok_gap(None)
    problem = problem or _check_grok_gap(info.get("grok_gap"))
    problem = problem or (_check_skills(info["skills"]) if info.get("skills") is not None else None)
    return f"run.json {problem}" if problem else None


def load_run(run_dir: Path) -> RunRecord:
    """Parse a run folder's `run.json`; raise ValueError with a readable reason if it is unusable."""
    try:
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"unreadable run.json ({err})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON in run.json ({err})") from None
    except RecursionError:
        raise ValueError("run.json nests too deeply to read") from None
    problem = check_run_json(info)
    if problem:
        raise ValueError(problem)
    return RunRecord(name=run_dir.name, path=run_dir, info=info)


def expected_run_count(multirun_yaml: Path) -> int | None:
    """`read_expected_run_count` without the reason."""
    return read_expected_run_count(multirun_yaml)[0]


def read_expected_run_count(multirun_yaml: Path) -> tuple[int | None, str | None]:
    """Runs a Hydra multirun asked for: the product of its sweep axes times the seeds of each job's
    ensemble (`train.ensemble`); None if unknown.

    Axes come from `hydra.sweeper.params` (an experiment's own sweep) and the command-line overrides
    in `hydra.overrides.task`; as in Hydra's basic sweeper, a command-line value replaces the same key.
    Returns (count, None), (None, None) when the count is not fixed (an ensemble axis), or (None, why)
    for a file that cannot be read (one line).
    """
    try:
        config = yaml.safe_load(multirun_yaml.read_text())
        hydra = config["hydra"]
        params = (hydra.get("sweeper") or {}).get("params")
        axes = sweep_axes(hydra["overrides"]["task"], params)
        ensemble = axes.pop("train.ensemble", [(config.get("train") or {}).get("ensemble", 1)])
        if len(ensemble) != 1:
            return None, None
        return count_jobs(axes) * int(str(ensemble[0]).split("=")[-1]), None
    except Exception as err:  # yaml, hydra's parser, a wrong shape: any failure only means "expected count unknown"
        why = f"{type(err).__name__}: {err}".splitlines()[0][:120]
        return None, f"{multirun_yaml.name}: unreadable, the expected number of runs is unknown ({why})"


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
        sweep.n_expected, problem = read_expected_run_count(path / "multirun.yaml")
        sweep.warnings += [problem] if problem else []
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
    for name in rows[0]:
        match = INDEXED_COLUMN.search(name or "")
        if match and not match.group(2).isdigit():
            raise ValueError(f"metrics.csv column {name[:40]!r} is not {match.group(1)}_<0, 1, 2, ...>")
    known = {*METRICS, *TRAIN_METRICS}
    if not any((name or "").rsplit("/", 1)[-1] in known or INDEXED_COLUMN.search(name or "") for name in rows[0]):
        raise ValueError(f"metrics.csv has no metric columns ({', '.join(METRICS[:3])}, ...)")

    def as_float(text: str | None) -> float:
        try:
            return float(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return math.nan

    columns = {name: np.array([as_float(row.get(name)) for row in rows]) for name in rows[0] if name}
    order = np.argsort(columns["flops"], kind="stable")
    return {name: values[order] for name, values in columns.items()}
