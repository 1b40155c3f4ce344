"""Specification of the sweep report (`toymodels.analysis`, `toymodels-report`) on hand-built sweeps."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toymodels import analysis
from toymodels.analysis import summary as summary_module
from toymodels.analysis.report import FIGURES, OUTPUTS
from toymodels.analysis.wandb_upload import upload_report
from toymodels.cli import report
from toymodels.runs.records import jsonable

REPO = Path(__file__).resolve().parents[2]
SIZES = {"d8": (8, 2), "d16": (16, 2), "d24": (24, 2), "d32": (32, 3), "d48": (48, 3), "d64": (64, 4), "d96": (96, 4)}
SEEDS = (0, 1, 2)
TRUE_X0 = 13.2  # log10 FLOPs where the synthetic exact_match jumps
N_DIGITS = 4


def _final_metrics(x: float, lo: float, hi: float, rng: np.random.Generator) -> dict:
    """Synthetic final metrics at log10 compute x: exact_match jumps, the continuous ones move smoothly."""
    t = (x - lo) / (hi - lo)  # 0..1 across the sweep, linear in log compute
    noise = lambda: float(rng.normal(0, 0.01))
    return {
        "exact_match": float(np.clip(analysis.sigmoid(x, 1e-4, 0.95, TRUE_X0, 0.08) + noise(), 0, 1)),
        "digit_accuracy": 0.1 + 0.85 * t + noise(),
        "edit_distance": 3.0 * (1 - t) + noise(),
        "answer_logprob": -12.0 * (1 - t) + noise(),
        "answer_prob": float(np.clip(analysis.sigmoid(x, 0.0, 0.9, TRUE_X0 - 0.2, 0.3) + noise(), 0, 1)),
        "token_accuracy": 0.2 + 0.75 * t + noise(),
        "loss": 2.3 * (1 - t) + 0.05 + noise(),
        "position_accuracy": [float(np.clip(1.2 * t + 0.3 - 0.2 * i, 0, 1)) for i in range(N_DIGITS)],
    }


def _run_json(model: str, seed: int, flops: float, status: str = "completed", metrics: dict | None = None) -> dict:
    d, layers = SIZES.get(model, (128, 4))
    non_emb = 12 * layers * d * d
    return {
        "status": status,
        "message": None,
        "task": "add",
        "n_digits": 3,
        "format": "reversed",
        "task_label": "3-digit add (reversed)",
        "model": model,
        "d_model": d,
        "n_layer": layers,
        "n_head": 2,
        "seed": seed,
        "params": non_emb + 20 * d,
        "non_embedding_params": non_emb,
        "flops": flops,
        "flops_6nd": 0.8 * flops,
        "tokens": 50_000_000,
        "step": 1000,
        "max_steps": 1000,
        "wall_seconds": 12.5,
        "metrics": metrics,
        "chance": {"exact_match": 1e-4, "digit_accuracy": 0.1},
        "eval_size": 1000,
    }


def _write_csv(path: Path, final_flops: float, final: dict) -> None:
    """Rows at log-spaced compute, metrics moving from their start values to the final ones."""
    start = {
        "exact_match": 0.0,
        "digit_accuracy": 0.1,
        "edit_distance": 3.0,
        "answer_logprob": -12.0,
        "answer_prob": 0.0,
        "token_accuracy": 0.2,
        "loss": 2.35,
    }
    cols = ["step", "tokens", "flops", "wall_seconds", *analysis.METRICS, *(f"pos_acc_{i}" for i in range(N_DIGITS))]
    lines = [",".join(cols)]
    for k, frac in enumerate(np.geomspace(0.01, 1.0, 6)):
        u = k / 5
        values = [1000 * frac, 5e7 * frac, final_flops * frac, 12.5 * frac]
        values += [start[m] + (final[m] - start[m]) * u**2 for m in analysis.METRICS]
        values += [min(1.0, p * u ** (1 + i)) for i, p in enumerate(final["position_accuracy"])]
        lines.append(",".join(f"{v:g}" for v in values))
    path.write_text("\n".join(lines) + "\n")


def build_sweep(root: Path, models: dict = SIZES, seeds: tuple = SEEDS) -> Path:
    """A sweep folder of completed runs with a known exact_match threshold at 10**TRUE_X0 FLOPs."""
    rng = np.random.default_rng(0)
    flops = {m: 6 * (12 * layers * d * d + 5000) * 5e7 for m, (d, layers) in models.items()}
    lo, hi = math.log10(min(flops.values())), math.log10(max(flops.values()))
    for model in models:
        for seed in seeds:
            run_dir = root / f"add3-{model}-s{seed}"
            run_dir.mkdir(parents=True)
            run_flops = flops[model] * (1 + 0.01 * seed)
            final = _final_metrics(math.log10(run_flops), lo, hi, rng)
            (run_dir / "run.json").write_text(json.dumps(_run_json(model, seed, run_flops, metrics=final)))
            _write_csv(run_dir / "metrics.csv", run_flops, final)
    return root


def write_multirun_yaml(root: Path, overrides: list[str], sweeper_params: dict | None = None) -> None:
    """Hydra's multirun.yaml, reduced to what the report reads."""
    task = "".join(f"\n    - {o}" for o in overrides) or " []"
    params = "".join(f"\n      {k}: {v}" for k, v in (sweeper_params or {}).items()) or " null"
    (root / "multirun.yaml").write_text(f"hydra:\n  sweeper:\n    params:{params}\n  overrides:\n    task:{task}\n")


