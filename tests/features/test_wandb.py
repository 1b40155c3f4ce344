"""Specification of Weights & Biases logging (`logger=wandb`, `toymodels.training.wandb_logging`).

Real wandb, the real CLI in subprocesses, no network: runs are read back from the offline run's
`.wandb` transaction log. An unreachable server is 127.0.0.1:9 (nothing listens there) or a local
socket that accepts connections and never answers.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2  # noqa: E402

from toymodels.errors import ConfigError  # noqa: E402
from toymodels.runs.records import METRICS  # noqa: E402
from toymodels.runs.wandb_mode import resolve_mode  # noqa: E402

TINY = ["logger=wandb", "model=d16", "task.n_digits=1", "eval.size=10", "train.tokens=null", "train.steps=40",
        "trainer.log_every_n_steps=10"]
NO_SERVER = "http://127.0.0.1:9"
REPO = Path(__file__).resolve().parents[2]
DUMMY_KEY = "0123456789abcdef" * 2 + "01234567"  # 40 characters, like a real key


# ----- reading an offline run ------------------------------------------------------------------
def read_records(path: Path) -> list:
    """Every record of a `.wandb` file: a 7-byte header (":W&B", magic, version), then the leveldb log
    format: 32 KiB blocks of chunks, each with a CRC32 (of type and data), a length and a type
    (1 full, 2 first, 3 middle, 4 last). wandb 0.31 ships no Python reader (it writes from wandb-core)."""
    data, block = Path(path).read_bytes(), 32768
    assert data[:4] == b":W&B", "not a W&B transaction log"
    records, pos, pending = [], 7, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:  # zero padding at the end of a block
            pos += block - pos % block
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == crc, f"corrupt chunk at byte {pos}"
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
        pos += 7 + length
    return records


def _items(items) -> dict:
    return {("/".join(i.nested_key) or i.key): json.loads(i.value_json) for i in items}


def offline_run(run_dir: Path) -> dict:
    """The one offline W&B run of a run folder: its run record, metric definitions, history rows, summary."""
    (sync_dir,) = (run_dir / "wandb").glob("offline-run-*")
    (log,) = sync_dir.glob("*.wandb")
    records = read_records(log)
    kinds = [r.WhichOneof("record_type") for r in records]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    summary: dict = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary.update(_items(r.summary.update))
    return {
        "dir": sync_dir,
        "run": run,
        "config": {i.key: json.loads(i.value_json) for i in run.config.update},
        "metrics": {(r.metric.glob_name or r.metric.name): r.metric for r in records if r.HasField("metric")},
        "history": [_items(r.history.item) for r in records if r.HasField("history")],
        "summary": summary,
        "finished": "exit" in kinds,
    }


# ----- running the CLI -------------------------------------------------------------------------
def _env(tmp_path: Path, **changes) -> dict:
    """This environment without any W&B settings of the developer's, offline, pointed at no server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_BASE_URL=NO_SERVER, NETRC=str(tmp_path / "no-netrc"),
               WANDB_CONFIG_DIR=str(tmp_path / ".wandb-config"), WANDB_CACHE_DIR=str(tmp_path / ".wandb-cache"),
               WANDB_DATA_DIR=str(tmp_path / ".wandb-data"))
    env.update(changes)
    return {k: v for k, v in env.items() if v is not None}


def _train(tmp_path: Path, args: list[str], env: dict, timeout: float = 120) -> dict:
    """Run `python -m toymodels.cli.train`; stdout lines with their seconds since launch, stderr, exit times."""
    start = time.monotonic()
    with open(tmp_path / "stderr.txt", "w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "toymodels.cli.train", *args], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
        rc = proc.wait()
        killer.cancel()
        err.seek(0)
        stderr = err.read()
    out = "\n".join(line for _, line in lines)
    assert rc == 0, f"exit {rc}\n{out}\n{stderr}"
    return {"lines": lines, "out": out, "stderr": stderr, "exit_at": time.monotonic() - start}


# ----- specifications --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode, environ, expected",
    [
        (None, {}, "offline"),
        (None, {"WANDB_API_KEY": DUMMY_KEY}, "online"),
        (None, {"WANDB_API_KEY": DUMMY_KEY, "WANDB_MODE": "offline"}, "offline"),
        ("offline", {"WANDB_API_KEY": DUMMY_KEY, "WANDB_MODE": "online"}, "offline"),
        ("online", {"WANDB_MODE": "offline", "WANDB_API_KEY": DUMMY_KEY}, "online"),
        ("disabled", {"WANDB_API_KEY": DUMMY_KEY}, "disabled"),
    ],
)
def test_mode_is_offline_unless_online_is_asked_for_or_a_key_is_set(tmp_path, mode, environ, expected):
    assert resolve_mode(mode, {"NETRC": str(tmp_path / "none"), **environ}) == (expected, None)


