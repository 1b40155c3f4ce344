"""The notebook API of `toymodels.analysis`: a sweep as a tidy DataFrame, a report's summary.json read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

from tests.analysis.test_abilities import SKILLS, build_mixture_sweep  # noqa: E402
from tests.analysis.test_arms import FORMAT_ARMS, build_arms  # noqa: E402
from tests.analysis.test_report import SEEDS, SIZES, build_sweep  # noqa: E402
from toymodels import analysis  # noqa: E402
from toymodels.analysis.sweep import read_metrics_csv  # noqa: E402
from toymodels.labs import example_dir  # noqa: E402


def _csv_rows(run_dir: Path) -> int:
    return len((run_dir / "metrics.csv").read_text().strip().splitlines()) - 1


def test_the_frame_has_one_row_per_metrics_csv_row_with_each_runs_model_seed_and_flops(tmp_path: Path) -> None:
    root = build_sweep(tmp_path / "sweep")
    sweep = analysis.load_sweep(root)
    frame = sweep.to_frame()
    assert len(frame) == sum(_csv_rows(run.path) for run in sweep.runs) == len(SIZES) * len(SEEDS) * 6
    assert {"model", "params", "non_embedding_params", "seed", "arm", "flops", "tokens", "step",
            *analysis.METRICS} <= set(frame.columns)
    assert frame["arm"].isna().all()  # no axis besides model and seed
    for run in sweep.runs:
        rows = frame[frame["run"] == run.name]
        curve = read_metrics_csv(run.path / "metrics.csv")
        assert set(rows["model"]) == {run.model} and set(rows["seed"]) == {run.seed}
        assert set(rows["non_embedding_params"]) == {run.info["non_embedding_params"]}
        assert rows["flops"].tolist() == pytest.approx(curve["flops"].tolist())
        assert rows["flops"].max() == pytest.approx(run.flops, rel=1e-5)  # the last evaluation is the final one
        assert rows["exact_match"].tolist() == pytest.approx(curve["exact_match"].tolist())


def test_a_run_without_a_readable_metrics_csv_has_no_rows_and_is_listed(tmp_path: Path) -> None:
    root = build_sweep(tmp_path / "sweep", models={"d8": (8, 2), "d16": (16, 2)}, seeds=(0, 1))
    (root / "add3-d8-s0" / "metrics.csv").unlink()
    (root / "add3-d16-s1" / "metrics.csv").write_bytes(b"\xff\xfe\x00garbage")
    frame = analysis.load_sweep(root).to_frame()
    assert set(frame["run"]) == {"add3-d8-s1", "add3-d16-s0"} and len(frame) == 2 * 6
    assert [line.split(":")[0] for line in frame.attrs["skipped"]] == ["add3-d16-s1", "add3-d8-s0"]


def test_arms_label_their_rows_and_mixture_skills_stay_columns(tmp_path: Path) -> None:
    arms = build_arms(tmp_path / "arms", FORMAT_ARMS, seeds=(0, 1))
    for run_dir in arms.iterdir():  # the arms builder writes run.json only: give each run two evaluation points
        flops = json.loads((run_dir / "run.json").read_text())["flops"]
        (run_dir / "metrics.csv").write_text(f"step,tokens,flops,exact_match\n1,10,{flops / 10},0\n2,20,{flops},0.5\n")
    frame = analysis.load_sweep(arms).to_frame()
    assert set(frame["arm"]) == {"task.format=reversed", "task.format=scratchpad"}
    assert len(frame) == 2 * len(list(arms.iterdir()))

    mixture = analysis.load_sweep(build_mixture_sweep(tmp_path / "mix", seeds=(0,)))
    frame = mixture.to_frame()
    assert len(frame) == sum(_csv_rows(run.path) for run in mixture.runs)
    assert {f"{name}/exact_match" for name in SKILLS} | {"loss"} <= set(frame.columns)


def test_load_summary_reads_a_reports_summary_json_or_says_why_not_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"sweep": "s", "fits": {}}))
    assert analysis.load_summary(tmp_path)["sweep"] == "s"
    assert analysis.load_summary(tmp_path / "summary.json")["sweep"] == "s"
    for content, reason in (("{oops", "not valid JSON"), ("[1, 2]", "not a report summary"), (None, "no summary.json")):
        folder = tmp_path / f"case{len(reason)}"
        folder.mkdir()
        if content is not None:
            (folder / "summary.json").write_text(content)
        with pytest.raises(analysis.SweepError, match=reason) as err:
            analysis.load_summary(folder)
        assert len(str(err.value).splitlines()) == 1


def test_the_frame_of_a_real_demo_family_sweep_has_one_row_per_metrics_csv_row() -> None:
    """Lab 1's shipped example: the demo family (7 sizes x 3 seeds) trained by the real CLI."""
    folder = example_dir("jump")
    frame = analysis.load_sweep(folder).to_frame()
    files = sorted(folder.glob("*/metrics.csv"))
    lines = sum(len(f.read_text().strip().splitlines()) - 1 for f in files)  # minus each header
    assert len(files) == 21 and len(frame) == lines and not frame.attrs["skipped"]
    assert set(frame["model"]) == {"d8", "d16", "d24", "d32", "d48", "d64", "d96"}
    assert frame.groupby("run").size().to_dict() == {f.parent.name: len(f.read_text().strip().splitlines()) - 1
                                                     for f in files}
