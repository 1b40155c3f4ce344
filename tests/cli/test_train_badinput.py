"""Issue 26 on the training and demo side: bad input to toymodels-train and toymodels-demo is refused
cleanly (tests/badinput.py: non-zero exit, no traceback, the last line an error, nothing written, fast);
sampling never hangs; SIGTERM stops a run within seconds anywhere; a killed mixture or ensemble run resumes
to the same result."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.badinput import assert_refused_cleanly, snapshot
from tests.helpers import SMALL_RUN, cli_env, read_metrics, run_cli
from toymodels.errors import ConfigError
from toymodels.tasks import sampling
from toymodels.tasks.arithmetic import Task
from toymodels.training.precheck import check_command_line

MIX1 = "task.skills=[{task:add,n_digits:1,weight:1,train_fraction:0.001}]"


def mix(*skills: str) -> list[str]:
    return ["task=mix", "task.skills=[" + ",".join("{" + s + "}" for s in skills) + "]"]


def skill(extra: str = "") -> list[str]:
    return mix("task:add,n_digits:2,weight:1" + ("," + extra if extra else ""))


CASES = [  # (arguments, what the one-line error must say)
    # Data the run needs: an empty or vanishing training or held-out part (these hung for ever).
    (["task=add", "task.n_digits=1", "task.train_fraction=0.001"], "leaves no problem in the training part"),
    (["task=add", "task.n_digits=1", "task.train_fraction=0.999"], "no problem in the held-out part"),
    (["task=mod", "task.p=2", "task.train_fraction=0.01"], "no problem in the training part"),
    (["task=add", "task.n_digits=8", "task.train_fraction=0.00001"], "of the space"),
    (["task=mix", MIX1], "no problem in the training part"),
    (skill("train_fraction:0.999999"), "no problem in the held-out part"),
    (mix("task:add,n_digits:2,weight:1", "task:mod,p:3,weight:0,train_fraction:0.01"), "training part"),
    # Bounds that protect the machine (memory, time).
    (["train.ensemble=1000000"], "above 1024"),
    (["train.ensemble=2000"], "above 1024"),
    (["model.pos_embedding=abacus", "model.abacus_offset=1000000000"], r"GiB .*position rows"),
    (["model.context=1000000000"], "GiB"),
    (["model.d_model=100000", "model.n_head=1"], "GiB"),
    (["model.n_layer=1000000"], "GiB"),
    (["model.d_mlp=1000000000"], "GiB"),
    (["train.batch_size=100000000"], "GiB"),
    (["eval.batch_size=1000000000000"], "GiB"),
    (["model=d256", "train.ensemble=1000"], "GiB"),
    (["eval.size=10000000", "task.n_digits=8"], "above 1000000"),
    (["eval.per_decade=1000000"], "evaluation points"),
    (["eval.per_decade=100", "eval.start_fraction=1e-300"], "evaluation points"),
    (["seed=4294967295", "train.ensemble=2"], "largest seed"),
    (["task.n_digits=19"], r"\[1, 18\]"),
    (["task=mod", "task.p=5000"], r"\[2, 2000\]"),
    (mix(*[f"task:add,n_digits:2,weight:1,name:s{i}" for i in range(65)]), "at most 64"),
    # Mixture skill fields: ranges, types, keys, names.
    (mix("task:mod,p:97.5,weight:1"), "p=97.5 must be of type int"),
    (mix("task:mod,p:97,weight:1,split_seed:-1"), "split_seed=-1 must be a whole number >= 0"),
    (mix("task:add,n_digits:2,weight:1e308", "task:sub,n_digits:2,weight:1e308"), "sum to inf"),
    (skill("n_digit:3"), r"unknown key task.skills\[0\].n_digit; did you mean task.skills\[0\].n_digits\?"),
    (skill("wieght:2"), "did you mean task.skills"),
    (mix("task:add,n_digits:2,weight:1", "task:add,n_digits:2,weight:2"), "two skills named 'add2'"),
    (mix("task:add,n_digits:2,name:x", "task:sub,n_digits:2,name:x"), "two skills named 'x'"),
    (mix("task:add,n_digits:2,weight:-1"), "must be >= 0"),
    (mix("task:add,n_digits:2,weight:nan"), "finite number"),
    (mix("task:div,n_digits:2"), "is unknown; choose one of"),
    (skill("format:bogus"), "format='bogus' is unknown"),
    (skill("name:'a/b'"), "must be letters"),
    (["task=mix", "task.skills=[]"], "task.skills is empty"),
    (mix("task:add,n_digits:2,weight:0"), "every weight is 0"),
    (["task=mix", "task.zipf_alpha=-1"], "zipf_alpha=-1"),
    (["task=mix", "task.shared=5"], "must be a mapping"),
    (["task=mix", "task.skills=[3]"], "must be a mapping"),
    (skill("train_fraction:abc"), "train_fraction='abc' must be of type"),
    (mix("task:add,n_digits:true,weight:1"), "n_digits=True must be of type int"),
    (mix("task:mod,p:7,weight:1,encoding:symbols,format:plain"), "symbols is not available in task=mix"),
    (mix("task:add,n_digits:2,weight:1", "task:add,n_digits:2,weight:0,train_fraction:0.5,name:b"), "splits"),
    # A single task's fields.
    (["task=mod", "task.split_seed=-1"], "split_seed=-1 must be a whole number >= 0"),
    (["task=mod", "task.p=1"], r"\[2, 2000\]"),
    (["task.train_fraction=0"], r"must be in \(0, 1\)"),
    (["task.train_fraction=nan"], r"must be in \(0, 1\)"),
    (["task.format=bogus"], "format='bogus' is unknown"),
    (["task.n_digits=1", "eval.size=100"], "larger than the"),
    (["task.train_size=0"], "must be >= 1"),
    # Training and evaluation fields.
    (["train.ensemble=0"], "train.ensemble=0 must be > 0"),
    (["train.batch_size=0"], "must be > 0"),
    (["train.lr=-1"], "train.lr=-1"),
    (["train.steps=-5"], "train.steps=-5 must be > 0"),
    (["train.tokens=inf"], "finite"),
    (["eval.seed=-1"], "eval.seed=-1 must be >= 0"),
    (["train.checkpoint_every=0"], "must be > 0"),
    (["train.grokfast_alpha=1"], r"must be in \[0, 1\)"),
    (["train.tokns=1e6"], "did you mean train.tokens"),
    (["model.n_head=3"], "not divisible"),
    (["model=d999"], "choose one of"),
    (["train.batch_size=full"], "needs a finite training set"),
    (["train.decay=bogus"], "train.decay='bogus' is unknown"),
    (["budget.flops=1"], "over budget.flops"),
    (["trainer.accelerator=gpu", "trainer.devices=64"], "GPU"),
    (["seed=0,1"], "add -m"),
    (["-m", "seed=0,1", "train.ensemble=2"], "two jobs would train seed 1"),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with a user's own file and an earlier run folder in it, as cwd: refusals must leave both alone."""
    (tmp_path / "notes.txt").write_text("my own notes\n")
    run = tmp_path / "outputs" / "earlier-run"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "completed", "name": "earlier-run"}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refuse_in_process(args: list[str], capsys, monkeypatch) -> subprocess.CompletedProcess:
    """toymodels-train's main() in this process, as a CompletedProcess (exit code, stdout, stderr)."""
    from toymodels.cli.train import main

    monkeypatch.setattr(sys, "argv", ["toymodels-train", *args])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a)[:70] for a, _ in CASES])
