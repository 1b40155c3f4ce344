"""Reliability: kill and resume, interrupted runs, resumable sweeps, bad input, bad checkpoints."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import SMALL_RUN, cli_env, read_metrics, run_cli

RUN = (*SMALL_RUN, "model=d16", "train.tokens=null", "train.steps=300", "train.checkpoint_every=40")


def _start(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "toymodels.train", *args], cwd=cwd, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, proc, timeout=120):
    t0 = time.time()
    while not predicate():
        assert proc.poll() is None, f"finished too early: {proc.communicate()}"
        assert time.time() - t0 < timeout
        time.sleep(0.05)


def _ckpt_step(run_dir) -> int:
    import torch

    path = run_dir / "checkpoints" / "last.ckpt"
    try:
        return torch.load(path, weights_only=True)["global_step"] if path.exists() else 0
    except Exception:  # being replaced right now
        return 0


def _rows_at_least(run_dir, n):
    try:
        return len(read_metrics(run_dir)) >= n
    except (OSError, KeyError, ValueError):
        return False


@pytest.mark.slow
def test_kill_9_then_rerun_resumes_to_the_same_result(tmp_path):
    reference = tmp_path / "reference"
    assert run_cli("toymodels.train", *RUN, f"hydra.run.dir={reference}", cwd=tmp_path).returncode == 0

    run_dir = tmp_path / "killed"
    proc = _start(*RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    _wait_for(lambda: _ckpt_step(run_dir) >= 80 and _rows_at_least(run_dir, 8), proc)
    proc.kill()
    proc.wait()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"

    again = run_cli("toymodels.train", *RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed"
    resumed, uninterrupted = read_metrics(run_dir), read_metrics(reference)
    assert [r["step"] for r in resumed] == [r["step"] for r in uninterrupted]  # none missing or doubled
    for a, b in zip(resumed, uninterrupted):
        for key in ("exact_match", "digit_accuracy", "loss"):
            assert a[key] == pytest.approx(b[key], abs=1e-6)


@pytest.mark.slow
def test_sigterm_stops_the_run_without_calling_it_completed(tmp_path):
    run_dir = tmp_path / "run"
    proc = _start(*RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    _wait_for(lambda: _rows_at_least(run_dir, 3), proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running" and "interrupted" in record["message"]
    assert "Traceback" not in err
    # The step reached was kept: the re-run starts from there, not from an older checkpoint.
    assert _ckpt_step(run_dir) == record["step"]
    again = run_cli("toymodels.train", *RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0 and json.loads((run_dir / "run.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_rerunning_a_sweep_skips_completed_runs(tmp_path):
    sweep = tmp_path / "sweep"
    args = ("-m", *RUN[:-2], "train.steps=60", "seed=0,1", f"hydra.sweep.dir={sweep}")
    proc = _start(*args, cwd=tmp_path)
    first = sweep / "add2-reversed-d16-s0" / "run.json"
    _wait_for(lambda: first.exists() and json.loads(first.read_text()).get("status") == "completed", proc)
    proc.kill()
    proc.wait()
    stamp = first.stat().st_mtime_ns
    again = run_cli("toymodels.train", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "add2-reversed-d16-s0: already completed" in again.stdout
    assert first.stat().st_mtime_ns == stamp
    assert json.loads((sweep / "add2-reversed-d16-s1" / "run.json").read_text())["status"] == "completed"


BAD_OVERRIDES = [
    ("task=div", "Could not find 'task/div'; choose one of add, mod, mul, sub"),
    ("task.format=json", "task.format='json' is unknown"),
    ("task.n_digits=0", "task.n_digits=0 must be an integer in [1, 18]"),
    ("task.n_digits=x", "task.n_digits='x' must be of type int"),
    ("model.n_head=5", "model.d_model=64 is not divisible by model.n_head=5"),
    ("train.lr=-0.1", "train.lr=-0.1 must be > 0"),
    ("train.lr=fast", "train.lr='fast' must be a finite number"),
    ("train.batch_size=0", "train.batch_size=0 must be > 0"),
    ("train.steps=100", "give exactly one training budget"),
    ("eval.size=5000", "eval.size=5000 is larger than the"),
    ("train.foo=1", "Could not override 'train.foo'"),
    ("+bar=1", "bar is not a known key"),
    ("model.context=4", "model.context=4 is too short"),
]


@pytest.mark.parametrize("override, message", BAD_OVERRIDES, ids=[o for o, _ in BAD_OVERRIDES])
def test_bad_override_gives_one_line_and_writes_nothing(tmp_path, override, message):
    proc = run_cli("toymodels.train", "task.n_digits=2", override, f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("toymodels-train: error: ") and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def _finished_run(tmp_path, *extra):
    tmp_path.mkdir(exist_ok=True)
    run_dir = tmp_path / "run"
    args = (*RUN[:-2], "train.steps=20", *extra, f"hydra.run.dir={run_dir}")
    proc = run_cli("toymodels.train", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir, args


@pytest.mark.slow
def test_truncated_or_foreign_checkpoint_is_refused_and_kept(tmp_path):
    run_dir, args = _finished_run(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**record, "status": "running"}))  # pretend it was cut short
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    proc = run_cli("toymodels.train", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"checkpoint {ckpt} cannot be read" in lines[0] and "truncated or corrupt" in lines[0]
    assert ckpt.read_bytes() == data[: len(data) // 2]  # nothing overwritten

    # A checkpoint of another model size in this folder: refused, not loaded, not overwritten.
    other, _ = _finished_run(tmp_path / "other", "model=d24")
    ckpt.write_bytes((other / "checkpoints" / "last.ckpt").read_bytes())
    proc = run_cli("toymodels.train", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "holds another model" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_folder_holding_another_run_is_refused(tmp_path):
    run_dir, args = _finished_run(tmp_path)
    before = (run_dir / "run.json").read_text()
    proc = run_cli("toymodels.train", *args, "train.lr=0.01", cwd=tmp_path)
    assert proc.returncode == 2
    assert "holds a different run (train.lr: 0.003 there, 0.01 now)" in proc.stderr
    assert (run_dir / "run.json").read_text() == before
    assert (run_dir / ".hydra" / "overrides.yaml").read_text().count("train.lr") == 0


@pytest.mark.slow
def test_divergence_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    # lr=1e6 blows the loss up within a few steps; lr=3e-3 trains normally.
    proc = run_cli("toymodels.train", "-m", *RUN[:-2], "train.steps=30", "train.warmup_steps=0", "train.grad_clip=0",
                   "train.lr=1e6,3e-3", f"hydra.sweep.dir={sweep}", "run_name=lr${train.lr}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    diverged = json.loads((sweep / "lr1000000.0" / "run.json").read_text())
    assert diverged["status"] == "diverged" and "loss became" in diverged["message"]
    assert json.loads((sweep / "lr0.003" / "run.json").read_text())["status"] == "completed"
