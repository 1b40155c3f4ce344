"""Specification of `toymodels-forecast` on a synthetic family whose threshold is known in closed form."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_cli
from toymodels.analysis import forecast as fc
from toymodels.runs.records import METRICS

L = 4  # answer positions
SLOPE, CENTRE = 1.5, 11.0  # logit(per-position accuracy) = SLOPE * (log10 C - CENTRE)
TRUE_X = CENTRE + math.log(0.5 ** (1 / L) / (1 - 0.5 ** (1 / L))) / SLOPE  # exact = p^L = 0.5 here
SIZES = np.linspace(10.0, 13.0, 8)  # log10 final compute of the family
EVAL_SIZE = 1000


def _metrics(x: float, rng: np.random.Generator) -> dict[str, float]:
    """Every metric at log10 compute x: per-position p logistic in x, exact = p^L, loss a power law."""
    p = 1.0 / (1.0 + math.exp(-SLOPE * (x - CENTRE)))
    noise = lambda scale: float(rng.normal(0, scale))
    exact = float(np.clip(p**L + noise(0.003), 0, 1))
    values = {
        "exact_match": exact,
        "digit_accuracy": p,
        "edit_distance": L * (1 - p),
        "answer_logprob": L * math.log(p),
        "answer_prob": float(np.clip(p**L + noise(0.002), 1e-9, 1)),
        "token_accuracy": p,
        "loss": 2.0 * 10 ** (-0.35 * (x - 10.0)) * math.exp(noise(0.01)),
    }
    values.update({f"pos_acc_{i}": float(np.clip(p + noise(0.005), 0, 1)) for i in range(L)})
    return values


def build_family(root: Path, sizes: np.ndarray = SIZES, seeds: tuple = (0, 1, 2), task: str = "add3") -> Path:
    """A sweep folder: one run per (size, seed), each with a 10-point metrics.csv history and run.json."""
    rng = np.random.default_rng(0)
    for i, x_final in enumerate(sizes):
        for seed in seeds:
            run_dir = root / f"{task}-d{i}-s{seed}"
            run_dir.mkdir(parents=True)
            points = x_final + np.linspace(-1.5, 0.0, 10)
            rows = [{"step": k, "tokens": k, "flops": 10**x, "wall_seconds": k, **_metrics(x, rng)} for k, x in
                    enumerate(points)]
            columns = list(rows[0])
            lines = [",".join(columns)] + [",".join(f"{row[c]:.9g}" for c in columns) for row in rows]
            (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
            final = {m: rows[-1][m] for m in METRICS}
            final["position_accuracy"] = [rows[-1][f"pos_acc_{i}"] for i in range(L)]
            info = {"status": "completed", "model": f"d{i}", "seed": seed, "flops": 10**x_final, "task": task,
                    "task_label": task, "eval_size": EVAL_SIZE, "metrics": final}
            (run_dir / "run.json").write_text(json.dumps(info))
    return root


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = build_family(tmp_path_factory.mktemp("family"))
    start = time.perf_counter()
    proc = run_cli("toymodels.cli.forecast", str(root), "--fit-below", f"{10**11.5:.3e}")
    elapsed = time.perf_counter() - start
    return {"root": root, "proc": proc, "elapsed": elapsed, "result": json.loads((root / "forecast.json").read_text())}


def test_mirage_composition_recovers_the_true_threshold_from_the_smaller_half(family: dict) -> None:
    mirage = family["result"]["forecasters"]["mirage"]
    assert abs(math.log10(mirage["threshold_flops"]) - TRUE_X) < 0.1
    low, high = mirage["interval"]
    assert low <= mirage["threshold_flops"] <= high


def test_forecast_json_has_the_contract_keys_and_scores_every_forecaster(family: dict) -> None:
    result = family["result"]
    assert result["cutoff_flops"] == pytest.approx(10**11.5, rel=1e-3)
    assert {"threshold_flops", "threshold_ci"} <= set(result["truth"])
    assert abs(math.log10(result["truth"]["threshold_flops"]) - TRUE_X) < 0.25  # between the sizes around it
    assert set(result["forecasters"]) == {"naive", "mirage", "passuntil", "loss"}
    for entry in result["forecasters"].values():
        assert {"threshold_flops", "interval", "error_decades", "covered", "lead_factor", "reason"} <= set(entry)
        assert entry["lead_factor"] == pytest.approx(result["truth"]["threshold_flops"] / result["cutoff_flops"])
        assert entry["threshold_flops"] is not None or entry["reason"]


def test_forecast_writes_its_files_prints_a_row_per_forecaster_and_runs_in_under_10_s(family: dict) -> None:
    proc = family["proc"]
    assert proc.returncode == 0, proc.stderr
    for name in ("forecast.png", "forecast.json", "forecast.md"):
        assert (family["root"] / name).stat().st_size > 0
    for name in ("naive", "mirage", "passuntil", "loss"):
        assert any(line.strip().startswith(name) for line in proc.stdout.splitlines())
    assert family["elapsed"] < 10.0, family["elapsed"]


def test_naive_sigmoid_says_no_forecast_when_exact_match_is_at_its_floor(tmp_path: Path) -> None:
    history = fc.History(np.linspace(10, 11, 12), [f"seed {i % 3}" for i in range(12)],
                         {"exact_match": np.full(12, 0.001)}, EVAL_SIZE, L)
    forecast = fc.run_forecaster("naive", history, np.linspace(10, 13, 100))
    assert forecast.x_hat is None and "floor" in forecast.reason


def test_old_sweep_without_answer_prob_gives_a_reason_not_a_crash(tmp_path: Path) -> None:
    root = build_family(tmp_path / "sweep")
    for csv_path in root.glob("*/metrics.csv"):
        lines = csv_path.read_text().splitlines()
        drop = lines[0].split(",").index("answer_prob")
        csv_path.write_text("\n".join(",".join(v for j, v in enumerate(line.split(",")) if j != drop)
                                      for line in lines) + "\n")
    proc = run_cli("toymodels.cli.forecast", str(root), "--fit-models", "d0,d1,d2,d3")
    assert proc.returncode == 0, proc.stderr
    passuntil = json.loads((root / "forecast.json").read_text())["forecasters"]["passuntil"]
    assert passuntil["threshold_flops"] is None and "answer_prob" in passuntil["reason"]


@pytest.mark.parametrize("kind", ["too_few_below", "none_above", "no_completed", "mixed_tasks", "missing", "unknown"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    args = ["--fit-below", f"{10**11.5:.3e}"]
    if kind == "too_few_below":
        build_family(root)
        args = ["--fit-below", f"{10**10.5:.3e}"]
    elif kind == "none_above":
        build_family(root)
        args = ["--fit-below", "1e14"]
    elif kind == "no_completed":
        build_family(root, sizes=SIZES[:2], seeds=(0,))
        for path in root.glob("*/run.json"):
            path.write_text(json.dumps({**json.loads(path.read_text()), "status": "running"}))
    elif kind == "mixed_tasks":
        build_family(root, sizes=SIZES[:4], task="add3")
        build_family(root, sizes=SIZES[4:], task="mul2")
    elif kind == "unknown":
        build_family(root)
        args = ["--fit-models", "d0,d1,d99"]
    before = sorted(tmp_path.rglob("*"))
    proc = run_cli("toymodels.cli.forecast", str(root), *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("toymodels-forecast: error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert sorted(tmp_path.rglob("*")) == before