def test_bad_training_input_is_refused_cleanly_in_one_line(args, message, workdir, capsys, monkeypatch):
    if "GPU" in message:
        import torch

        if torch.cuda.device_count() >= 64:
            pytest.skip("a machine with 64 GPUs")
    before, started = snapshot(workdir), time.monotonic()
    proc = refuse_in_process(args, capsys, monkeypatch)
    assert_refused_cleanly(proc, before, workdir, started=started, max_seconds=60)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toymodels-train: error: "), proc.stderr
    assert re.search(message, lines[0]), lines[0]


# ----------------------------------------------------------------------------- real processes

SUBPROCESS_CASES = [
    ["task=mix", MIX1],  # hung for ever in sampling, deaf to SIGTERM
    ["task=add", "task.n_digits=1", "task.train_fraction=0.001"],  # the same, single task
    ["train.ensemble=1000000"],  # ~2 hours of member names
    ["model.pos_embedding=abacus", "model.abacus_offset=1000000000"],  # a 32 GB allocation
    ["model.context=1000000000"],
    *(mix("task:mod,p:97.5,weight:1"), mix("task:mod,p:97,weight:1,split_seed:-1"),
      mix("task:add,n_digits:2,weight:1e308", "task:sub,n_digits:2,weight:1e308"), skill("train_fraction:0.999999"),
      skill("n_digit:3"), mix("task:add,n_digits:2,weight:1", "task:add,n_digits:2,weight:2")),
    ["eval.size=10000000", "task.n_digits=8"],
    ["task.n_digits=19"],
    ["train.batch_size=100000000"],
    ["seed=4294967295", "train.ensemble=2"],
    ["eval.per_decade=1000000"],
]


