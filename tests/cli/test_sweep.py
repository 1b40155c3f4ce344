"""A tiny real sweep through the CLIs: training multirun, then the report; and the benchmark's smoke mode."""

import json

import pytest

from tests.helpers import REPO, SMALL_RUN, run_cli


@pytest.mark.slow
def test_tiny_sweep_runs_end_to_end_through_train_and_report(tmp_path):
    sweep = tmp_path / "sweep"
    train = run_cli("toymodels.cli.train", "-m", *SMALL_RUN, "eval.size=200", "train.tokens=null", "train.steps=40",
                    "model=d8,d16", "seed=0", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-2000:]
    assert "[sweep] 2 of 2 done" in train.stdout
    report = run_cli("toymodels.cli.report", str(sweep), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "threshold (exact_match)" in report.stdout
    for name in ("emergence.png", "mirage.png", "curves.png", "summary.json", "summary.md"):
        assert (sweep / name).stat().st_size > 0
    summary = json.loads((sweep / "summary.json").read_text())
    assert [r["model"] for r in sorted(summary["runs"], key=lambda r: r["flops"])] == ["d8", "d16"]
    assert summary["n_runs_expected"] == 2 and summary["n_completed"] == 2


def test_bench_smoke_mode_runs_the_same_code_paths(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_cli("scripts.bench", "--smoke", "--json", str(out), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["matmul_ceiling_gflops"] > 0
    (row,) = result["models"]
    assert row["model"] == "d16" and row["tokens_per_s"] > 0 and row["bare_tokens_per_s"] > 0
    assert "MFU" in proc.stdout
