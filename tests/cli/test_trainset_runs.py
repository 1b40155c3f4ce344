"""Finite training sets through the CLI: records, resume in the same epoch order, bad input, the report.

The other bad sizes (0, full batch without a set, a batch above the set) are checked on build_run in
test_trainset.py; here two show that the CLI turns them into one line and writes nothing."""

import json

import pytest

from tests.helpers import read_metrics, run_cli

# 50 problems of mod 13 in batches of 16: batches straddle epochs, so the epoch order matters.
RUN = ("task=mod", "task.p=13", "task.train_size=50", "train.batch_size=16", "model=d8", "eval.size=30",
       "train.tokens=null", "train.steps=60", "train.checkpoint_every=20")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: its folder and its output."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    proc = run_cli("toymodels.cli.train", *RUN, f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir, proc


@pytest.mark.slow
def test_finite_set_run_records_train_metrics_weight_norm_epochs_and_grok_gap(reference, tmp_path):
    run_dir, proc = reference
    record = json.loads((run_dir / "run.json").read_text())
    assert record["train_size"] == 50 and record["batch_size"] == 16
    assert record["epochs"] == pytest.approx(60 * 16 / 50)
    assert "train_exact_match" in record["metrics"] and record["metrics"]["weight_norm"] > 0
    assert record["grok_gap"] == "not grokked" or record["grok_gap"]["heldout"]["step"] <= 60
    points = read_metrics(run_dir)
    assert all(0 <= p["train_exact_match"] <= 1 and p["weight_norm"] > 0 for p in points)
    assert {p["step"] for p in points} >= {60}
    assert "grok_gap" in proc.stdout
    report = run_cli("toymodels.cli.report", str(run_dir), cwd=tmp_path)
    assert report.returncode == 0 and (run_dir / "training.png").stat().st_size > 0, report.stderr


@pytest.mark.slow
def test_killed_finite_set_run_resumes_in_the_same_epoch_order(reference, tmp_path):
    run_dir = tmp_path / "run"
    # Killed after its 12th point (step 27), past the checkpoint at step 20: steps 21-60 are redone on resume.
    killed = run_cli("tests.interrupt", "--after-points", "12", "--signal", "KILL", "--", *RUN,
                     f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert killed.returncode != 0
    again = run_cli("toymodels.cli.train", *RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0 and "resuming" in again.stdout, again.stderr[-2000:]
    resumed, straight = read_metrics(run_dir), read_metrics(reference[0])
    assert [p["step"] for p in resumed] == [p["step"] for p in straight]
    for a, b in zip(resumed, straight):
        for key in ("loss", "train_loss", "weight_norm", "exact_match", "train_exact_match"):
            assert a[key] == pytest.approx(b[key], abs=1e-6), (a["step"], key)


@pytest.mark.parametrize("override, message", [
    ("task.train_size=1000", "task.train_size=1000 is larger than the 84 problems"),
    ("task.train_size=-3", "task.train_size=-3 must be >= 1"),
])
def test_bad_training_set_input_is_one_line_exit_2_and_writes_nothing(tmp_path, override, message):
    proc = run_cli("toymodels.cli.train", *RUN, *override.split(), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("toymodels-train: error: ") and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_full_batch_over_the_memory_limit_is_refused_before_anything_is_written(tmp_path):
    proc = run_cli("toymodels.cli.train", "task=add", "task.n_digits=6", "task.train_size=3000000",
                   "train.batch_size=full", "model=d256", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "GiB limit" in lines[0], lines
    assert list(tmp_path.iterdir()) == []
