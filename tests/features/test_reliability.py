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
    return subprocess.Popen([sys.executable, "-m", "toymodels.cli.train", *args], cwd=cwd, env=cli_env(),
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
    return torch.load(path, weights_only=True)["global_step"] if path.exists() else 0


def _interrupted(run_dir, after_points: int, sig: str, cwd):
    """Train RUN into run_dir and send it `sig` right after its after_points-th evaluation point."""
    return run_cli("tests.interrupt", "--after-points", str(after_points), "--signal", sig, "--", *RUN,
                   f"hydra.run.dir={run_dir}", cwd=cwd)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """metrics.csv of the uninterrupted run."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    proc = run_cli("toymodels.cli.train", *RUN, f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return read_metrics(run_dir)


def _same_points(resumed: list[dict], uninterrupted: list[dict]) -> None:
    assert [r["step"] for r in resumed] == [r["step"] for r in uninterrupted]  # none missing or doubled
    for a, b in zip(resumed, uninterrupted):
        for key in ("exact_match", "digit_accuracy", "answer_logprob", "loss"):
            assert a[key] == pytest.approx(b[key], abs=1e-6), (a["step"], key)


@pytest.mark.slow
@pytest.mark.parametrize("after_points", [1, 14], ids=["before-the-first-checkpoint", "between-point-and-checkpoint"])
def test_kill_9_then_rerun_resumes_to_the_same_result(tmp_path, reference, after_points):
    run_dir = tmp_path / "run"
    killed = _interrupted(run_dir, after_points, "KILL", tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    before = read_metrics(run_dir)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    checkpoint = _ckpt_step(run_dir)
    assert checkpoint < before[-1]["step"]  # the last point is newer than the checkpoint: it must be redone
    assert (checkpoint == 0) == (after_points == 1)

    again = run_cli("toymodels.cli.train", *RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert ("resuming" in again.stdout) == (checkpoint > 0)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    resumed = read_metrics(run_dir)
    _same_points(resumed, reference)
    # A real resume: the points up to the checkpoint are the killed session's own (same wall clock).
    kept = [r for r in before if r["step"] <= checkpoint]
    assert [r["wall_seconds"] for r in resumed[: len(kept)]] == [r["wall_seconds"] for r in kept]


@pytest.mark.slow
def test_sigterm_stops_the_run_and_the_rerun_resumes_to_the_same_result(tmp_path, reference):
    run_dir = tmp_path / "run"
    stopped = _interrupted(run_dir, 14, "TERM", tmp_path)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running" and "interrupted" in record["message"]
    # The step reached was kept: the re-run starts from there, not from an older checkpoint.
    assert _ckpt_step(run_dir) == record["step"] == read_metrics(run_dir)[-1]["step"]
    again = run_cli("toymodels.cli.train", *RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0 and "resuming" in again.stdout, again.stderr[-2000:]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    _same_points(read_metrics(run_dir), reference)


@pytest.mark.slow
def test_ctrl_c_exits_130_and_keeps_the_step_reached(tmp_path):
    run_dir = tmp_path / "run"
    stopped = _interrupted(run_dir, 3, "INT", tmp_path)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running" and "interrupted" in record["message"]
    assert _ckpt_step(run_dir) == record["step"] > 0


@pytest.mark.slow
def test_two_processes_never_train_into_one_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    first = _start(*RUN[:-2], "train.steps=3000", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    try:
        _wait_for(lambda: (run_dir / "metrics.csv").exists(), first)
        before = (run_dir / ".hydra" / "config.yaml").read_text(), (run_dir / "run.json").read_text()
        second = run_cli("toymodels.cli.train", *RUN[:-2], "train.steps=3000", f"hydra.run.dir={run_dir}", cwd=tmp_path)
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode == 2 and len(lines) == 1 and "in use by another training process" in lines[0]
        assert (run_dir / ".hydra" / "config.yaml").read_text() == before[0]
    finally:
        first.kill()
        first.wait()
    # The lock dies with its holder (kill -9): the same command now runs, resuming what the first one saved.
    again = run_cli("toymodels.cli.train", *RUN[:-2], "train.steps=3000", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"


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
    again = run_cli("toymodels.cli.train", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "add2-reversed-d16-s0: already completed" in again.stdout
    assert first.stat().st_mtime_ns == stamp
    assert json.loads((sweep / "add2-reversed-d16-s1" / "run.json").read_text())["status"] == "completed"


BAD_OVERRIDES = [
    ("task=div", "Could not find 'task/div'; choose one of add, mix, mod, mul, sub"),
    ("task.format=json", "task.format='json' is unknown"),
    ("task.n_digits=0", "task.n_digits=0 must be an integer in [1, 18]"),
    ("task.n_digits=x", "task.n_digits='x' must be of type int"),
    ("model.n_head=5", "model.d_model=64 is not divisible by model.n_head=5"),
    ("train.lr=-0.1", "train.lr=-0.1 must be > 0"),
    ("train.lr=fast", "train.lr='fast' must be a finite number"),
    ("train.batch_size=0", "train.batch_size=0 must be > 0"),
    ("train.steps=0", "train.steps=0 must be > 0"),
    ("eval.size=5000", "eval.size=5000 is larger than the"),
    ("logger.kind=foo", "logger.kind='foo' is unknown"),
    ("logger=wandb logger.mode=onlin", "logger.mode='onlin' is unknown"),
    ("logger=wandb logger.init_timeout=0", "logger.init_timeout=0 must be a number of seconds > 0"),
    ("+trainer.accumulate_grad_batches=4", "trainer.accumulate_grad_batches=4 is not allowed"),
    ("+trainer.max_epochs=3", "trainer.max_epochs=3 is not allowed"),
    ("train.min_lr_ratio=1.5", "train.min_lr_ratio=1.5 must be in [0, 1]"),
    ("trainer=ddp_sim train.batch_size=3", "train.batch_size=3 is not divisible by the 2 processes"),
    ("train.steps=10 train.tokens=1e5", "give exactly one training budget"),
    ("train.foo=1", "unknown key train.foo; known keys of train: batch_size, beta1, beta2,"),
    ("train.tokns=1e6", "unknown key train.tokns; did you mean train.tokens? known keys of train: batch_size,"),
    ("+bar=1", "unknown key bar; known keys: budget, eval, logger, model, run_name, seed,"),
    ("model.context=4", "model.context=4 is too short"),
]


@pytest.mark.parametrize("override, message", BAD_OVERRIDES, ids=[o for o, _ in BAD_OVERRIDES])
def test_bad_override_gives_one_line_and_writes_nothing(tmp_path, override, message):
    proc = run_cli("toymodels.cli.train", "task.n_digits=2", *override.split(), f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("toymodels-train: error: ") and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def _finished_run(tmp_path, *extra):
    tmp_path.mkdir(exist_ok=True)
    run_dir = tmp_path / "run"
    args = (*RUN[:-2], "train.steps=20", *extra, f"hydra.run.dir={run_dir}")
    proc = run_cli("toymodels.cli.train", *args, cwd=tmp_path)
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
    proc = run_cli("toymodels.cli.train", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"checkpoint {ckpt} cannot be read" in lines[0] and "truncated or corrupt" in lines[0]
    assert ckpt.read_bytes() == data[: len(data) // 2]  # nothing overwritten

    # A checkpoint of another model size in this folder: refused, not loaded, not overwritten.
    other, _ = _finished_run(tmp_path / "other", "model=d24")
    ckpt.write_bytes((other / "checkpoints" / "last.ckpt").read_bytes())
    proc = run_cli("toymodels.cli.train", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "holds another model" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_folder_holding_another_run_is_refused(tmp_path):
    run_dir, args = _finished_run(tmp_path)
    before = (run_dir / "run.json").read_text()
    proc = run_cli("toymodels.cli.train", *args, "train.lr=0.01", cwd=tmp_path)
    assert proc.returncode == 2
    assert "holds a different run (train.lr: 0.003 there, 0.01 now)" in proc.stderr
    assert (run_dir / "run.json").read_text() == before
    assert (run_dir / ".hydra" / "overrides.yaml").read_text().count("train.lr") == 0


@pytest.mark.slow
def test_divergence_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    # lr=1e6 blows the loss up within a few steps; lr=3e-3 trains normally.
    proc = run_cli("toymodels.cli.train", "-m", *RUN[:-2], "train.steps=30", "train.warmup_steps=0",
                   "train.grad_clip=0",
                   "train.lr=1e6,3e-3", f"hydra.sweep.dir={sweep}", "run_name=lr${train.lr}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    diverged = json.loads((sweep / "lr1000000.0" / "run.json").read_text())
    assert diverged["status"] == "diverged" and "loss became" in diverged["message"]
    assert json.loads((sweep / "lr0.003" / "run.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_a_diverged_run_exits_3_and_is_skipped_when_run_again(tmp_path):
    args = (*RUN[:-2], "train.steps=30", "train.warmup_steps=0", "train.grad_clip=0", "train.lr=1e6",
            f"hydra.run.dir={tmp_path / 'run'}")
    proc = run_cli("toymodels.cli.train", *args, cwd=tmp_path)
    assert proc.returncode == 3 and "diverged" in proc.stderr and "Traceback" not in proc.stderr
    record = (tmp_path / "run" / "run.json").read_text()
    assert json.loads(record)["status"] == "diverged"
    again = run_cli("toymodels.cli.train", *args, cwd=tmp_path)
    assert again.returncode == 0 and "already diverged" in again.stdout
    assert (tmp_path / "run" / "run.json").read_text() == record
