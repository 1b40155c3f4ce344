"""Scaling out: DDP keeps the records of one process, parallel and cluster sweeps, the GPU fast path."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import cli_env, compose_train, read_metrics, run_cli
from toymodels.errors import ConfigError
from toymodels.training.config import check_sweep_strategy

TINY = ("model=d16", "task.n_digits=2", "eval.size=100", "train.tokens=null", "train.steps=40")
RECORD_KEYS = ("status", "step", "flops", "tokens", "flops_6nd", "max_flops", "flops_per_step", "tokens_per_step")
BASIC = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
SLURM = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _files(run_dir) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())


@pytest.mark.slow
def test_two_process_runs_record_the_flops_and_tokens_of_one_process(tmp_path):
    # trainer=ddp_sim (ddp_spawn) and strategy=ddp (the subprocess launcher of trainer=ddp), on the CPU.
    ddp_on_cpu = ("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true",
                  "trainer.matmul_precision=null", "trainer.threads=1")
    runs = {"cpu": ("trainer=cpu",), "ddp_sim": ("trainer=ddp_sim",), "ddp": ddp_on_cpu}
    records, tables = {}, {}
    for name, trainer in runs.items():
        proc = run_cli("toymodels.cli.train", *TINY, *trainer, f"hydra.run.dir={tmp_path / name}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        records[name] = json.loads((tmp_path / name / "run.json").read_text())
        tables[name] = read_metrics(tmp_path / name)
    one = records["cpu"]
    assert one["status"] == "completed" and one["flops"] == one["max_flops"] > 0
    for name in ("ddp_sim", "ddp"):
        assert {k: records[name][k] for k in RECORD_KEYS} == {k: one[k] for k in RECORD_KEYS}, name
        # One record set, written once: the same evaluation points, and no per-rank files.
        assert [(r["step"], r["tokens"], r["flops"]) for r in tables[name]] == [
            (r["step"], r["tokens"], r["flops"]) for r in tables["cpu"]]
        assert records[name]["metrics"]["loss"] == pytest.approx(one["metrics"]["loss"], abs=0.1)
    assert _files(tmp_path / "ddp_sim") == _files(tmp_path / "cpu")
    assert [f for f in _files(tmp_path / "ddp") if f.endswith(".csv")] == ["metrics.csv", "train_curve.csv"]


@pytest.mark.slow
def test_joblib_sweep_runs_two_jobs_in_parallel(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    proc = run_cli("toymodels.cli.train", "-m", *TINY, "seed=0,1", "hydra/launcher=parallel", "verbose=false",
                   f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    launching = [line for line in proc.stdout.splitlines() if "is launching 2 jobs" in line]
    assert len(launching) == 1 and "Joblib.Parallel(n_jobs=2," in launching[0], proc.stdout
    statuses = {p.parent.name: json.loads(p.read_text())["status"] for p in sweep.glob("*/run.json")}
    assert statuses == {"add2-reversed-d16-s0": "completed", "add2-reversed-d16-s1": "completed"}


def test_multirun_with_strategy_ddp_fails_fast_with_one_line(tmp_path):
    proc = run_cli("toymodels.cli.train", "-m", *TINY, "seed=0,1", "trainer=ddp", f"hydra.sweep.dir={tmp_path / 's'}",
                   cwd=tmp_path, timeout=60)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("toymodels-train: error: trainer.strategy=ddp cannot run in a sweep")
    assert "trainer.strategy=ddp_spawn" in lines[0] and "hydra/launcher=slurm" in lines[0]
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.parametrize("trainer, launcher, refused", [
    ({"strategy": "ddp", "devices": -1, "accelerator": "gpu"}, BASIC, True),
    ({"strategy": "ddp_find_unused_parameters_true", "devices": 2}, BASIC, True),
    ({"strategy": "auto", "devices": 2, "accelerator": "cpu"}, BASIC, True),
    ({"strategy": "auto", "devices": 1, "num_nodes": 2}, BASIC, True),
    ({"strategy": "ddp", "devices": 4}, "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", True),
    ({"strategy": "ddp_spawn", "devices": 2}, BASIC, False),
    ({"strategy": "auto", "devices": 1}, BASIC, False),
    ({"strategy": "ddp", "devices": 4}, SLURM, False),  # SLURM starts each rank itself
])
def test_only_sweeps_whose_ranks_rerun_the_command_are_refused(trainer, launcher, refused):
    if refused:
        with pytest.raises(ConfigError, match="ddp_spawn"):
            check_sweep_strategy(trainer, launcher)
    else:
        check_sweep_strategy(trainer, launcher)


def _launcher(*overrides):
    return compose_train(*overrides, hydra=True).hydra.launcher


def test_launcher_presets_extend_the_plugins_configs():
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from submitit.slurm.slurm import _make_sbatch_string

    parallel = _launcher("hydra/launcher=parallel")
    assert parallel._target_.endswith("JoblibLauncher") and parallel.n_jobs == 2
    slurm = _launcher("hydra/launcher=slurm", "hydra.launcher.partition=gpu")
    assert slurm._target_ == SLURM and slurm.partition == "gpu"
    assert slurm.gpus_per_node == slurm.tasks_per_node == 1
    # SLURM warns with Lightning's requeue signal (SIGUSR1), not submitit's own USR2.
    sbatch = _make_sbatch_string(command="true", folder="/tmp/x", signal_delay_s=slurm.signal_delay_s,
                                 additional_parameters=dict(slurm.additional_parameters))
    assert "#SBATCH --signal=USR1@90" in sbatch and "#SBATCH --requeue" in sbatch


@pytest.mark.slow
def test_slurm_requeue_resumes_from_last_checkpoint(tmp_path):
    # A fake SLURM job: Lightning's SLURMEnvironment is on; SIGUSR1 (the preset's --signal) makes it save and
    # requeue (scontrol is a stub that records its call); the SIGTERM that follows a requeue stops the run
    # with checkpoints/last.ckpt; the requeued job, the same command, resumes from it and completes.
    bin_dir, run_dir = tmp_path / "bin", tmp_path / "run"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'scontrol.log'}\n")
    (bin_dir / "scontrol").chmod(0o755)
    env = cli_env(PATH=f"{bin_dir}:{os.environ['PATH']}", SLURM_NTASKS="1", SLURM_NTASKS_PER_NODE="1",
                  SLURM_JOB_NAME="train", SLURM_JOB_ID="4242", SLURM_PROCID="0", SLURM_LOCALID="0",
                  SLURM_NODEID="0", SLURM_NODELIST="localhost")
    args = [*TINY[:-1], "train.steps=1000", "eval.per_decade=2", "trainer.threads=1", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen([sys.executable, "-m", "toymodels.cli.train", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for(predicate):
        t0 = time.time()
        while not predicate():
            assert proc.poll() is None and time.time() - t0 < 60, proc.communicate()
            time.sleep(0.05)

    try:
        wait_for(lambda: (run_dir / "metrics.csv").exists() and read_metrics(run_dir)[-1]["step"] >= 50)
        proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: (tmp_path / "scontrol.log").exists())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    stopped = json.loads((run_dir / "run.json").read_text())
    assert stopped["status"] == "running" and 0 < stopped["step"] < 1000, err[-2000:]
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == stopped["step"]

    proc = run_cli("toymodels.cli.train", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 0 and "resuming" in proc.stdout, proc.stderr[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["step"] == 1000 and record["flops"] == record["max_flops"]


@needs_gpu
@pytest.mark.gpu
def test_gpu_bf16_run_with_a_large_batch_completes(tmp_path):
    proc = run_cli("toymodels.cli.train", "model=d64", "task.n_digits=3", "train.tokens=null", "train.steps=30",
                   "train.batch_size=4096", "eval.size=500", "trainer=gpu", f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "completed" and record["flops"] == record["max_flops"]
    assert record["tokens"] == 30 * record["tokens_per_step"] and record["tokens_per_step"] % 4096 == 0
    assert record["config"]["train"]["batch_size"] == 4096 and record["metrics"]["loss"] < 10


@needs_gpu
@pytest.mark.gpu
def test_gpu_compiled_run_completes_and_keeps_parameter_names(tmp_path):
    proc = run_cli("toymodels.cli.train", *TINY, "trainer=gpu", "trainer.compile=true",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "completed"
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert state and not any("_orig_mod" in key for key in state)