def test_a_wandb_login_in_netrc_counts_as_a_key(tmp_path):
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + DUMMY_KEY + "\n")
    assert resolve_mode(None, {"NETRC": str(tmp_path / "netrc")}) == ("online", None)


def test_online_without_credentials_is_offline_with_a_reason_never_a_prompt(tmp_path):
    mode, why = resolve_mode("online", {"NETRC": str(tmp_path / "none")})
    assert mode == "offline" and "API key" in why


def test_an_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="logger.mode"):
        resolve_mode("sometimes", {})


@pytest.mark.slow
def test_offline_run_holds_every_eval_metric_against_flops(tmp_path):
    run_dir = tmp_path / "run"
    result = _train(tmp_path, [*TINY, f"hydra.run.dir={run_dir}", "sweep_name=spec"], _env(tmp_path))
    wb = offline_run(run_dir)
    # One line says where the run is and how to upload it.
    (synced,) = [line.split("wandb sync ")[1] for _, line in result["lines"] if "wandb sync " in line]
    assert (tmp_path / synced).resolve() == wb["dir"].resolve()
    assert "wandb:" not in result["out"] + result["stderr"]  # wandb's own chatter stays quiet
    assert (wb["run"].project, wb["run"].run_group, wb["run"].display_name) == ("toymodels", "spec",
                                                                                 "add1-reversed-d16-s0")
    assert wb["config"]["model"]["name"] == "d16" and wb["config"]["task"]["n_digits"] == 1
    # Every eval metric and the training loss are drawn against training FLOPs.
    assert wb["metrics"]["eval/*"].step_metric == "flops" and wb["metrics"]["train/*"].step_metric == "flops"
    assert wb["metrics"]["tokens"].step_metric == "flops"
    csv_rows = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    eval_rows = [row for row in wb["history"] if "eval/exact_match" in row]
    assert len(eval_rows) == len(csv_rows) >= 5
    for row in eval_rows:
        assert {"flops", "tokens", *(f"eval/{m}" for m in METRICS)} <= set(row)
    assert [row["flops"] for row in eval_rows] == sorted(row["flops"] for row in eval_rows)
    loss_rows = [row for row in wb["history"] if "train/loss" in row]
    assert loss_rows and all("flops" in row for row in loss_rows)
    # The summary: what the run is, and its final record, for scatter and parallel-coordinates panels.
    record = json.loads((run_dir / "run.json").read_text())
    summary = wb["summary"]
    assert summary["non_embedding_params"] == record["non_embedding_params"] and summary["model"] == "d16"
    assert summary["flops"] == pytest.approx(record["flops"]) and summary["tokens"] == record["tokens"]
    for metric in METRICS:
        assert summary[metric] == pytest.approx(record["metrics"][metric])
    assert wb["finished"]


@pytest.mark.slow
def test_each_multirun_job_is_its_own_wandb_run_in_the_sweeps_group(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "seed=0,1", *TINY, "train.steps=20", "verbose=false", f"hydra.sweep.dir={sweep}",
            "sweep_name=spec-group"]
    _train(tmp_path, args, _env(tmp_path))
    jobs = sorted(p for p in sweep.iterdir() if (p / "run.json").exists())
    assert [p.name for p in jobs] == ["add1-reversed-d16-s0", "add1-reversed-d16-s1"]
    runs = [offline_run(job) for job in jobs]
    assert len({wb["run"].run_id for wb in runs}) == 2
    assert {wb["run"].run_group for wb in runs} == {"spec-group"}
    for job, wb, seed in zip(jobs, runs, (0, 1)):
        assert wb["config"]["seed"] == seed and wb["summary"]["seed"] == seed and wb["finished"]
        n_evals = len((job / "metrics.csv").read_text().splitlines()) - 1
        assert len([row for row in wb["history"] if "eval/exact_match" in row]) == n_evals  # nothing shared


@pytest.mark.slow
def test_each_member_of_a_seed_ensemble_is_its_own_wandb_run_in_the_group(tmp_path):
    sweep = tmp_path / "sweep"
    args = [*TINY, "train.steps=20", "train.ensemble=2", "verbose=false", f"hydra.run.dir={sweep}/add1-reversed-d16-s0",
            "sweep_name=spec-group"]
    result = _train(tmp_path, args, _env(tmp_path))
    jobs = [sweep / "add1-reversed-d16-s0", sweep / "add1-reversed-d16-s1"]
    runs = [offline_run(job) for job in jobs]
    assert len({wb["run"].run_id for wb in runs}) == 2 and {wb["run"].run_group for wb in runs} == {"spec-group"}
    assert result["out"].count("wandb sync") == 2  # one line per member
    for job, wb, seed in zip(jobs, runs, (0, 1)):
        assert wb["config"]["seed"] == seed and wb["summary"]["seed"] == seed and wb["finished"]
        n_evals = len((job / "metrics.csv").read_text().splitlines()) - 1
        assert len([row for row in wb["history"] if "eval/exact_match" in row]) == n_evals
        record = json.loads((job / "run.json").read_text())
        assert wb["summary"]["exact_match"] == pytest.approx(record["metrics"]["exact_match"])
        losses = [row["train/loss"] for row in wb["history"] if "train/loss" in row]
        curve = [float(line.split(",")[3]) for line in (job / "train_curve.csv").read_text().splitlines()[1:]]
        assert losses == pytest.approx(curve)  # each member logs its own training loss