@pytest.mark.parametrize("args", SUBPROCESS_CASES, ids=[" ".join(a)[:60] for a in SUBPROCESS_CASES])
def test_a_sample_of_refusals_in_a_real_process(args, workdir):
    before, started = snapshot(workdir), time.monotonic()
    proc = run_cli("toymodels.cli.train", *args, cwd=workdir, timeout=90)
    assert_refused_cleanly(proc, before, workdir, started=started, max_seconds=60)
    assert proc.returncode == 2


def test_trainer_gpu_without_a_gpu_is_one_line_and_writes_nothing(workdir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    before, started = snapshot(workdir), time.monotonic()
    proc = run_cli("toymodels.cli.train", "trainer=gpu", cwd=workdir, timeout=90)
    assert_refused_cleanly(proc, before, workdir, started=started)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "toymodels-train: error: trainer.accelerator=gpu needs a CUDA GPU; torch.cuda.is_available() is False "
        "on this machine; use trainer=cpu")


def test_a_sweeps_dry_run_lists_its_jobs_and_writes_nothing(workdir):
    before = snapshot(workdir)
    proc = run_cli("toymodels.cli.train", "-m", "experiment=lab_jump", "--cfg", "job", cwd=workdir, timeout=90)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-2000:]
    jobs = [ln for ln in proc.stdout.splitlines() if "  ->  " in ln]
    assert len(jobs) >= 2 and all("model=" in ln and "multirun/lab_jump/" in ln for ln in jobs), proc.stdout
    assert snapshot(workdir) == before and not (workdir / "multirun").exists()


# ----------------------------------------------------------------------------- the demo

def _demo(*args, cwd):
    return run_cli("toymodels.cli.demo", *args, cwd=cwd, timeout=120)


def _users_sweep(root: Path) -> Path:
    """A sweep folder with the user's own report in it (what a refused demo used to replace)."""
    sweep = root / "mysweep"
    (sweep / "add2-d8-s0").mkdir(parents=True)
    (sweep / "add2-d8-s0" / "run.json").write_text(json.dumps({"status": "completed"}))
    (sweep / "summary.md").write_text("my report\n")
    return sweep


@pytest.mark.parametrize("args", [
    ["train.ensemble=0"],
    ["model.bogus=1"],
    ["--quick", "task.train_fraction=0.001", "task.n_digits=1"],
    ["--quick", "trainer.accelerator=gpu", "trainer.devices=64"],
    ["--no-such-option"],
    ["seed=-1"],
], ids=lambda a: " ".join(a))
def test_a_refused_demo_trains_nothing_and_keeps_the_users_report(args, workdir):
    sweep = _users_sweep(workdir)
    before, started = snapshot(workdir), time.monotonic()
    proc = _demo("--sweep-dir", str(sweep), *args, cwd=workdir)
    assert_refused_cleanly(proc, before, workdir, started=started)
    assert "done" not in proc.stdout and "Figures" not in proc.stdout


@pytest.mark.parametrize("what", ["a file", "a folder that is not a sweep", "empty"])
def test_a_demo_sweep_dir_that_is_not_a_sweep_folder_is_refused(what, workdir):
    (workdir / "papers").mkdir()
    (workdir / "papers" / "draft.tex").write_text("my paper\n")
    target = {"a file": "notes.txt", "a folder that is not a sweep": "papers", "empty": ""}[what]
    before, started = snapshot(workdir), time.monotonic()
    proc = _demo("--sweep-dir", target, cwd=workdir)
    assert_refused_cleanly(proc, before, workdir, started=started)
    assert "--sweep-dir" in proc.stderr.strip().splitlines()[-1]


def test_a_failed_training_stops_the_demo_before_its_report(workdir, monkeypatch, capsys):
    """A training that fails after it started (exit 1 here) ends the demo: no report, no success line."""
    from toymodels.cli import demo

    sweep = _users_sweep(workdir)
    before = snapshot(workdir)
    monkeypatch.setattr(demo.subprocess, "call", lambda cmd: 1)
    monkeypatch.setattr(demo.report_cli, "main", lambda argv: pytest.fail("reported a failed sweep"))
    assert demo.main(["--sweep-dir", str(sweep), "model=d8"]) == 1
    assert "done" not in capsys.readouterr().out and snapshot(workdir) == before
    monkeypatch.setattr(demo.subprocess, "call", lambda cmd: 0)
    monkeypatch.setattr(demo.report_cli, "main", lambda argv: 1)  # the report fails: no success line either
    assert demo.main(["--sweep-dir", str(sweep), "model=d8"]) == 1
    assert "done" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- sampling is bounded

