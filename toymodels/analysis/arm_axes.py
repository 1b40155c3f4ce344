"""Which runs form which arm: a sweep's axes besides model and seed, and each run's value on them.

An *arm* is one value of the sweep's other axes (``task.format=scratchpad``, ``model.pos_embedding=
abacus``, ``train.lr=0.001``...). Axes come from the sweep's `multirun.yaml` (Hydra's sweeper params
and overrides), or, without it, from the runs' recorded configs: a config value that differs between
runs of the same model. `arms` compares the arms; `frame` labels each run's rows with its arm.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from toymodels.analysis.sweep import RunRecord, Sweep, flat_config
from toymodels.runs.axes import sweep_axes

NOT_ARMS = ("model", "seed", "train.ensemble")  # the family, the seeds, and how seeds are batched


class ArmError(Exception):
    """The arms cannot be compared as asked (one line for the user)."""


def _value(text: str) -> Any:
    """An override's value as YAML reads it (``1e-3`` → 0.001, ``abacus`` → 'abacus')."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def multirun_axes(sweep: Sweep) -> dict[str, list[Any]] | None:
    """Axes of multirun.yaml with more than one value, other than model, seed and train.ensemble; None
    without a readable multirun.yaml."""
    path = sweep.path / "multirun.yaml"
    if not path.is_file():
        return None
    try:
        hydra = yaml.safe_load(path.read_text())["hydra"]
        axes = sweep_axes(hydra["overrides"]["task"], (hydra.get("sweeper") or {}).get("params"))
    except Exception:  # unreadable: fall back to the runs' configs
        return None
    out = {}
    for key, overrides in axes.items():
        name = key.lstrip("+~")
        if len(overrides) > 1 and name not in NOT_ARMS and not name.startswith("hydra"):
            out[name] = [_value(o.split("=", 1)[1]) for o in overrides]
    return out


def run_value(run: RunRecord, key: str) -> Any:
    """The value a run had for a sweep key: from its recorded config (a config group by its name), else
    from run.json's own field of that name (older runs)."""
    node: Any = run.info.get("config")
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node = node.get("name")
    if node is None:
        node = run.info.get(key.rsplit(".", 1)[-1])
    return node


def config_axes(runs: list[RunRecord]) -> dict[str, list[Any]]:
    """Config keys whose value differs between runs of the same model and seed (so neither the family's
    own keys nor seed-derived ones), leaving out keys determined by the axes already found (an `id`
    made from them): fewer-valued keys are taken first."""
    flat = [((r.model, r.seed), flat_config(r.info.get("config") or {})) for r in runs]
    keys = sorted({k for _, f in flat for k in f} - set(NOT_ARMS))
    candidates = {}
    for key in keys:
        by_job: dict[tuple, set] = {}
        for job, f in flat:
            by_job.setdefault(job, set()).add(repr(f.get(key)))
        if any(len(values) > 1 for values in by_job.values()):
            candidates[key] = list(dict.fromkeys(repr(f.get(key)) for _, f in flat))
    out: dict[str, list[Any]] = {}
    for key in sorted(candidates, key=lambda k: (len(candidates[k]), k)):
        seen: dict[tuple, set] = {}
        for _, f in flat:
            seen.setdefault(tuple(repr(f.get(k)) for k in out), set()).add(repr(f.get(key)))
        if any(len(values) > 1 for values in seen.values()):
            values = list(dict.fromkeys(f.get(key) for _, f in flat))
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            out[key] = sorted(values) if numeric else values
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return a == b or str(a) == str(b)


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def arm_groups(sweep: Sweep, arm_axis: list[str] | None = None) -> tuple[list[str], dict[str, list[RunRecord]]]:
    """(axis keys, {arm label: runs}) in the sweep's axis order; one arm labelled '' when there are no axes.

    `arm_axis` chooses the axes (raises ArmError if one is not swept or has a single value); by
    default every axis besides model and seed. Labels read `key=value,key=value`.
    """
    declared = multirun_axes(sweep)
    detected = declared if declared is not None else config_axes(sweep.runs)
    if arm_axis:
        detected = {key: _chosen_values(sweep, detected, key) for key in arm_axis}
    axes = list(detected)
    if not axes:
        return [], {"": list(sweep.runs)}
    arms: dict[tuple, list[RunRecord]] = {}
    for run in sweep.runs:
        values = tuple(run_value(run, key) for key in axes)
        order = tuple(next((i for i, v in enumerate(detected[k]) if _same(v, value)), len(detected[k]))
                      for k, value in zip(axes, values))
        arms.setdefault((order, tuple(_text(v) for v in values)), []).append(run)
    labels = {key: ",".join(f"{k}={v}" for k, v in zip(axes, key[1])) for key in arms}
    return axes, {labels[key]: arms[key] for key in sorted(arms)}


def _chosen_values(sweep: Sweep, detected: dict[str, list[Any]], key: str) -> list[Any]:
    """The values of an axis asked for by name: as detected, else as the runs record it; ArmError if not an axis."""
    values = detected.get(key) or list(dict.fromkeys(run_value(r, key) for r in sweep.runs))
    if all(v is None for v in values):
        others = ", ".join(detected) or "none"
        raise ArmError(f"{key} is not an axis of this sweep (its axes besides model and seed: {others})")
    if len(values) < 2:
        raise ArmError(f"arm axis {key} has one value ({_text(values[0])}) in this sweep: "
                       "a comparison between arms needs at least two")
    return values


def split_arms(sweep: Sweep, arm_axis: list[str] | None = None) -> tuple[list[str], dict[str, list[RunRecord]]]:
    """The arms as `arm_groups` gives them, for a report: an arm whose runs are of more than one task is refused."""
    axes, out = arm_groups(sweep, arm_axis)
    for label, runs in out.items():
        tasks = sorted({r.task for r in runs if r.task})
        if len(tasks) > 1:
            raise ArmError(f"arm {label} mixes tasks ({' and '.join(tasks)}): its family curve needs one task; "
                           "add the axis that separates them to --arm-axis")
    return axes, out