@pytest.mark.slow
def test_a_resumed_run_logs_to_the_same_wandb_run(tmp_path):
    # Stopped by SIGTERM after its 6th evaluation point, then run again: two offline folders, one run id,
    # so `wandb sync` of both uploads one W&B run.
    run_dir = tmp_path / "run"
    args = [*TINY, "train.checkpoint_every=10", f"hydra.run.dir={run_dir}"]
    stopped = subprocess.run([sys.executable, "-m", "tests.interrupt", "--after-points", "6", "--signal", "TERM",
                              "--", *args], cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    first_id = (run_dir / "wandb" / "run_id").read_text().strip()
    _train(tmp_path, args, _env(tmp_path))
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2
    ids = {read_run_id(folder) for folder in folders}
    assert ids == {first_id} and (run_dir / "wandb" / "run_id").read_text().strip() == first_id


def read_run_id(sync_dir: Path) -> str:
    (log,) = sync_dir.glob("*.wandb")
    (run,) = [r.run for r in read_records(log) if r.WhichOneof("record_type") == "run"]
    return run.run_id


@pytest.mark.slow
def _first_eval(result: dict) -> float:
    return next(t for t, line in result["lines"] if line.lstrip().startswith("step"))


@pytest.fixture(scope="module")
def offline_start(tmp_path_factory) -> float:
    """Seconds from launch to the first evaluation of the same run logging offline: this machine's
    start-up (imports, building the run), so that W&B's own cost is measured against it."""
    tmp = tmp_path_factory.mktemp("baseline")
    return _first_eval(_train(tmp, [*TINY, "logger.mode=offline", f"hydra.run.dir={tmp / 'run'}"], _env(tmp)))


def test_online_with_a_key_and_no_server_starts_training_within_10_seconds_of_an_offline_run(tmp_path, offline_start):
    run_dir = tmp_path / "run"
    env = _env(tmp_path, WANDB_MODE=None, WANDB_API_KEY=DUMMY_KEY)
    result = _train(tmp_path, [*TINY, "logger.mode=online", f"hydra.run.dir={run_dir}"], env)
    first_eval = _first_eval(result)
    # The reachability probe gives up after 5 s; on a loaded machine start-up itself can take ~10 s.
    assert first_eval - offline_start < 10, f"first evaluation {first_eval:.1f} s, {offline_start:.1f} s offline"
    warnings = [line for line in result["stderr"].splitlines() if line.strip()]
    assert len(warnings) == 1 and "offline" in warnings[0] and NO_SERVER in warnings[0], result["stderr"]
    wb = offline_run(run_dir)  # and the run is there to sync
    assert [p.name for p in (run_dir / "wandb").glob("*run-*")] == [wb["dir"].name]
    assert any("eval/exact_match" in row for row in wb["history"])


@pytest.mark.slow
def test_a_server_that_never_answers_costs_at_most_the_init_timeout(tmp_path, offline_start):
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []  # accept every connection, answer none

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    run_dir, timeout = tmp_path / "run", 3
    env = _env(tmp_path, WANDB_MODE=None, WANDB_API_KEY=DUMMY_KEY,
               WANDB_BASE_URL=f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        started = time.monotonic()
        result = _train(tmp_path, [*TINY, "logger.mode=online", f"logger.init_timeout={timeout}",
                                   f"hydra.run.dir={run_dir}"], env)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert len(held) >= 2, "wandb never tried the server (only the reachability probe did)"
    assert "offline" in result["stderr"] and len(result["stderr"].strip().splitlines()) == 1, result["stderr"]
    first_eval = _first_eval(result)
    assert first_eval - offline_start < timeout + 7, f"first evaluation {first_eval:.1f} s after launch " \
        f"({offline_start:.1f} offline)"
    # Nothing of the failed attempt waits for the server at exit either.
    assert result["exit_at"] - result["lines"][-1][0] < 5, f"exited {result['exit_at']:.1f} s after launch"
    assert time.monotonic() - started < 60
    wb = offline_run(run_dir)  # the folder of the failed online attempt is gone: it would sync as an empty run
    assert [p.name for p in (run_dir / "wandb").glob("*run-*")] == [wb["dir"].name]