@pytest.fixture(scope="module")
def full_sweep(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """7 sizes x 3 seeds, plus a diverged, a corrupt and an unstarted run, a wandb/ folder; report run once."""
    root = build_sweep(tmp_path_factory.mktemp("sweep"))
    (root / "add3-d128-s0").mkdir()
    diverged = _run_json("d128", 0, 2e14, status="diverged")
    diverged["message"] = "loss became NaN"
    (root / "add3-d128-s0" / "run.json").write_text(json.dumps(diverged))
    (root / "add3-d128-s1").mkdir()
    (root / "add3-d128-s1" / "run.json").write_text('{"status": "completed", "model": ')
    (root / "add3-d128-s2" / ".hydra").mkdir(parents=True)
    (root / "wandb" / "offline-run-1").mkdir(parents=True)
    write_multirun_yaml(root, ["model=" + ",".join([*SIZES, "d128"]), "seed=0,1,2", "task=add"])
    outcome = {"root": root}
    with pytest.MonkeyPatch.context() as mp:
        out, err = [], []
        mp.setattr(sys, "stdout", _Capture(out))
        mp.setattr(sys, "stderr", _Capture(err))
        outcome["code"] = report.main([str(root)])
    outcome["stdout"], outcome["stderr"] = "".join(out), "".join(err)
    outcome["summary"] = json.loads((root / "summary.json").read_text(), parse_constant=_reject_nan)
    return outcome


class _Capture:
    """A minimal text stream (capsys is function-scoped, the report runs once per module)."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def write(self, text: str) -> int:
        self.sink.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def _reject_nan(name: str) -> None:
    raise ValueError(f"summary.json contains {name}")


# ----------------------------------------------------------------------------- the report end to end


def test_report_writes_every_output_atomically(full_sweep: dict) -> None:
    root = full_sweep["root"]
    assert full_sweep["code"] == 0
    for name in OUTPUTS:
        assert (root / name).is_file() and (root / name).stat().st_size > 0, name
    for name in FIGURES:
        assert (root / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    leftovers = [p.name for p in root.iterdir() if p.is_file() and p.name not in OUTPUTS]
    assert leftovers == ["multirun.yaml"]  # no temp files left behind


def test_summary_json_has_the_contract_keys(full_sweep: dict) -> None:
    summary = full_sweep["summary"]
    assert {
        "sweep",
        "sweep_dir",
        "task_label",
        "n_runs_expected",
        "n_runs_found",
        "n_completed",
        "missing",
        "runs",
        "families",
        "fits",
    } <= set(summary)
    assert summary["sweep_dir"] == str(full_sweep["root"].resolve())
    assert summary["task_label"] == "3-digit add (reversed)"
    assert (summary["n_runs_expected"], summary["n_runs_found"], summary["n_completed"]) == (24, 24, 21)
    run = next(r for r in summary["runs"] if r["name"] == "add3-d8-s0")
    assert {
        "name",
        "status",
        "model",
        "seed",
        "d_model",
        "n_layer",
        "params",
        "non_embedding_params",
        "flops",
        "flops_6nd",
        "tokens",
        *analysis.METRICS,
    } <= set(run)
    assert [f["model"] for f in summary["families"]] == list(SIZES)  # ordered by compute
    assert all(f["n_seeds"] == 3 and f["exact_match"]["min"] <= f["exact_match"]["median"] for f in summary["families"])
    assert set(summary["fits"]) == set(analysis.METRICS)
    for fit in summary["fits"].values():
        assert {
            "threshold_flops",
            "threshold_ci",
            "breakthroughness",
            "floor",
            "ceiling",
            "width_decades",
            "n_points",
            "ok",
            "note",
        } <= set(fit)
        assert fit["n_points"] == 21


def test_missing_lists_corrupt_diverged_and_unstarted_runs_and_ignores_other_folders(full_sweep: dict) -> None:
    missing = "\n".join(full_sweep["summary"]["missing"])
    assert "add3-d128-s0: diverged" in missing and "loss became NaN" in missing
    assert "add3-d128-s1: corrupt" in missing and "invalid JSON" in missing
    assert "add3-d128-s2: no run.json" in missing
    assert "wandb" not in missing
    assert len(full_sweep["summary"]["missing"]) == 3
    warnings = full_sweep["stderr"].strip().splitlines()
    assert len(warnings) == 1 and "add3-d128-s1" in warnings[0] and "Traceback" not in full_sweep["stderr"]


def test_report_prints_where_it_wrote_and_the_threshold_with_its_interval(full_sweep: dict) -> None:
    out = full_sweep["stdout"]
    assert str(full_sweep["root"].resolve()) in out
    assert re.search(r"threshold \(exact_match\): \d\.\d+e\+\d\d FLOPs \[\d\.\d+e\+\d\d, \d\.\d+e\+\d\d\]", out)


def test_exact_match_threshold_is_recovered_and_it_breaks_through_while_digit_accuracy_is_smooth(
    full_sweep: dict,
) -> None:
    fits = full_sweep["summary"]["fits"]
    em = fits["exact_match"]
    assert em["ok"] and abs(math.log10(em["threshold_flops"]) - TRUE_X0) < 0.1
    low, high = em["threshold_ci"]
    assert low <= em["threshold_flops"] <= high and high / low < 10**0.2
    assert em["breakthroughness"] > 2 * fits["digit_accuracy"]["breakthroughness"] > 0
    # Oriented so that improving is positive, whichever way the metric is read.
    assert fits["loss"]["breakthroughness"] > 0 and fits["edit_distance"]["breakthroughness"] > 0
    assert fits["loss"]["floor"] > fits["loss"]["ceiling"]  # in the metric's own units: loss falls


def test_summary_md_has_the_family_and_fit_tables(full_sweep: dict) -> None:
    text = (full_sweep["root"] / "summary.md").read_text()
    assert "| model | non-emb params | compute (FLOPs) |" in text
    assert re.search(r"\| exact_match \| \d\.\d+e\+\d\d \[\d\.\d+e\+\d\d, \d\.\d+e\+\d\d\] \|", text)
    assert "add3-d128-s1" in text and "d96" in text


def test_report_is_deterministic(full_sweep: dict) -> None:
    again = jsonable(analysis.summarize(analysis.load_sweep(full_sweep["root"])))
    assert again == full_sweep["summary"]


# ----------------------------------------------------------------------------- partial and broken sweeps


def test_sweep_without_completed_runs_exits_1_and_still_writes_the_summary(tmp_path: Path) -> None:
    for i, status in enumerate(("running", "failed")):
        (tmp_path / f"run{i}").mkdir()
        (tmp_path / f"run{i}" / "run.json").write_text(json.dumps(_run_json("d8", i, 1e9, status=status)))
    write_multirun_yaml(tmp_path, ["seed=0,1,2", "model=d8,d16"])
    assert report.main([str(tmp_path)]) == 1
    summary = json.loads((tmp_path / "summary.json").read_text(), parse_constant=_reject_nan)
    assert summary["n_completed"] == 0 and summary["families"] == []
    assert any("still running" in m for m in summary["missing"]) and any("failed" in m for m in summary["missing"])
    assert "4 of 6 expected runs have no folder" in summary["missing"]
    assert all(not fit["ok"] and fit["threshold_flops"] is None for fit in summary["fits"].values())
    assert all((tmp_path / name).is_file() for name in OUTPUTS)


def test_completed_run_without_metrics_csv_stays_in_the_fits_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = build_sweep(tmp_path, models={m: SIZES[m] for m in ("d8", "d24", "d48", "d96")}, seeds=(0, 1))
    (root / "add3-d96-s0" / "metrics.csv").unlink()
    assert report.main([str(root)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "add3-d96-s0" in err[0] and "warning" in err[0]
    summary = json.loads((root / "summary.json").read_text())
    assert summary["fits"]["exact_match"]["n_points"] == 8
    assert any(m.startswith("add3-d96-s0:") and "metrics.csv" in m for m in summary["missing"])


@pytest.mark.parametrize("kind", ["missing", "empty", "file", "only_unrelated_folders"])
def test_no_sweep_folder_exits_2_with_one_line_and_writes_nothing(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = tmp_path / "sweep"
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("not a folder")
    elif kind == "only_unrelated_folders":
        (target / "wandb").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    assert report.main([str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("toymodels-report: error: ")
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_cli_entry_point_exits_2_without_a_traceback(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "sweep"
    if kind == "empty":
        target.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "toymodels.cli.report", str(target)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert ("no sweep folder at" if kind == "missing" else "no run folders in") in proc.stderr


def test_report_never_imports_the_training_stack() -> None:
    modules = "toymodels.cli.report, toymodels.cli.forecast"
    code = f"import sys, {modules}; print(sorted({{'torch', 'lightning'}} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{oops", "invalid JSON"),
        ("[1, 2]", "not an object"),
        ('{"model": "d8"}', "no valid status"),
        ('{"status": "completed", "model": "d8", "flops": 1e9}', "no metrics"),
        ('{"status": "completed", "model": "d8", "metrics": {}, "flops": 0}', "no positive flops"),
    ],
)
def test_unusable_run_json_is_rejected_with_a_reason(content: str, reason: str, tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(ValueError, match=reason):
        analysis.load_run(tmp_path)


def test_expected_run_count_multiplies_the_sweep_axes(tmp_path: Path) -> None:
    overrides = ["model=d8,d16,d32", "seed=range(0,4)", "task=add", "optim.betas=[0.9,0.95]", "+lr=choice(1e-3,3e-3)"]
    write_multirun_yaml(tmp_path, overrides)
    assert analysis.expected_run_count(tmp_path / "multirun.yaml") == 3 * 4 * 2
    (tmp_path / "multirun.yaml").write_text("hydra: [unbalanced")
    assert analysis.expected_run_count(tmp_path / "multirun.yaml") is None
    assert analysis.expected_run_count(tmp_path / "absent.yaml") is None


def test_expected_run_count_reads_an_experiments_sweeper_params_and_lets_the_command_line_win(tmp_path: Path) -> None:
    params = {"seed": "0,1,2", "model": "d16,d24,d32,d48,d64,d96,d128"}
    write_multirun_yaml(tmp_path, ["experiment=emergence"], sweeper_params=params)
    assert analysis.expected_run_count(tmp_path / "multirun.yaml") == 21
    write_multirun_yaml(tmp_path, ["experiment=emergence", "seed=0"], sweeper_params=params)
    assert analysis.expected_run_count(tmp_path / "multirun.yaml") == 7


def test_expected_run_count_counts_each_member_of_a_seed_ensemble(tmp_path: Path) -> None:
    params = {"model": "d8,d16,d32"}
    write_multirun_yaml(tmp_path, ["experiment=emergence"], sweeper_params=params)
    path = tmp_path / "multirun.yaml"
    path.write_text(path.read_text() + "train:\n  ensemble: 4\n")  # the experiment's own ensemble
    assert analysis.expected_run_count(path) == 12
    write_multirun_yaml(tmp_path, ["experiment=emergence", "seed=0,8", "train.ensemble=8"], sweeper_params=params)
    assert analysis.expected_run_count(path) == 3 * 2 * 8


def test_wandb_flag_without_wandb_installed_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` raise ImportError
    assert upload_report(tmp_path, {"sweep": "s"}) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "wandb" in err


def test_wandb_upload_builds_its_table_and_images_with_the_real_api(
    full_sweep: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "disabled")  # the real API, no files, no network
    monkeypatch.setenv("WANDB_SILENT", "true")  # set here so the upload's setdefault does not outlive the test
    assert upload_report(full_sweep["root"], full_sweep["summary"]) == 0
    assert "W&B (disabled)" in capsys.readouterr().out


# ----------------------------------------------------------------------------- fitting


def _sigmoid_points(x0: float, floor: float, ceiling: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list]:
    """9 sizes over 4 decades of compute, 3 seeds each, noise 0.02 of the range."""
    rng = np.random.default_rng(seed)
    x = np.repeat(np.linspace(10.0, 14.0, 9), 3)
    y = analysis.sigmoid(x, floor, ceiling, x0, 0.25) + rng.normal(0, 0.02 * abs(ceiling - floor), x.size)
    return x, y, [f"size{i // 3}" for i in range(x.size)]


@pytest.mark.parametrize(("floor", "ceiling"), [(0.0, 1.0), (3.0, 0.5)], ids=["increasing", "decreasing"])
def test_fit_recovers_a_known_threshold_within_five_hundredths_of_a_decade_and_its_interval_covers_it(
    floor: float, ceiling: float
) -> None:
    x, y, _ = _sigmoid_points(12.3, floor, ceiling)
    seeds = [f"seed {i % 3}" for i in range(x.size)]
    fit = analysis.fit_sigmoid(x, y)
    assert fit.ok and abs(math.log10(fit.threshold_flops) - 12.3) < 0.05
    assert fit.floor == pytest.approx(floor, abs=0.1 * abs(ceiling - floor))
    assert fit.ceiling == pytest.approx(ceiling, abs=0.1 * abs(ceiling - floor))
    draws = analysis.bootstrap_x0(x, y, seeds)
    low, high = analysis.replication_interval(fit.x0, draws, 3, np.unique(x), fit.width_decades)
    assert low <= 12.3 <= high and low <= fit.x0 <= high and high - low < 0.5
    assert np.array_equal(analysis.bootstrap_x0(x, y, seeds), draws)  # seeded: same interval every time


def test_floor_and_ceiling_stay_inside_the_metrics_range() -> None:
    x = np.repeat(np.linspace(10.0, 14.0, 9), 3)
    y = np.clip(0.1 + 0.9 * analysis.sigmoid(x, 0.0, 1.2, 12.0, 0.6), 0, 1)  # saturates at 1 within the sweep
    fit = analysis.fit_sigmoid(x, y, analysis.metric_bounds("exact_match"))
    assert 0.0 <= fit.floor <= 1.0 and 0.0 <= fit.ceiling <= 1.0
    loss = analysis.fit_sigmoid(x, 2.5 - 2.5 * (x - 10.0) / 4.0, analysis.metric_bounds("loss"))
    assert min(loss.floor, loss.ceiling) >= 0.0
    assert analysis.metric_bounds("edit_distance", 4) == (0.0, 4.0)
    assert analysis.metric_bounds("answer_logprob")[1] == 0.0


def test_flat_metric_or_fewer_than_three_sizes_has_no_threshold() -> None:
    x, _, groups = _sigmoid_points(12.3, 0.0, 1.0)
    flat = analysis.fit_sigmoid(x, np.full(x.size, 0.25))
    assert not flat.ok and flat.threshold_flops is None and "flat" in flat.note
    two = analysis.fit_sigmoid(np.array([10.0, 10.0, 12.0, 12.0]), np.array([0.0, 0.1, 0.9, 1.0]))
    assert not two.ok and two.threshold_flops is None and "3 distinct" in two.note
    assert analysis.bootstrap_x0(x, np.full(x.size, 0.25), groups) is None


def test_a_linear_trend_is_gradual_and_gets_no_threshold() -> None:
    x = np.repeat(np.linspace(10.0, 14.0, 9), 3)
    y = 0.1 + 0.85 * (x - 10.0) / 4.0 + np.random.default_rng(0).normal(0, 0.01, x.size)
    fit = analysis.fit_sigmoid(x, y, (0.0, 1.0))
    assert not fit.ok and fit.gradual and "gradual" in fit.note


def test_threshold_beyond_the_compute_range_is_not_a_number() -> None:
    x, y, _ = _sigmoid_points(14.3, 0.0, 1.0)  # only the largest sizes leave the floor
    fit = analysis.fit_sigmoid(x, y)
    assert not fit.ok and fit.side == "above" and "above the swept range" in fit.note
    entry = summary_module.threshold_entry(None, "above", None, (10.0, 14.0))
    assert entry["threshold_flops"] is None and entry["threshold_text"].startswith("> 1.00e+14")


def test_interval_ends_beyond_the_swept_range_are_open_never_a_grid_edge() -> None:
    sizes = np.linspace(10.0, 14.0, 9)
    draws = np.array([9.5, 10.2, 10.4, 10.6] * 50)  # refits reaching below the smallest size
    low, high = analysis.replication_interval(10.4, draws, 6, sizes)
    assert low == -math.inf and 10.4 < high < 14.0
    entry = summary_module.threshold_entry(10.4, None, (low, high), (10.0, 14.0))
    assert entry["threshold_ci"][0] is None and entry["threshold_text"].split("[")[1].startswith("< 1.00e+10")


def test_breakthroughness_matches_a_hand_computed_example_and_floors_flat_steps_at_the_resolution() -> None:
    # diffs 0, 0.1, 0.8 -> median of squares 0.01 -> sqrt 0.1; I = +(0.9 - 0) -> 9.0
    assert analysis.breakthroughness(np.array([0.0, 0.0, 0.1, 0.9])) == pytest.approx(9.0)
    # the same curve falling: argmax before argmin -> negative
    assert analysis.breakthroughness(np.array([0.9, 0.1, 0.0, 0.0])) == pytest.approx(-9.0)
    # most steps flat: the median squared step is 0, the denominator is the resolution (1/eval_size)
    assert analysis.breakthroughness(np.array([0, 0, 0, 0, 1, 1, 1.0]), 1e-3) == pytest.approx(1000.0)
    assert analysis.breakthroughness(np.array([0.3, 0.3, 0.3])) is None
    assert analysis.breakthroughness(np.array([0.3])) is None


# ----------------------------------------------------------------------------- solve probability, seeds

DEMO_SIZES = np.log10([1.3e10, 4.5e10, 9.5e10, 1.6e11, 7.0e11, 1.2e12, 2.7e12])


def _seed_sweep(n_seeds: int, centre: float, rng: np.random.Generator, spread: float = 0.3) -> analysis.Sweep:
    """Each seed escapes its plateau at its own log-threshold ~ N(centre, spread), at every size above it."""
    runs = []
    for seed in range(n_seeds):
        jump = rng.normal(centre, spread)
        for i, x in enumerate(DEMO_SIZES):
            em = float(np.clip(analysis.sigmoid(x, 0.001, 0.99, jump, 0.03) + rng.normal(0, 0.005), 0, 1))
            info = {"status": "completed", "model": f"d{i}", "seed": seed, "flops": 10**x, "eval_size": 1000}
            runs.append(analysis.RunRecord(f"d{i}-s{seed}", Path("."), {**info, "metrics": {"exact_match": em}}))
    return analysis.Sweep("synthetic", Path("."), runs)


def test_solve_probability_counts_seeds_per_size_with_wilson_intervals() -> None:
    solve = analysis.solve_threshold(_seed_sweep(6, 11.4, np.random.default_rng(0)).runs)
    fractions = [row["fraction"] for row in solve["per_size"]]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert all(row["wilson"][0] <= row["fraction"] <= row["wilson"][1] for row in solve["per_size"])
    assert solve["threshold_flops"] is not None and solve["level"] == 0.9


def test_seed_level_jumps_the_interval_covers_the_truth_and_each_half_lies_in_the_others_interval() -> None:
    covered, mutual = [], []
    for draw in range(8):
        sweep = _seed_sweep(6, 11.4, np.random.default_rng(draw))
        solve = analysis.solve_threshold(sweep.runs)
        low, high = (math.log10(v) if v else s for v, s in zip(solve["threshold_ci"], (-math.inf, math.inf)))
        covered.append(low <= 11.4 <= high)
        mutual.append(analysis.split_half_check(sweep)["fraction_mutually_covered"])
    assert np.mean(covered) >= 0.85, covered
    assert np.mean(mutual) >= 0.8, mutual


def test_one_seed_per_size_has_no_interval_never_a_zero_width_one() -> None:
    sweep = _seed_sweep(1, 11.4, np.random.default_rng(1), spread=0.0)
    solve = analysis.solve_threshold(sweep.runs)
    assert solve["threshold_ci"] is None and "one seed per size" in solve["note"]
    families = analysis.family_table(sweep.runs)
    fit = analysis.fit_metric(sweep.runs, families, "exact_match")
    assert fit["threshold_ci"] is None


def test_nobody_solving_reads_above_the_swept_range() -> None:
    solve = analysis.solve_threshold(_seed_sweep(3, 14.0, np.random.default_rng(2), spread=0.01).runs)
    assert solve["threshold_flops"] is None and solve["side"] == "above"
    assert solve["threshold_text"].startswith("> 2.70e+12")


def test_split_half_check_needs_four_seeds() -> None:
    check = analysis.split_half_check(_seed_sweep(3, 11.4, np.random.default_rng(3)))
    assert check["splits"] == [] and "at least 4" in check["note"]


def test_disjoint_seed_sets_of_a_chosen_size_count_how_many_seeds_reproduce_a_threshold() -> None:
    sweep = _seed_sweep(8, 11.4, np.random.default_rng(4))
    check = analysis.split_half_check(sweep, per_set=3, max_splits=12)
    assert len(check["splits"]) == 12
    for split in check["splits"]:
        assert len(split["seeds_a"]) == len(split["seeds_b"]) == 3 and not set(split["seeds_a"]) & set(split["seeds_b"])
    closed = [s["closed"] for s in check["splits"]]
    assert check["fraction_closed"] == np.mean(closed) and "inside the swept range" in check["note"]
    assert "at least 10" in analysis.split_half_check(sweep, per_set=5)["note"]


def test_binomial_standard_error_of_the_crossing_matches_simulation():
    # Many simulated seed sets from a known logistic: the delta-method standard error of the fitted
    # crossing agrees with the spread of the crossings (the interval of the solve threshold uses it).
    from toymodels.analysis import fits

    rng = np.random.default_rng(0)
    x = np.repeat(np.linspace(10.0, 12.5, 7), 6)  # 7 sizes x 6 seeds
    p = 1 / (1 + np.exp(-2.5 * (x - 11.4)))
    crossings, errors = [], []
    for _ in range(300):
        k = (rng.random(x.size) < p).astype(float)
        a, b = fits.logistic_regression(x, k, np.ones_like(k), np.ones((1, k.size)))
        crossings.append(-a[0] / b[0])
        errors.append(fits.logistic_threshold_se(x, np.ones_like(k), a[0], b[0]))
    assert np.median(errors) == pytest.approx(np.std(crossings), rel=0.25)
