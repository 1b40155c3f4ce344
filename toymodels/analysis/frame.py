"""A sweep as pandas tables for notebooks: `Sweep.to_frame()` (every evaluation point) and `load_summary`.

`sweep_frame` is tidy in the usual sense: one row per evaluation point of one run, that is one row per
`metrics.csv` row, across every run of the sweep whose metrics.csv can be read (any status; the
`status` column says which). The run's identity comes first: `run` (folder name), `model`, `seed`,
`arm` (the run's arm label `key=value,...` when the sweep has an axis besides model and seed, else
None; `arm_axes`), `task`, `status`, `params`, `non_embedding_params`; then `step`, `tokens`, `flops`
and every other metrics.csv column, as floats (NaN where a row has no value).

Mixture sweeps keep their per-skill metrics as columns named `<skill>/<metric>` exactly as metrics.csv
names them (e.g. `add2/exact_match`), beside the mixture's bare `loss`, so the one-row-per-point rule
holds; melt them with `df.melt(...)` for a `skill` column. Runs whose metrics.csv is missing or
unreadable have no rows; `frame.attrs["skipped"]` lists them with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toymodels.analysis.arm_axes import arm_groups
from toymodels.analysis.sweep import RunRecord, Sweep, SweepError, num, read_metrics_csv

if TYPE_CHECKING:
    import pandas as pd

IDENTITY = ("run", "model", "seed", "arm", "task", "status", "params", "non_embedding_params")
LEADING = ("step", "tokens", "flops")


def _identity(run: RunRecord, arm: str | None) -> dict[str, Any]:
    params, non_embedding = (num(run.info.get(k)) for k in ("params", "non_embedding_params"))
    return {"run": run.name, "model": run.model, "seed": run.seed, "arm": arm, "task": run.task,
            "status": run.status, "params": None if params is None else int(params),
            "non_embedding_params": None if non_embedding is None else int(non_embedding)}


def sweep_frame(sweep: Sweep) -> pd.DataFrame:
    """Every evaluation point of every run with a readable metrics.csv, one row each (see the module docstring)."""
    import pandas as pd  # here, not at the top: 0.45 s to import (-X importtime), and the reports never need it

    _, arms = arm_groups(sweep)
    arm_of = {run.name: label or None for label, runs in arms.items() for run in runs}
    parts, skipped = [], []
    for run in sweep.runs:
        try:
            columns = read_metrics_csv(run.path / "metrics.csv")
        except ValueError as err:
            skipped.append(f"{run.name}: {err}")
            continue
        part = pd.DataFrame(columns)
        for key, value in reversed(_identity(run, arm_of.get(run.name)).items()):
            part.insert(0, key, pd.Series([value] * len(part), dtype=object if value is None else None))
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*IDENTITY, *LEADING])
    first = [*IDENTITY, *(c for c in LEADING if c in frame.columns)]
    frame = frame[[*first, *(c for c in frame.columns if c not in first)]]
    frame.attrs["skipped"] = skipped
    return frame


def load_summary(path: Path | str) -> dict[str, Any]:
    """A report's summary.json, from its sweep folder or the file; SweepError (one line) if missing or corrupt."""
    path = Path(path)
    file = path / "summary.json" if path.is_dir() else path
    try:
        summary = json.loads(file.read_text())
    except FileNotFoundError:
        raise SweepError(f"no summary.json at {file} (write it with toymodels-report)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SweepError(f"unreadable {file} ({type(err).__name__})") from None
    except json.JSONDecodeError as err:
        raise SweepError(f"{file} is not valid JSON ({err})") from None
    if not isinstance(summary, dict):
        raise SweepError(f"{file} holds a {type(summary).__name__}, not a report summary")
    return summary
