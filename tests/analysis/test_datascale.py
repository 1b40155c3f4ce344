"""The data-scaling and training-time report on synthetic sweep folders (no training)."""

import json

import numpy as np
import pytest

from toymodels.analysis import datascale
from toymodels.analysis.sweep import load_sweep
from toymodels.cli.report import main as report_main

SIZES = (100, 200, 400, 800, 1600, 3200)


def _write_run(sweep, fmt, n, seed, em):
    run = sweep / f"add2-{fmt}-n{n}-d32-s{seed}"
    run.mkdir(parents=True)
    config = {"task": {"name": "add", "format": fmt, "train_size": n, "train_set_seed": seed,
                       "id": f"add2-{fmt}-n{n}"}, "model": {"name": "d32"}, "seed": seed}
    record = {"status": "completed", "model": "d32", "seed": seed, "task": "add", "task_label": "2-digit add",
              "flops": 1e12, "flops_per_step": 1e9, "train_size": n, "eval_size": 1000, "config": config,
              "metrics": {"exact_match": em, "train_exact_match": 1.0, "loss": 1.0 - em,
                          "position_accuracy": [em, em, em]},
              "grok_gap": "not grokked"}
    (run / "run.json").write_text(json.dumps(record))
    steps = np.array([10, 100, 1000])
    rows = ["step,tokens,flops,exact_match,train_exact_match,weight_norm,loss,pos_acc_0"]
    rows += [f"{s},{s * 10},{s * 1e9},{em * s / 1000},{min(1.0, s / 100)},{5 + s / 1000},1.0,{em}" for s in steps]
    (run / "metrics.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def sweep(tmp_path):
    """Reversed rises from 0 to 1 between N = 400 and 800; plain stays at 0 (3 seeds each)."""
    for seed in range(3):
        for n in SIZES:
            _write_run(tmp_path, "reversed", n, seed, float(n >= 800) * (0.95 + 0.01 * seed) + 0.01 * seed)
            _write_run(tmp_path, "plain", n, seed, 0.0)
    return tmp_path


def test_runs_are_grouped_by_the_other_swept_keys_and_the_threshold_is_fitted_in_n(sweep):
    entry = datascale.data_scaling(load_sweep(sweep))
    assert entry["axis"] == "task.train_size" and entry["series_keys"] == ["task.format"]
    rev, plain = entry["series"]["task.format=reversed"], entry["series"]["task.format=plain"]
    assert rev["n"] == list(SIZES) and len(rev["runs"]) == 18
    assert 400 < rev["threshold_n"] < 800
    assert plain["threshold_n"] is None  # flat: no threshold, and it says why
    assert "flat" in plain["threshold_text"]


def test_a_sweep_without_finite_sets_has_no_data_scaling(tmp_path):
    _write_run(tmp_path, "reversed", 100, 0, 0.5)
    _write_run(tmp_path, "reversed", 100, 1, 0.5)
    assert datascale.data_scaling(load_sweep(tmp_path)) is None


def test_report_writes_the_data_scaling_and_training_figures(tmp_path, capsys):
    sweep = tmp_path
    for seed in range(2):
        for n in SIZES[1:5]:
            _write_run(sweep, "reversed", n, seed, float(n >= 800))
            _write_run(sweep, "plain", n, seed, 0.0)
    assert report_main([str(sweep)]) == 0
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["data_scaling"]["series"]["task.format=reversed"]["threshold_n"] > 0
    assert len(summary["grok"]) == 16
    for name in ("data_scaling.png", "training.png", "emergence.png"):
        assert (sweep / name).stat().st_size > 0
    assert "## Data scaling" in (sweep / "summary.md").read_text()
    assert "data threshold (task.format=reversed): N = " in capsys.readouterr().out
