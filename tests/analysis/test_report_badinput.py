"""Issue 26 for `toymodels-report` and `toymodels-forecast`: every bad input is refused cleanly.

Clean (tests/badinput.py): a non-zero exit that is not a timeout, no traceback, the last line an error
naming the problem, nothing new written and no existing file changed. Every case starts from a sweep
whose good report (or forecast) was written first, so "nothing changed" proves that the earlier
outputs are byte-identical afterwards. Corrupt files that only spoil one run are skipped with a
one-line warning; when every run is spoilt the command refuses. Hypothesis draws option lists and
checks that each either runs (exit 0, every output there) or is refused cleanly.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import matplotlib.figure
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analysis.test_forecast import build_family
from tests.analysis.test_report import SIZES, build_sweep
from tests.badinput import assert_refused_cleanly, snapshot
from tests.helpers import run_cli
from toymodels.analysis.forecast_report import OUTPUTS as FORECAST_OUTPUTS
from toymodels.analysis.report import OUTPUTS as REPORT_OUTPUTS
from toymodels.cli import forecast, report

FIT_BELOW = "3e12"  # the family below: 5 sizes from 1e10 to 1e13 FLOPs, 3 of them at or below this


@pytest.fixture(scope="module")
def good_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep (4 sizes x 2 seeds) with its good report written."""
    root = build_sweep(tmp_path_factory.mktemp("good") / "sweep", models={m: SIZES[m] for m in ("d8", "d16", "d32",
                                                                                                  "d64")}, seeds=(0, 1))
    assert report.main([str(root)]) == 0
    assert all((root / name).is_file() for name in REPORT_OUTPUTS)
    return root


@pytest.fixture(scope="module")
def good_forecast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A family (5 sizes x 2 seeds) with its good forecast written."""
    root = build_family(tmp_path_factory.mktemp("good") / "family", sizes=np.linspace(10.0, 13.0, 5), seeds=(0, 1))
    assert forecast.main([str(root), "--fit-below", FIT_BELOW]) == 0
    assert all((root / name).is_file() for name in FORECAST_OUTPUTS)
    return root


def _copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / src.name
    shutil.copytree(src, dest)
    return dest


def call(main, argv: list[str], capsys: pytest.CaptureFixture) -> SimpleNamespace:
    """main(argv) in-process, as a CompletedProcess-like object (an exception other than SystemExit fails the test)."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def runs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / "run.json").is_file())


def edit_run_json(sweep: Path, change, only_first: bool = False) -> None:
    for run in runs(sweep)[:1] if only_first else runs(sweep):
        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps(change(info)))


def set_key(key: str, value):
    return lambda info: {**info, key: value}


# ----------------------------------------------------------------------------- the report: options


REPORT_BAD_OPTIONS = {
    "split_seeds_0": ["--split-seeds", "0"],
    "split_seeds_negative": ["--split-seeds", "-2"],
    "split_seeds_text": ["--split-seeds", "two"],
    "solve_level_nan": ["--solve-level", "nan"],
    "solve_level_inf": ["--solve-level", "inf"],
    "solve_level_2": ["--solve-level", "2"],
    "solve_level_5": ["--solve-level", "5"],
    "solve_level_negative": ["--solve-level", "-1"],
    "solve_level_0": ["--solve-level", "0"],
    "solve_level_text": ["--solve-level", "half"],
    "resolution_0": ["--resolution", "0"],
    "resolution_negative": ["--resolution", "-5"],
    "resolution_fraction": ["--resolution", "1.5"],
    "resolution_more_than_the_runs_have": ["--resolution", "2"],  # no final_problems.npz in this sweep
    "problems_0": ["--x", "total_flops", "--problems", "0"],
    "problems_negative": ["--x", "total_flops", "--problems", "-10"],
    "mirage_on_a_single_task_sweep": ["--mirage", "add4"],
    "mirage_empty": ["--mirage", ""],
    "arm_axis_empty": ["--arm-axis", ""],
    "arm_axis_comma": ["--arm-axis", ","],
    "arm_axis_unknown": ["--arm-axis", "train.nothing"],
    "arm_metric_unknown": ["--arm-metric", "accuracy"],
    "x_unknown": ["--x", "wall_seconds"],
    "unknown_flag": ["--bad-option"],
    "wandb_project_empty": ["--wandb-project", ""],
}