def test_sampling_an_empty_part_gives_up_with_one_line(monkeypatch):
    monkeypatch.setattr(sampling, "MAX_DRAWS", 1 << 16)
    task = Task(name="add", n_digits=1, train_fraction=0.001)  # no training problem at all
    t0 = time.monotonic()
    with pytest.raises(sampling.SamplingError, match=r"found only 0 of 8 training problems .* in 65536 random draws"):
        task.sample_train(np.random.default_rng(0), 8)
    with pytest.raises(sampling.SamplingError, match="no problem in the training part"):
        sampling.check_parts(task)
    assert time.monotonic() - t0 < 5


def test_distinct_heldout_problems_of_a_large_space_are_bounded_too(monkeypatch):
    monkeypatch.setattr(sampling, "MAX_DRAWS", 1 << 16)
    task = Task(name="add", n_digits=8, train_fraction=0.99999999)
    with pytest.raises(sampling.SamplingError, match="distinct held-out problems"):
        task.heldout_problems(1000, 0)


def test_sampling_is_unchanged_for_ordinary_tasks():
    """The bound changes nothing where the old loop ended: the same seed draws the same problems."""
    task = Task(name="add", n_digits=3)
    a, b = task.sample_train(np.random.default_rng([0, 5, 0]), 128)
    rng = np.random.default_rng([0, 5, 0])
    x, y = task._sample_uniform(rng, int(128 / task.train_fraction) + 16)
    keep = ~task.is_heldout(x, y)
    assert (a == x[keep][:128]).all() and (b == y[keep][:128]).all()


# ----------------------------------------------------------------------------- fuzzing the config fields

def _value():
    text = st.text(alphabet="abcxyz019_-.", min_size=0, max_size=8)
    ints = st.one_of(st.integers(-3, 3), st.integers(-10**20, 10**20), st.sampled_from([0, -1, 2**31, 2**63, 10**9]))
    floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                       st.sampled_from(["nan", "inf", "-inf", "1e308", "1e-320"]))
    lists = st.lists(st.integers(-5, 5), max_size=3).map(lambda xs: "[" + ",".join(map(str, xs)) + "]")
    return st.one_of(ints.map(str), floats.map(str), text.map(lambda t: f"'{t}'"), st.just("null"), lists,
                     st.sampled_from(["true", "false", "{}", "[]"]))


TASK_KEYS = ["task.n_digits", "task.train_fraction", "task.format", "task.split", "task.p", "task.op",
             "task.split_seed", "task.pad_answer", "task.train_size", "task.encoding"]
MODEL_KEYS = ["model.d_model", "model.n_layer", "model.n_head", "model.d_mlp", "model.context",
              "model.abacus_offset", "model.activation", "model.pos_embedding", "model.attn_impl"]
TRAIN_EVAL_KEYS = ["train.steps", "train.tokens", "train.batch_size", "train.ensemble", "train.lr",
                   "train.warmup_steps", "train.checkpoint_every", "train.grokfast_lambda", "eval.size", "eval.seed",
                   "eval.per_decade", "eval.start_fraction", "eval.batch_size", "seed"]
SKILL_KEYS = ["n_digits", "weight", "train_fraction", "p", "split_seed", "format", "op", "split", "name", "task"]


def _accepts_or_one_line(args: list[str]) -> None:
    t0 = time.monotonic()
    try:
        check_command_line(args)
    except ConfigError as err:
        text = str(err)
        assert text and "\n" not in text and len(text) < 1500, text
    assert time.monotonic() - t0 < 5, args


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(key=st.sampled_from(TASK_KEYS), value=_value(), task=st.sampled_from(["add", "sub", "mul", "mod"]))
def test_fuzz_task_fields(key, value, task):
    _accepts_or_one_line([f"task={task}", f"{key}={value}", "hydra.run.dir=/nonexistent/fuzz"])


@FUZZ
@given(key=st.sampled_from(MODEL_KEYS), value=_value())
def test_fuzz_model_fields(key, value):
    _accepts_or_one_line([f"{key}={value}", "model.pos_embedding=abacus" if "abacus" in key else "seed=0",
                          "hydra.run.dir=/nonexistent/fuzz"])


