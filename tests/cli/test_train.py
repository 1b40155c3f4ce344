"""The training CLI end to end, in subprocesses, as a user runs it."""

import json

import pytest

from tests.helpers import SMALL_RUN, read_metrics, run_cli


@pytest.mark.slow
def test_short_run_learns_two_digit_addition(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli("toymodels.cli.train", *SMALL_RUN, "model=d64", "train.tokens=7e5", f"hydra.run.dir={run_dir}",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["metrics"]["exact_match"] >= 0.9
    rows = read_metrics(run_dir)
    flops = [r["flops"] for r in rows]
    assert len(rows) >= 10 and flops == sorted(flops) and len(set(flops)) == len(flops)
    assert record["flops"] == flops[-1] == record["max_flops"]
    assert {"exact_match", "digit_accuracy", "edit_distance", "answer_logprob", "token_accuracy", "loss",
            "pos_acc_0", "pos_acc_2"} <= set(rows[0])
    # Everything the run wrote is in its run folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (run_dir / "checkpoints" / "last.ckpt").exists() and (run_dir / ".hydra" / "config.yaml").exists()


@pytest.mark.slow
def test_same_seed_gives_identical_metrics_on_cpu(tmp_path):
    tables = []
    for name in ("a", "b"):
        run_dir = tmp_path / name
        proc = run_cli("toymodels.cli.train", *SMALL_RUN, "model=d16", "train.tokens=null", "train.steps=60",
                       f"hydra.run.dir={run_dir}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        tables.append([{k: v for k, v in row.items() if k != "wall_seconds"} for row in read_metrics(run_dir)])
    assert tables[0] == tables[1] and len(tables[0]) >= 5


def test_help_and_cfg_job_work(tmp_path):
    help_text = run_cli("toymodels.cli.train", "--help", cwd=tmp_path)
    assert help_text.returncode == 0 and "model: " in help_text.stdout and "d128" in help_text.stdout
    cfg = run_cli("toymodels.cli.train", "--cfg", "job", "model=d16", cwd=tmp_path)
    assert cfg.returncode == 0 and "d_model: 16" in cfg.stdout
    assert list(tmp_path.iterdir()) == []  # printing the config writes nothing


def test_bad_override_is_one_line_without_traceback(tmp_path):
    proc = run_cli("toymodels.cli.train", "model.n_head=5", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors == ["toymodels-train: error: model.d_model=64 is not divisible by model.n_head=5"]
    assert not (tmp_path / "run" / "run.json").exists()
