"""toymodels.load and toymodels-ask: a trained run answers as its own final evaluation did; bad input is refused."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time

import numpy as np
import pytest
import torch

import toymodels
from tests.badinput import assert_refused_cleanly, snapshot
from tests.helpers import run_cli
from toymodels.inside.load import LoadError, load
from toymodels.inside.solve import solve_rows
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.mixture import build_mixture
from toymodels.tasks.vocab import decode
from toymodels.training.metrics import Evaluator
from toymodels.training.model import ModelConfig, Transformer

# 2-digit reversed addition, learned part-way: some held-out answers right, some wrong.
TINY = ("task=add", "task.n_digits=2", "task.format=reversed", "model=d32", "train.tokens=null", "train.steps=300",
        "train.checkpoint_every=300", "train.lr=1e-2", "eval.size=500")


def _fake_run(run_dir, task_cfg: dict, model_cfg: ModelConfig, task, seed: int = 0, members: int = 1):
    """A run folder with run.json and a Lightning-style checkpoint of an untrained model (no training)."""
    (run_dir / "checkpoints").mkdir(parents=True)
    net = Transformer(model_cfg, members, seeds=list(range(seed, seed + members)))
    state = {f"model.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "global_step": 7, "model_config": dataclasses.asdict(model_cfg)},
               run_dir / "checkpoints" / "last.ckpt")
    record = {"name": run_dir.name, "model": model_cfg.name, "seed": seed, "params": 123, "flops_per_step": 10.0,
              "step": 7, "config": {"task": task_cfg, "model": {"name": model_cfg.name}, "seed": seed}}
    (run_dir / "run.json").write_text(json.dumps(record))
    return net


@pytest.mark.parametrize("pos", ["learned", "abacus"])
def test_loaded_model_answers_exactly_as_the_evaluator_scores_it(tmp_path, pos):
    task = Task(name="add", n_digits=2, format="reversed")
    cfg = ModelConfig(name="d16", d_model=16, n_head=2, n_layer=1, context=task.seq_len - 1, pos_embedding=pos)
    net = _fake_run(tmp_path / "run", {"name": "add", "n_digits": 2, "format": "reversed"}, cfg, task)
    run = toymodels.load(tmp_path / "run")
    assert run.flops == 70.0 and run.params == 123 and run.step == 7 and not run.model.training
    a, b = task.heldout_problems(200, seed=1)
    scores = Evaluator(task, a, b).score(net.eval())
    fields, logp = solve_rows(run.model, task, a, b)
    assert (fields[:, :3] == scores.field[:, :3]).all()  # the evaluator never decodes the END after a padded answer
    right = (scores.field[:, :3] == task.encode_rows(a, b)[:, task.prompt_len:task.prompt_len + 3]).all(1)
    assert np.allclose(logp[right], scores.answer_logprob[right], atol=1e-5)
    answers = run.solve_many([f"{x}+{y}=" for x, y in zip(a[:5], b[:5])])
    assert [ans for ans, _ in answers] == [decode(f[:3]).split("$")[0] for f in fields[:5]]


def test_a_mixture_run_picks_the_skill_the_prompt_is_written_for(tmp_path):
    task_cfg = {"name": "mix", "skills": [{"task": "add", "n_digits": 2, "format": "plain"},
                                          {"task": "add", "n_digits": 3, "format": "plain"},
                                          {"task": "sub", "n_digits": 2, "format": "plain"}]}
    mixture = build_mixture(task_cfg)
    cfg = ModelConfig(name="d16", d_model=16, n_head=2, n_layer=1, context=mixture.seq_len - 1)
    _fake_run(tmp_path / "run", task_cfg, cfg, mixture)
    run = load(tmp_path / "run")
    assert run.task_for("45+78=").plain() == mixture.skills[0].task
    assert run.task_for("045+078=").plain() == mixture.skills[1].task
    assert run.task_for("45-7=").plain() == mixture.skills[2].task
    assert run.task_for("45+78=", skill="add3").plain() == mixture.skills[1].task
    assert len(run.solve_many(["45+78=", "045+078=", "45-7="])) == 3
    with pytest.raises(ValueError, match="fits none"):
        run.solve("45*7=")


@pytest.mark.parametrize("prompt, why", [("45-78=", "uses '-'"), ("456+7=", "more than 2 digits"),
                                         ("4a+7=", "outside the vocabulary"), ("45+78", "of the form"),
                                         ("45+7%97=", "names a modulus")])
def test_an_unreadable_prompt_is_one_line_value_error(tmp_path, prompt, why):
    task = Task(name="add", n_digits=2, format="reversed")
    cfg = ModelConfig(name="d16", d_model=16, n_head=2, n_layer=1, context=task.seq_len - 1)
    _fake_run(tmp_path / "run", {"name": "add", "n_digits": 2, "format": "reversed"}, cfg, task)
    with pytest.raises(ValueError, match=why) as err:
        load(tmp_path / "run").solve(prompt)
    assert "\n" not in str(err.value)


def test_folders_that_cannot_be_loaded_raise_one_line_load_errors(tmp_path):
    task = Task(name="add", n_digits=2, format="reversed")
    cfg = ModelConfig(name="d16", d_model=16, n_head=2, n_layer=1, context=task.seq_len - 1)
    _fake_run(tmp_path / "good", {"name": "add", "n_digits": 2, "format": "reversed"}, cfg, task)
    (tmp_path / "empty").mkdir()
    shutil.copytree(tmp_path / "good", tmp_path / "corrupt")
    ckpt = tmp_path / "corrupt" / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:2000])
    shutil.copytree(tmp_path / "good", tmp_path / "noweights")
    shutil.rmtree(tmp_path / "noweights" / "checkpoints")
    cases = {"empty": "holds no runs", "missing": "does not exist", "corrupt": "truncated or corrupt",
             "noweights": "has no weights"}
    for name, why in cases.items():
        with pytest.raises(LoadError, match=why) as err:
            load(tmp_path / name)
        assert "\n" not in str(err.value)
    with pytest.raises(LoadError, match="holds no run with model=d16 and seed=5"):
        load(tmp_path, model="d16", seed=5)
    with pytest.raises(LoadError, match="holds 3 runs with model=d16 and seed=0: give the run folder itself"):
        load(tmp_path, model="d16", seed=0)


# ----------------------------------------------------------------------------- trained through the CLI


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("sweep")
    proc = run_cli("toymodels.cli.train", *TINY, f"hydra.run.dir={sweep / 'add2-d32-s0'}", cwd=sweep)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sweep


@pytest.mark.slow
def test_load_solves_held_out_problems_as_the_runs_final_evaluation(trained):
    run = toymodels.load(trained / "add2-d32-s0")
    final = np.load(trained / "add2-d32-s0" / "final_problems.npz")
    a, b = final["a"][:100], final["b"][:100]
    answers = run.solve_many([f"{x}+{y}=" for x, y in zip(a, b)])
    right = np.array([run.value(ans) == x + y for (ans, _), x, y in zip(answers, a, b)])
    assert (right == final["correct"][:100]).all()
    assert right.any()
    probs = np.array([p for _, p in answers])
    assert np.allclose(probs[right], np.exp(final["logprob"][:100][right]), rtol=1e-4)
    assert run.step == json.loads((trained / "add2-d32-s0" / "run.json").read_text())["step"]
    assert run.flops == run.record["flops"] and run.config["model"]["name"] == "d32"


@pytest.mark.slow
def test_an_ensemble_member_loads_as_that_single_member(tmp_path):
    proc = run_cli("toymodels.cli.train", "task=add", "task.n_digits=2", "task.format=reversed", "model=d16",
                   "train.tokens=null", "train.steps=40", "train.checkpoint_every=40", "train.ensemble=2",
                   "eval.size=200", "run_name=add2-d16-s${seed}", f"hydra.run.dir={tmp_path / 'add2-d16-s0'}",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    member = load(tmp_path, model="d16", seed=1)
    assert member.run_dir == tmp_path / "add2-d16-s1" and member.model.members == 1
    stacked = torch.load(tmp_path / "add2-d16-s0" / "checkpoints" / "last.ckpt", map_location="cpu")["state_dict"]
    assert torch.equal(member.model.tok.weight[0], stacked["model.tok.weight"][1])
    final = np.load(tmp_path / "add2-d16-s1" / "final_problems.npz")
    answers = member.solve_many([f"{x}+{y}=" for x, y in zip(final["a"], final["b"])])
    right = np.array([member.value(ans) == x + y for (ans, _), x, y in zip(answers, final["a"], final["b"])])
    assert (right == final["correct"]).all()


@pytest.mark.slow
def test_ask_prints_one_line_per_prompt(trained):
    proc = run_cli("toymodels.cli.ask", str(trained), "45+78=", "3+4=", "--model", "d32", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("45+78= -> ") and "(reversed: " in lines[0]
    assert lines[1].startswith("3+4= -> ") and lines[1].endswith(")") and "(p = " in lines[1]


@pytest.mark.slow
def test_ask_refuses_bad_input_cleanly(trained, tmp_path):
    run = trained / "add2-d32-s0"
    (tmp_path / "notarun").mkdir()
    (tmp_path / "noweights").mkdir()
    shutil.copy(run / "run.json", tmp_path / "noweights")
    (tmp_path / "corrupt" / "checkpoints").mkdir(parents=True)
    shutil.copy(run / "run.json", tmp_path / "corrupt")
    truncated = (run / "checkpoints" / "last.ckpt").read_bytes()[:3000]
    (tmp_path / "corrupt" / "checkpoints" / "last.ckpt").write_bytes(truncated)
    cases = [(tmp_path / "notarun", "45+78="), (tmp_path / "noweights", "45+78="), (tmp_path / "corrupt", "45+78="),
             (run, "45*78="), (run, "123+4="), (trained, "45+78=", "--model", "d64", "--seed", "0"),
             (trained, "45+78=", "--model", "d32", "--seed", "7")]
    for folder, *args in cases:
        before = snapshot(trained, tmp_path)
        started = time.monotonic()
        proc = run_cli("toymodels.cli.ask", str(folder), *args)
        assert_refused_cleanly(proc, before, trained, tmp_path, started=started, max_seconds=30)
        assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
        assert proc.stderr.startswith("toymodels-ask: error: ")