@FUZZ
@given(key=st.sampled_from(TRAIN_EVAL_KEYS), value=_value())
def test_fuzz_train_and_eval_fields(key, value):
    _accepts_or_one_line([f"{key}={value}", "hydra.run.dir=/nonexistent/fuzz"])


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(SKILL_KEYS), _value(), min_size=1, max_size=3),
       base=st.sampled_from(["task:add,n_digits:2,weight:1", "task:mod,p:13,weight:1", "task:sub,n_digits:1"]))
def test_fuzz_mixture_skill_fields(fields, base):
    entry = ",".join([base, *(f"{k}:{v}" for k, v in fields.items())])
    _accepts_or_one_line([*mix(entry, "task:mul,n_digits:1,weight:1,name:other"), "hydra.run.dir=/nonexistent/fuzz"])


# ----------------------------------------------------------------------------- stopping and resuming

STOP_SCRIPT = """
import sys, time
from toymodels.training import {module} as target
original = target.{cls}.{method}
def slow(self, *args, **kwargs):
    if {condition}:
        print("[slow] started", flush=True)
        while True:  # a formerly endless loop (or a very long evaluation): pure work, no state changed
            sum(range(10000))
    return original(self, *args, **kwargs)
target.{cls}.{method} = slow
sys.argv = ["toymodels-train", *sys.argv[1:]]
from toymodels.cli.train import main
main()
"""
TINY = (*SMALL_RUN, "model=d8", "train.tokens=null", "train.steps=60", "train.checkpoint_every=20", "eval.size=50",
        "verbose=false")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["sampling", "evaluation"])
def test_sigterm_stops_a_run_within_10_s_in_sampling_or_evaluation(where, tmp_path):
    spec = {"sampling": dict(module="data", cls="ArithmeticData", method="batch", condition="args[0] == 30"),
            "evaluation": dict(module="metrics", cls="Evaluator", method="score", condition="True")}[where]
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", STOP_SCRIPT.format(**spec), *TINY, f"hydra.run.dir={run_dir}"],
                            cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while True:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.communicate()
        if "[slow] started" in line:
            break
        assert time.time() - t0 < 120
    time.sleep(1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10, "took too long to stop"
    assert proc.returncode == 143 and "Traceback" not in err, err[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running" and "interrupted" in record["message"]
    again = run_cli("toymodels.cli.train", *TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"


MIX_RUN = ("task=mix", "task.skills=[{task:add,n_digits:2,weight:2},{task:sub,n_digits:1,weight:1}]",
           "model=d8", "train.tokens=null", "train.steps=120", "train.checkpoint_every=25", "eval.size=100",
           "verbose=false")
ENS_RUN = (*SMALL_RUN, "model=d8", "train.tokens=null", "train.steps=80", "train.checkpoint_every=30",
           "train.ensemble=2", "verbose=false")
RANDOM = random.Random(26)  # seeded: the points are random, the test is reproducible


def _kill_and_resume(tmp_path, args, members, sig):
    reference = tmp_path / "reference" / "run"
    reference.parent.mkdir()
    done = run_cli("toymodels.cli.train", *args, f"hydra.run.dir={reference}", cwd=reference.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    points = len(read_metrics(reference))
    after = RANDOM.randint(1, points - 1)
    run_dir = tmp_path / "run"
    stopped = run_cli("tests.interrupt", "--after-points", str(after), "--signal", sig, "--", *args,
                      f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert stopped.returncode == (-9 if sig == "KILL" else 143), stopped.stderr[-2000:]
    again = run_cli("toymodels.cli.train", *args, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    for name in members:
        a, b = read_metrics(tmp_path / name), read_metrics(reference.parent / name)
        assert [p["step"] for p in a] == [p["step"] for p in b], (after, sig)  # none missing or doubled
        for p, q in zip(a, b):
            for key in [k for k in q if k.endswith(("exact_match", "answer_logprob", "loss"))]:
                assert p[key] == pytest.approx(q[key], abs=1e-6), (after, sig, p["step"], key)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["KILL", "TERM"])
def test_a_mixture_run_killed_at_a_random_point_resumes_to_the_same_result(tmp_path, sig):
    _kill_and_resume(tmp_path, MIX_RUN, ["run"], sig)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["KILL", "TERM"])
def test_an_ensemble_run_killed_at_a_random_point_resumes_to_the_same_result(tmp_path, sig):
    _kill_and_resume(tmp_path, ENS_RUN, ["run", "run-s1"], sig)