@pytest.mark.parametrize("case", list(REPORT_BAD_OPTIONS))
def test_report_refuses_a_bad_option_and_keeps_the_good_report(case: str, good_report: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_report, tmp_path)
    before, started = snapshot(tmp_path), time.monotonic()
    proc = call(report.main, [str(sweep), *REPORT_BAD_OPTIONS[case]], capsys)
    assert_refused_cleanly(proc, before, tmp_path, started=started)
    assert proc.returncode == 2


# ----------------------------------------------------------------------------- the report: sweeps and files


def _truncate_all(sweep: Path) -> None:
    for run in runs(sweep):
        (run / "run.json").write_text((run / "run.json").read_text()[:40])


def _every_run(change):
    return lambda sweep: edit_run_json(sweep, change)


REPORT_BAD_SWEEPS = {
    "every_run_json_truncated": _truncate_all,
    "every_run_json_a_list": lambda s: [(r / "run.json").write_text("[1, 2]") for r in runs(s)],
    "every_run_json_empty": lambda s: [(r / "run.json").write_text("") for r in runs(s)],
    "every_run_json_binary": lambda s: [(r / "run.json").write_bytes(b"\xff\xfe\x00") for r in runs(s)],
    "every_run_json_nested_too_deeply": lambda s: [(r / "run.json").write_text("[" * 100_000) for r in runs(s)],
    "flops_a_string": _every_run(set_key("flops", "1e12")),
    "metrics_not_an_object": _every_run(set_key("metrics", [0.5])),
    "metric_a_string": _every_run(lambda i: {**i, "metrics": {**i["metrics"], "exact_match": "high"}}),
    "seed_a_string": _every_run(set_key("seed", "0")),
    "status_unknown": _every_run(set_key("status", "done")),
    "model_missing": _every_run(lambda i: {k: v for k, v in i.items() if k != "model"}),
    "chance_a_list": _every_run(set_key("chance", [0.1])),
    "config_a_string": _every_run(set_key("config", "task=add")),
    "grok_gap_malformed": _every_run(set_key("grok_gap", {"train": 3})),
    "grok_gap_a_number": _every_run(set_key("grok_gap", 7)),
    "skills_not_records": _every_run(set_key("skills", ["add2"])),
    "skill_name_a_path": _every_run(set_key("skills", [{"name": "../../x", "weight": 1.0, "eval_only": False}])),
}


@pytest.mark.parametrize("case", list(REPORT_BAD_SWEEPS))
def test_report_refuses_a_sweep_whose_every_run_is_corrupt(case: str, good_report: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_report, tmp_path)
    REPORT_BAD_SWEEPS[case](sweep)
    before = snapshot(tmp_path)
    proc = call(report.main, [str(sweep)], capsys)
    assert_refused_cleanly(proc, before, tmp_path)
    assert proc.returncode == 2 and "run.json" in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("case", ["missing", "a_file", "empty", "only_other_folders"])
