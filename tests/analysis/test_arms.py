"""Arms in the sweep report: detection, per-arm thresholds, shifts, crossovers on synthetic sweeps (known answers)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.analysis.test_report import _Capture, write_multirun_yaml
from toymodels.analysis import arms as arm_analysis
from toymodels.analysis import load_sweep, sigmoid
from toymodels.cli import report

SIZES = {"d8": 1e10, "d16": 3e10, "d24": 1e11, "d32": 3e11, "d48": 1e12, "d64": 3e12, "d96": 1e13}
LO, HI = math.log10(min(SIZES.values())), math.log10(max(SIZES.values()))


def _midpoint() -> float:
    return (LO + HI) / 2


def _arm_metrics(x: float, x0: float, acc, seed: int) -> dict:
    """A run's final metrics: exact match solves (≥ 0.9) from x0 on, with a seed-dependent jitter of ±0.1
    decade; digit accuracy from `acc(t)` with t in [0, 1] across the swept range."""
    t = (x - LO) / (HI - LO)
    jitter = (seed - 1.5) * 0.07
    em = float(sigmoid(x, 0.0, 1.0, x0 + jitter, 0.03))
    digit = float(np.clip(acc(t) + 0.004 * (seed - 1.5), 0, 1))
    return {"exact_match": em, "digit_accuracy": digit, "edit_distance": 3 * (1 - digit),
            "answer_logprob": -10 * (1 - digit), "answer_prob": em, "token_accuracy": digit, "loss": 2 * (1 - digit)}


def build_arms(root: Path, arms: dict, seeds=(0, 1, 2, 3), key=("task", "format"), record_config=True,
               inference=None) -> Path:
    """One run folder per (arm value, size, seed); arms maps a value to (x0 of exact match, digit accuracy curve)."""
    for value, (x0, acc) in arms.items():
        for model, flops in SIZES.items():
            for seed in seeds:
                run_dir = root / f"{value}-{model}-s{seed}"
                run_dir.mkdir(parents=True)
                config = {"task": {"name": "add", "n_digits": 3, "format": "reversed"},
                          "model": {"name": model, "d_model": int(math.log10(flops)), "pos_embedding": "learned"},
                          "train": {"lr": 0.003, "ensemble": 4}, "seed": seed}
                config[key[0]][key[1]] = value
                info = {"status": "completed", "model": model, "seed": seed, "flops": flops * (1 + 0.001 * seed),
                        "task": "add", "format": config["task"]["format"], "n_digits": 3,
                        "task_label": f"3-digit add ({config['task']['format']})", "eval_size": 1000,
                        "non_embedding_params": int(flops / 1e5),
                        "metrics": _arm_metrics(math.log10(flops), x0, acc, seed),
                        "inference_flops_per_problem": (inference or {}).get(value, 1e6)}
                if record_config:
                    info["config"] = config
                (run_dir / "run.json").write_text(json.dumps(info))
    return root


def _report(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", _Capture(out))
        mp.setattr("sys.stderr", _Capture(err))
        code = report.main([str(root), *args])
    return code, "".join(out), "".join(err)


FORMAT_ARMS = {  # scratchpad solves 1.2 decades later; its digit accuracy starts lower and ends higher
    "reversed": (_midpoint() - 0.6, lambda t: 0.3 + 0.4 * t),
    "scratchpad": (_midpoint() + 0.6, lambda t: 0.1 + 0.8 * t),
}


@pytest.fixture(scope="module")
def format_sweep(tmp_path_factory) -> dict:
    root = build_arms(tmp_path_factory.mktemp("arms"), FORMAT_ARMS)
    write_multirun_yaml(root, ["seed=0", "train.ensemble=4", "task.format=reversed,scratchpad"],
                        {"model": ",".join(SIZES)})
    code, out, err = _report(root)
    assert code == 0, err
    return {"root": root, "out": out, "summary": json.loads((root / "summary.json").read_text())}


def test_arms_are_detected_from_multirun_yaml_besides_model_seed_and_ensemble(format_sweep):
    arms = format_sweep["summary"]["arms"]
    assert arms["arm_axis"] == "task.format"
    assert arms["labels"] == ["task.format=reversed", "task.format=scratchpad"]
    assert {label: arms[label]["n_completed"] for label in arms["labels"]} == {label: 28 for label in arms["labels"]}
    assert (format_sweep["root"] / "emergence.png").stat().st_size > 10_000


def test_each_arm_has_its_own_threshold_and_the_shift_between_them_is_measured(format_sweep):
    arms = format_sweep["summary"]["arms"]
    for label, (x0, _) in zip(arms["labels"], FORMAT_ARMS.values()):
        head = arms[label]["headline"]
        assert head["method"] == "solve_probability"
        low, high = (math.log10(v) for v in head["threshold_ci"])
        assert low <= x0 <= high and abs(math.log10(head["threshold_flops"]) - x0) < 0.25
    shift = next(s for s in arms["shifts"] if s["metric"] == "exact_match")
    assert (shift["from"], shift["to"]) == tuple(arms["labels"])
    assert shift["shift_decades"] == pytest.approx(1.2, abs=0.2)
    low, high = shift["ci"]
    assert 0 < low <= 1.2 <= high  # the true shift inside, no shift excluded


def test_a_crossover_is_found_where_it_is_and_none_is_invented(format_sweep):
    arms = format_sweep["summary"]["arms"]
    digit = [c for c in arms["crossovers"] if c["metric"] == "digit_accuracy"]
    assert len(digit) == 1  # 0.3 + 0.4 t = 0.1 + 0.8 t at t = 0.5
    assert math.log10(digit[0]["flops"]) == pytest.approx(_midpoint(), abs=0.05)
    assert (digit[0]["below"], digit[0]["above"]) == ("task.format=reversed", "task.format=scratchpad")
    assert not [c for c in arms["crossovers"] if c["metric"] == "exact_match"]  # reversed leads everywhere
    assert "exact_match crossovers: none in range" in format_sweep["out"]
    md = (format_sweep["root"] / "summary.md").read_text()
    assert "## Arms: task.format" in md and "overtakes" in md and "none in range" in md


def test_crossovers_need_a_clear_lead_on_both_sides():
    x = np.log10(list(SIZES.values()))
    flat = np.zeros_like(x)
    rng = np.random.default_rng(0)
    same = {"a": (x, 0.5 + 0.002 * rng.standard_normal(x.size), flat + 0.01),
            "b": (x, 0.5 + 0.002 * rng.standard_normal(x.size), flat + 0.01)}
    assert arm_analysis.crossovers(same, "digit_accuracy", 1e-3) == []  # noise around equal curves
    ahead = {"a": (x, 0.3 + 0.0 * x, flat), "b": (x, 0.5 + 0.0 * x, flat)}
    assert arm_analysis.crossovers(ahead, "digit_accuracy", 1e-3) == []
    # Lower is better: the arm whose loss falls faster overtakes.
    loss = {"a": (x, 2.0 - 0.1 * (x - x[0]), flat), "b": (x, 2.2 - 0.3 * (x - x[0]), flat)}
    (found,) = arm_analysis.crossovers(loss, "loss", 1e-3, higher_is_better=False)
    assert math.log10(found["flops"]) == pytest.approx(x[0] + 1.0) and found["above"] == "b"


def test_arms_are_detected_from_recorded_configs_without_multirun_yaml(tmp_path):
    arms = {"learned": FORMAT_ARMS["reversed"], "abacus": FORMAT_ARMS["scratchpad"]}
    root = build_arms(tmp_path, arms, key=("model", "pos_embedding"))
    axes, split = arm_analysis.split_arms(load_sweep(root))
    assert axes == ["model.pos_embedding"]  # not model.name or model.d_model: those follow the model
    assert sorted(split) == ["model.pos_embedding=abacus", "model.pos_embedding=learned"]


def test_a_sweep_with_one_arm_reports_as_before(tmp_path):
    root = build_arms(tmp_path, {"reversed": FORMAT_ARMS["reversed"]})
    write_multirun_yaml(root, ["seed=0", "train.ensemble=4", "task.format=reversed"], {"model": ",".join(SIZES)})
    sweep = load_sweep(root)
    assert arm_analysis.split_arms(sweep) == ([], {"": sweep.runs})
    assert arm_analysis.summarize_arms(sweep) is None  # the report then adds nothing: no `arms`, the usual figure


def test_bad_arm_requests_are_one_line_and_exit_2(tmp_path, format_sweep):
    one = build_arms(tmp_path / "one", {"reversed": FORMAT_ARMS["reversed"]})
    code, _, err = _report(one, "--arm-axis", "task.format")
    assert code == 2 and "has one value (reversed)" in err and err.count("\n") == 1
    code, _, err = _report(format_sweep["root"], "--arm-axis", "model.pos_embedding")
    assert code == 2 and "a comparison between arms needs at least two" in err
    code, _, err = _report(format_sweep["root"], "--arm-axis", "train.momentum")
    assert code == 2 and "not an axis of this sweep" in err
    mixed = build_arms(tmp_path / "mixed", FORMAT_ARMS)
    for run_dir in (mixed).iterdir():  # half the runs of every arm are 5-digit problems
        info = json.loads((run_dir / "run.json").read_text())
        if info["seed"] % 2:
            info["task_label"] = info["task_label"].replace("3-digit", "5-digit")
            info["config"]["task"]["n_digits"] = 5
            (run_dir / "run.json").write_text(json.dumps(info))
    assert not (mixed / "summary.json").exists()
    code, _, err = _report(mixed, "--arm-axis", "task.format")
    assert code == 2 and "mixes tasks (3-digit add (reversed) and 5-digit add (reversed))" in err
    assert not (mixed / "summary.json").exists()  # refused before anything is written


def test_total_flops_adds_each_arms_inference_compute(tmp_path):
    inference = {"reversed": 1e6, "scratchpad": 1e9}  # a longer target costs more per problem
    root = build_arms(tmp_path, FORMAT_ARMS, inference=inference)
    sweep = load_sweep(root)
    sweep.runs = arm_analysis.with_x_axis(sweep.runs, "total_flops", problems=100)
    arms = arm_analysis.summarize_arms(sweep, x="total_flops")
    assert arms["x"] == "total_flops"
    for label, per_problem in zip(arms["labels"], inference.values()):
        smallest = arms[label]["families"][0]
        assert smallest["flops"] == pytest.approx(SIZES["d8"] * 1.0015 + 100 * per_problem, rel=1e-3)
    train = arm_analysis.with_x_axis(load_sweep(root).runs, "train_flops")
    assert {r.flops for r in train} == {r.flops for r in load_sweep(root).runs}