def test_report_refuses_what_is_not_a_sweep_folder(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = tmp_path / "sweep"
    if case == "a_file":
        target.write_text("summary")
    elif case == "empty":
        target.mkdir()
    elif case == "only_other_folders":
        (target / "wandb").mkdir(parents=True)
    before = snapshot(tmp_path)
    assert_refused_cleanly(call(report.main, [str(target)], capsys), before, tmp_path)


CORRUPT_ONE_RUN = {  # file -> how: the run is skipped or loses its curve, with one warning line naming it
    "run.json truncated": ("run.json", lambda r: (r / "run.json").write_text("{")),
    "run.json flops a string": ("run.json", lambda r: (r / "run.json").write_text(json.dumps(
        {**json.loads((r / "run.json").read_text()), "flops": "many"}))),
    "metrics.csv without metric columns": ("metrics.csv", lambda r: (r / "metrics.csv").write_text(
        "\n".join(",".join(line.split(",")[:3]) for line in (r / "metrics.csv").read_text().splitlines()) + "\n")),
    "metrics.csv with a 200 KB field": ("metrics.csv", lambda r: (r / "metrics.csv").write_text(
        (r / "metrics.csv").read_text() + "x" * 200_000 + "\n")),
    "metrics.csv pos_acc_x": ("pos_acc_x", lambda r: (r / "metrics.csv").write_text(
        (r / "metrics.csv").read_text().replace("pos_acc_0", "pos_acc_x", 1))),
    "metrics.csv pos_acc_-1": ("pos_acc_-1", lambda r: (r / "metrics.csv").write_text(
        (r / "metrics.csv").read_text().replace("pos_acc_0", "pos_acc_-1", 1))),
    "metrics.csv binary": ("metrics.csv", lambda r: (r / "metrics.csv").write_bytes(b"\x00\xff" * 50)),
    "metrics.csv empty": ("metrics.csv", lambda r: (r / "metrics.csv").write_text("")),
}


@pytest.mark.parametrize("case", list(CORRUPT_ONE_RUN))
def test_report_skips_one_corrupt_run_with_one_warning_naming_the_file(case: str, good_report: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_report, tmp_path)
    named, spoil = CORRUPT_ONE_RUN[case]
    spoil(runs(sweep)[-1])
    with fast_figures():
        proc = call(report.main, [str(sweep)], capsys)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 1 and "warning" in warnings[0] and runs(sweep)[-1].name in warnings[0], proc.stderr
    assert named in warnings[0]
    assert all((sweep / name).is_file() for name in REPORT_OUTPUTS)


def test_report_warns_once_about_a_corrupt_multirun_yaml(good_report: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_report, tmp_path)
    (sweep / "multirun.yaml").write_text("hydra: [\n  - {")
    with fast_figures():
        proc = call(report.main, [str(sweep)], capsys)
    assert proc.returncode == 0
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [
        line for line in proc.stderr.splitlines() if "multirun.yaml" in line and "warning" in line] != []


@pytest.mark.parametrize("case", ["different_lengths", "two_dimensional", "not_numbers", "no_arrays", "not_a_zip"])
def test_resolution_refuses_final_problems_npz_it_cannot_score(case: str, good_report: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_report, tmp_path)
    for run in runs(sweep):
        path = run / "final_problems.npz"
        if case == "different_lengths":
            np.savez(path, correct=np.ones(40, bool), logprob=np.zeros(39))
        elif case == "two_dimensional":
            np.savez(path, correct=np.ones((40, 2), bool), logprob=np.zeros((40, 2)))
        elif case == "not_numbers":
            np.savez(path, correct=np.array(["yes"] * 40), logprob=np.zeros(40))
        elif case == "no_arrays":
            np.savez(path, other=np.zeros(3))
        else:
            path.write_bytes(b"PK\x03\x04 not a zip")
    before = snapshot(tmp_path)
    proc = call(report.main, [str(sweep), "--resolution", "10"], capsys)
    assert_refused_cleanly(proc, before, tmp_path)
    assert "final_problems.npz" in proc.stderr


def test_one_run_folder_with_a_malformed_grok_gap_is_refused(good_report: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    run = _copy(runs(good_report)[0], tmp_path)
    edit_run_json(run.parent, set_key("grok_gap", {"train": {"step": 1}}))
    before = snapshot(tmp_path)
    proc = call(report.main, [str(run)], capsys)
    assert_refused_cleanly(proc, before, tmp_path)
    assert "grok_gap" in proc.stderr


# ----------------------------------------------------------------------------- the report: --example


@pytest.mark.parametrize("case", ["unknown_lab", "dest_exists", "bad_option", "solve_level_nan", "split_seeds_0",
                                  "mirage_not_a_mixture", "arm_axis_unknown"])
def test_example_refuses_before_copying_and_leaves_nothing(case: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "new"
    argv = {"unknown_lab": ["--example", "nolab", str(dest)],
            "dest_exists": ["--example", "jump", str(tmp_path)],
            "bad_option": ["--example", "jump", str(dest), "--bad-option"],
            "solve_level_nan": ["--example", "jump", str(dest), "--solve-level", "nan"],
            "split_seeds_0": ["--example", "jump", str(dest), "--split-seeds", "0"],
            "mirage_not_a_mixture": ["--example", "jump", str(dest), "--mirage", "add2"],  # found after copying
            "arm_axis_unknown": ["--example", "jump", str(dest), "--arm-axis", "train.nothing"]}[case]
    (tmp_path / "keep.txt").write_text("an existing file")
    before = snapshot(tmp_path)
    proc = call(report.main, argv, capsys)
    assert_refused_cleanly(proc, before, tmp_path)
    assert not dest.exists()


# ----------------------------------------------------------------------------- the forecast


FORECAST_BAD_OPTIONS = {
    "solve_level_nan": ["--fit-below", FIT_BELOW, "--solve-level", "nan"],
    "solve_level_2": ["--fit-below", FIT_BELOW, "--solve-level", "2"],
    "solve_level_5": ["--fit-below", FIT_BELOW, "--solve-level", "5"],
    "solve_level_negative": ["--fit-below", FIT_BELOW, "--solve-level", "-1"],
    "solve_level_0": ["--fit-below", FIT_BELOW, "--solve-level", "0"],
    "solve_level_inf": ["--fit-below", FIT_BELOW, "--solve-level", "inf"],
    "fit_below_nan": ["--fit-below", "nan"],
    "fit_below_negative": ["--fit-below", "-1e12"],
    "fit_below_0": ["--fit-below", "0"],
    "fit_below_inf": ["--fit-below", "inf"],
    "fit_below_text": ["--fit-below", "lots"],
    "fit_below_too_low": ["--fit-below", "1e9"],
    "fit_below_above_everything": ["--fit-below", "1e20"],
    "fit_models_empty": ["--fit-models", ""],
    "fit_models_comma": ["--fit-models", ","],
    "fit_models_empty_name": ["--fit-models", "d0,,d1"],
    "fit_models_unknown": ["--fit-models", "d0,d1,d99"],
    "fit_models_too_few": ["--fit-models", "d0,d1"],
    "both_cutoffs": ["--fit-below", FIT_BELOW, "--fit-models", "d0,d1,d2"],
    "no_cutoff": [],
    "unknown_flag": ["--fit-below", FIT_BELOW, "--bad-option"],
    "wandb_project_empty": ["--fit-below", FIT_BELOW, "--wandb-project", ""],
}


@pytest.mark.parametrize("case", list(FORECAST_BAD_OPTIONS))
def test_forecast_refuses_a_bad_option_and_keeps_the_good_forecast(case: str, good_forecast: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_forecast, tmp_path)
    before, started = snapshot(tmp_path), time.monotonic()
    proc = call(forecast.main, [str(sweep), *FORECAST_BAD_OPTIONS[case]], capsys)
    assert_refused_cleanly(proc, before, tmp_path, started=started)
    assert proc.returncode == 2


def _every_csv(change):
    def spoil(sweep: Path) -> None:
        for run in runs(sweep):
            (run / "metrics.csv").write_text(change((run / "metrics.csv").read_text()))
    return spoil


FORECAST_BAD_SWEEPS = {
    "missing": lambda s: shutil.rmtree(s),
    "a_file": lambda s: shutil.rmtree(s) or s.write_text("x"),
    "every_run_json_truncated": _truncate_all,
    "every_run_json_a_list": lambda s: [(r / "run.json").write_text("[]") for r in runs(s)],
    "flops_a_string": _every_run(set_key("flops", "big")),
    "metrics_not_an_object": _every_run(set_key("metrics", "good")),
    "mixed_tasks": lambda s: edit_run_json(s, set_key("task_label", "other"), only_first=True),
    "csv_without_metric_columns": _every_csv(lambda t: "\n".join(",".join(x.split(",")[:3]) for x in t.splitlines())),
    "csv_with_a_200kb_field": _every_csv(lambda t: t + "x" * 200_000 + "\n"),
    "csv_pos_acc_x": _every_csv(lambda t: t.replace("pos_acc_0", "pos_acc_x", 1)),
    "csv_pos_acc_-1": _every_csv(lambda t: t.replace("pos_acc_0", "pos_acc_-1", 1)),
    "csv_inf_values": _every_csv(lambda t: "\n".join([t.splitlines()[0]] + [
        ",".join(x.split(",")[:3] + ["inf"] * (len(x.split(",")) - 3)) for x in t.splitlines()[1:]])),
    "csv_empty": _every_csv(lambda t: ""),
}


@pytest.mark.parametrize("case", list(FORECAST_BAD_SWEEPS))
def test_forecast_refuses_a_sweep_it_cannot_use(case: str, good_forecast: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_forecast, tmp_path)
    FORECAST_BAD_SWEEPS[case](sweep)
    before = snapshot(tmp_path)
    proc = call(forecast.main, [str(sweep), "--fit-below", FIT_BELOW], capsys)
    assert_refused_cleanly(proc, before, tmp_path)


def test_forecast_skips_one_corrupt_run_with_a_warning(good_forecast: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    sweep = _copy(good_forecast, tmp_path)
    (runs(sweep)[0] / "metrics.csv").write_text("step,flops\n")
    (runs(sweep)[1] / "run.json").write_text("{")
    with fast_figures():
        proc = call(forecast.main, [str(sweep), "--fit-below", FIT_BELOW], capsys)
    assert proc.returncode == 0
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 2 and all("warning" in w for w in warnings)
    assert runs(sweep)[0].name in proc.stderr and "metrics.csv" in proc.stderr and "run.json" in proc.stderr


# ----------------------------------------------------------------------------- the real console scripts


@pytest.mark.parametrize("module, args", [
    ("toymodels.cli.report", ["--solve-level", "nan"]),
    ("toymodels.cli.report", ["--split-seeds", "0"]),
    ("toymodels.cli.report", ["TRUNCATE"]),
    ("toymodels.cli.forecast", ["--fit-below", FIT_BELOW, "--solve-level", "nan"]),
    ("toymodels.cli.forecast", ["--fit-models", ","]),
    ("toymodels.cli.forecast", ["--fit-below", FIT_BELOW, "CSV"]),
])
def test_cli_subprocess_refuses_cleanly(module: str, args: list[str], good_report: Path, good_forecast: Path,
                                        tmp_path: Path) -> None:
    sweep = _copy(good_report if module.endswith("report") else good_forecast, tmp_path)
    if "TRUNCATE" in args:
        _truncate_all(sweep)
    if "CSV" in args:
        FORECAST_BAD_SWEEPS["csv_without_metric_columns"](sweep)
    before, started = snapshot(tmp_path), time.monotonic()
    proc = run_cli(module, str(sweep), *[a for a in args if a not in ("TRUNCATE", "CSV")], timeout=120)
    assert_refused_cleanly(proc, before, tmp_path, started=started)
    assert proc.returncode == 2


def test_cli_example_with_a_bad_option_copies_nothing(tmp_path: Path) -> None:
    before, started = snapshot(tmp_path), time.monotonic()
    proc = run_cli("toymodels.cli.report", "--example", "jump", str(tmp_path / "new"), "--bad-option", timeout=120)
    assert_refused_cleanly(proc, before, tmp_path, started=started)
    assert not (tmp_path / "new").exists()


# ----------------------------------------------------------------------------- property-based: option lists


@contextmanager
def fast_figures():
    """Figures are built as usual but saved as a stub: the fuzzing is about the options, not the drawing."""
    stub = lambda self, path, **kw: Path(path).write_bytes(b"png")  # noqa: E731
    with mock.patch.object(matplotlib.figure.Figure, "savefig", stub):
        yield


NUMBERS = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1", "0.5", "2", "5", "1e308", "-1e308", "3", "1e12",
                           "3e12", "1.5", "", " ", "x", "d0,d1,d2", ",", "d0", "add4", "all"])
VALUES = st.one_of(NUMBERS, st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(-10**6, 10**6).map(str), st.text(max_size=6),
                   st.sampled_from(["train_flops", "total_flops", "loss", "exact_match", "seed", "model"]))
REPORT_EXAMPLES, FORECAST_EXAMPLES = 50, 80  # sized so that the file runs in under 60 s on one core
# Per flag, values it accepts: drawn half the time, so that the lists that run reach the report's later checks.
REPORT_GOOD = {"--solve-level": ["0.5", "0.9", "1", "1e-3"], "--split-seeds": ["1", "2", "3", "10"],
               "--resolution": ["1", "50"], "--problems": ["100", "1"], "--x": ["train_flops", "total_flops"],
               "--arm-axis": ["task.format", "seed"], "--arm-metric": ["loss", "digit_accuracy"], "--mirage": ["all"],
               "--wandb-project": ["mine"], "--bogus": [], "-z": []}
FORECAST_GOOD = {"--solve-level": ["0.5", "0.3", "1", "0.01"], "--fit-below": [FIT_BELOW, "1e12", "1e13"],
                 "--fit-models": ["d0,d1,d2", "d1,d2,d3", "d0,d1,d2,d0"], "--wandb-project": ["mine"], "--bogus": [],
                 "-q": []}


def _option_lists(good: dict[str, list[str]]):
    def value(flag: str):
        return st.one_of(st.sampled_from(good[flag]), VALUES) if good[flag] else VALUES

    pair = st.sampled_from(list(good)).flatmap(lambda flag: st.tuples(st.just(flag), st.booleans(), value(flag)))
    return st.lists(pair, max_size=3).map(
        lambda items: [token for flag, bare, v in items for token in ([flag] if bare else [flag, v])])


@settings(max_examples=REPORT_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=_option_lists(REPORT_GOOD))
def test_fuzz_report_options_either_run_or_are_refused_cleanly(argv: list[str], good_report: Path,
                                                               tmp_path_factory: pytest.TempPathFactory,
                                                               capsys: pytest.CaptureFixture) -> None:
    _fuzz_one(report.main, good_report, argv, REPORT_OUTPUTS, [], tmp_path_factory, capsys, FUZZ["report"])


@settings(max_examples=FORECAST_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=_option_lists(FORECAST_GOOD))
def test_fuzz_forecast_options_either_run_or_are_refused_cleanly(argv: list[str], good_forecast: Path,
                                                                 tmp_path_factory: pytest.TempPathFactory,
                                                                 capsys: pytest.CaptureFixture) -> None:
    # Most drawn lists name no cutoff; half of them get a good one first, so the other options are reached.
    prefix = ["--fit-below", FIT_BELOW] if len(argv) % 2 == 0 else []
    _fuzz_one(forecast.main, good_forecast, argv, FORECAST_OUTPUTS, prefix, tmp_path_factory, capsys, FUZZ["forecast"])


FUZZ: dict[str, dict] = {kind: {"tried": 0, "ran": 0, "refused": 0} for kind in ("report", "forecast")}


def _fuzz_one(main, src: Path, argv: list[str], outputs: tuple[str, ...], prefix: list[str],
              tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture, tally: dict) -> None:
    tally["tried"] += 1
    sweep = tmp_path_factory.mktemp("fuzz") / "sweep"
    shutil.copytree(src, sweep)
    for name in outputs:  # so that "ran" proves every output was written again
        (sweep / name).unlink()
    before = snapshot(sweep)
    with fast_figures():
        proc = call(main, [str(sweep), *prefix, *argv], capsys)
    if proc.returncode == 0:
        tally["ran"] += 1
        assert "Traceback" not in proc.stderr and all((sweep / name).is_file() for name in outputs), (argv, proc)
        assert not [p for p in sweep.iterdir() if p.name.startswith(".")], "a staging folder was left behind"
    else:
        tally["refused"] += 1
        assert_refused_cleanly(proc, before, sweep)
    shutil.rmtree(sweep.parent)


def test_fuzzing_tried_the_examples_it_says() -> None:
    """Runs after the two fuzz tests (file order): how many option lists each tried, ran and refused."""
    print(f"hypothesis examples: {FUZZ}")
    for tally in FUZZ.values():
        if tally["tried"]:  # when the fuzz tests ran in this process (not on another xdist worker)
            assert tally["tried"] >= 40 and tally["ran"] + tally["refused"] == tally["tried"], FUZZ
            assert tally["refused"] > 0 and tally["ran"] > 0, FUZZ
