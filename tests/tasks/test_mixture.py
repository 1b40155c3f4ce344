"""Specification of the mixture task (task=mix): sampling, layout, disjointness, per-skill metrics, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from tests.helpers import read_metrics, run_cli
from toymodels.errors import ConfigError
from toymodels.runs.records import METRICS
from toymodels.tasks.mixture import Mixture, build_mixture
from toymodels.tasks.vocab import PAD, STOI, VOCAB, decode
from toymodels.training import build
from toymodels.training.config import build_run
from toymodels.training.mixture_run import MixtureData, MixtureEvaluator
from toymodels.training.model import ModelConfig, Transformer

SKILLS = [
    {"task": "add", "n_digits": 1, "weight": 4},
    {"task": "add", "n_digits": 2, "weight": 2},
    {"task": "mod", "p": 7, "weight": 1},
    {"task": "sub", "n_digits": 2, "weight": 0},
]


def _mixture(skills=SKILLS, **extra) -> Mixture:
    return build_mixture({"name": "mix", "skills": skills, **extra})


def _config(**task) -> dict:
    """A plain config dict, as build_run receives it from Hydra, for a d8 model on a mixture."""
    return {
        "task": {"name": "mix", "skills": SKILLS, **task},
        "model": {"name": "d8", "d_model": 8, "n_layer": 1, "n_head": 2},
        "train": {"steps": 10, "batch_size": 32},
        "eval": {"size": 20, "seed": 1, "per_decade": 4, "start_fraction": 0.1},
        "trainer": {"accelerator": "cpu", "devices": 1},
        "logger": {"kind": "csv"},
        "seed": 0,
    }


# ----------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("alpha", [None, 1.0])
def test_observed_skill_frequencies_match_the_weights(alpha):
    mixture = _mixture(zipf_alpha=alpha)
    expected = np.array([4, 2, 1, 0]) / 7 if alpha is None else np.array([1, 1 / 4, 1 / 9, 0]) / (1 + 1 / 4 + 1 / 9)
    np.testing.assert_allclose(mixture.probabilities, expected)
    n, counts = 0, np.zeros(4)
    for step in range(40):
        _, which = mixture.sample_rows(np.random.default_rng([0, step]), 256)
        counts += np.bincount(which, minlength=4)
        n += len(which)
    # Each count is binomial: within 4 standard deviations (a false alarm about once in 16,000 runs).
    sd = np.sqrt(n * expected * (1 - expected))
    assert np.all(np.abs(counts - n * expected) <= 4 * sd + 1e-9), (counts, n * expected)
    assert counts[3] == 0  # the evaluation-only skill is never trained on


def test_zipf_rank_orders_trained_skills_by_weight():
    mixture = _mixture(zipf_alpha=0.5)
    assert [mixture.zipf_rank(s) for s in mixture.skills] == [1, 2, 3, None]
    flipped = _mixture([{**SKILLS[0], "weight": 1}, {**SKILLS[1], "weight": 5}, SKILLS[2], SKILLS[3]])
    assert [flipped.zipf_rank(s) for s in flipped.skills] == [2, 1, 3, None]


# ----------------------------------------------------------------------------- layout and FLOPs


def test_rows_of_different_lengths_share_a_batch_with_their_equals_signs_aligned():
    mixture = _mixture()
    rows, which = mixture.sample_rows(np.random.default_rng(0), 300)
    assert rows.shape == (300, mixture.seq_len)
    eq = mixture.prompt_len - 1
    assert np.all(rows[:, eq] == STOI["="])
    for i, skill in enumerate(mixture.skills):
        mine = rows[which == i]
        if len(mine) == 0:
            continue
        lead = mixture.prompt_len - skill.task.prompt_len
        assert np.all(mine[:, :lead] == PAD)
        # The target is the skill's own: what its task writes, then padding to the longest target.
        target = mine[:, mixture.prompt_len:]
        assert np.all(target[:, skill.task.target_len:] == PAD)
        assert np.all(target[:, : skill.task.target_len] != PAD)


def test_padding_is_never_scored_and_flops_count_the_padded_batch():
    run_cfg = build_run(_config())
    run_cfg.model = ModelConfig(**{**run_cfg.model.__dict__, "attn_impl": "matmul"})  # the counter sees matmuls
    module, data = build.make_module(run_cfg), build.make_data(run_cfg)
    batch = data.batch(0)
    start = run_cfg.task.prompt_len - 1
    scored = batch[:, start + 1:] != PAD
    mixture = run_cfg.task
    _, which = mixture.sample_rows(np.random.default_rng([run_cfg.seed, 0, 0]), run_cfg.batch_size)
    per_row = np.array([mixture.skills[i].task.target_len for i in which])
    assert scored.sum(1).tolist() == per_row.tolist()  # exactly each skill's target tokens, no padding
    with FlopCounterMode(display=False) as counter:
        logits = module.model(batch[:, :-1])
        F.cross_entropy(logits[:, start:].reshape(-1, len(VOCAB)), batch[:, start + 1:].reshape(-1),
                        ignore_index=PAD).backward()
    assert module.cost.flops == counter.get_total_flops()  # every position computed, padding included
    assert module.cost.tokens == run_cfg.batch_size * (mixture.seq_len - 1)
    assert 0 < mixture.pad_share < 1


# ----------------------------------------------------------------------------- disjointness


def test_each_skills_held_out_problems_never_appear_in_training():
    skills = [{"task": "add", "n_digits": 1, "weight": 1}, {"task": "sub", "n_digits": 1, "weight": 1},
              {"task": "mod", "p": 11, "weight": 1}, {"name": "add1plain", "task": "add", "n_digits": 1,
                                                      "format": "plain", "weight": 0}]
    mixture = _mixture(skills)
    data = MixtureData(mixture, batch_size=256, seed=0, eval_size=10_000, eval_seed=3)
    prompt = mixture.prompt_len
    trained = {decode(r[:prompt]) for step in range(20) for r in data.batch(step).numpy()}
    ev = MixtureEvaluator(mixture, data.eval_problems)
    for skill in mixture.skills:
        held = {decode(r[:prompt]) for r in ev.evaluators[skill.name].rows.numpy()}
        assert len(held) == skill.task.heldout_count  # every held-out problem (eval.size exceeds them)
        assert not held & trained, skill.name
        if not skill.eval_only:  # 20 batches draw every training problem of these small spaces
            space = _prompts(skill.task, prompt)
            assert held | (trained & space) == space


def _prompts(task, width: int) -> set[str]:
    """Every prompt of a task's problem space, laid out in a mixture whose prompts are `width` long."""
    a, b = task._enumerate()
    rows = task.encode_rows(a, b)[:, : task.prompt_len]
    return {"_" * (width - task.prompt_len) + decode(r) for r in rows}


def test_skills_posing_the_same_problems_must_share_a_split():
    skills = [{"task": "add", "n_digits": 2, "weight": 1},
              {"name": "add2b", "task": "add", "n_digits": 2, "train_fraction": 0.5, "weight": 0}]
    with pytest.raises(ConfigError, match="same problems with different splits"):
        _mixture(skills)


# ----------------------------------------------------------------------------- metrics


def test_metrics_are_named_per_skill_and_the_overall_loss_weights_the_trained_skills():
    mixture = _mixture()
    data = MixtureData(mixture, batch_size=8, seed=0, eval_size=30, eval_seed=1)
    ev = MixtureEvaluator(mixture, data.eval_problems)
    torch.manual_seed(0)
    model = Transformer(ModelConfig(d_model=8, n_layer=1, n_head=2, context=mixture.seq_len - 1))
    scores = ev.score(model)
    metrics = ev.metrics(scores)
    names = [s.name for s in mixture.skills]
    assert names == ["add1", "add2", "mod7", "sub2"]
    per_skill = {f"{n}/{m}" for n in names for m in ev.evaluators[n].metric_columns if m != "weight_norm"}
    assert set(metrics) == {"loss", "weight_norm"} | per_skill  # one model, one weight norm: unprefixed
    assert all(f"{n}/{m}" in metrics for n in names for m in METRICS)
    assert list(metrics) == ev.metric_columns
    w = {s.name: s.weight for s in mixture.skills}
    nll = sum(w[n] * scores[n].target_nll.mean() for n in names)
    tokens = sum(w[n] * scores[n].target_tokens.mean() for n in names)
    assert metrics["loss"] == pytest.approx(nll / tokens)
    # The evaluation-only skill is outside the mixture's loss, inside its own.
    scores["sub2"].target_nll = scores["sub2"].target_nll * 2
    again = ev.metrics(scores)
    assert again["loss"] == metrics["loss"] and again["sub2/loss"] == pytest.approx(2 * metrics["sub2/loss"])


@pytest.mark.slow
def test_a_mixture_run_writes_per_skill_names_in_every_record(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("toymodels.cli.train", "task=mix", "model=d8", "train.steps=12", "eval.size=20",
                     "eval.per_decade=2", "logger=tensorboard", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_metrics(run_dir)
    assert {"loss", "add1/exact_match", "add4/exact_match", "add4/pos_acc_4", "add3/carries_acc_3"} <= set(rows[0])
    assert "exact_match" not in rows[0]  # a mixture has no bare skill metrics
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["task"] == "mix"
    assert {"loss", "add2/exact_match", "add2/position_accuracy"} <= set(record["metrics"])
    assert [s["name"] for s in record["skills"]] == ["add1", "add2", "add3", "add4"]
    assert record["skills"][3]["eval_only"] and record["skills"][3]["zipf_rank"] is None
    events = b"".join(p.read_bytes() for p in (run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert b"eval/add3/exact_match" in events and b"eval/loss" in events  # the loggers' names (W&B's too)
    assert "loss" in result.stdout and "add4" in result.stdout


# ----------------------------------------------------------------------------- bad input


BAD = {
    "empty": ([], "task.skills is empty"),
    "negative": ([{"task": "add", "weight": -1}], "must be >= 0"),
    "all zero": ([{"task": "add", "weight": 0}, {"task": "sub", "weight": 0}], "every weight is 0"),
    "unknown task": ([{"task": "add"}, {"task": "div"}], "task.skills\\[1\\].task='div' is unknown"),
    "duplicate": ([{"task": "add", "n_digits": 2}, {"name": "add2", "task": "sub"}], "two skills named 'add2'"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_skill_lists_are_refused_with_one_line(case):
    skills, message = BAD[case]
    with pytest.raises(ConfigError, match=message) as err:
        build_run(_config(skills=skills))
    assert "\n" not in str(err.value)


def test_a_mixture_refuses_a_finite_training_set_and_abacus_on_a_scratchpad_or_mixed_formats():
    with pytest.raises(ConfigError, match="task.train_size is not available with task=mix"):
        build_run(_config(train_size=100))
    for skills, message in [
        ([{"task": "add", "n_digits": 2, "format": "scratchpad"}], "cannot index skill add2's scratchpad"),
        ([{"task": "add", "n_digits": 2, "format": "plain"}, {"task": "add", "n_digits": 3}], "needs one format"),
    ]:
        cfg = _config(skills=skills)
        cfg["model"]["pos_embedding"] = "abacus"
        with pytest.raises(ConfigError, match=message):
            build_run(cfg)


# Every case goes through build_run above; two of them through the real command line.
@pytest.mark.parametrize("override, message", [
    ("task.skills=[]", "task.skills is empty"),
    ("task.skills=[{task:add,n_digits:2},{name:add2,task:sub}]", "two skills named"),
])
def test_bad_skill_lists_exit_2_from_the_cli_and_write_nothing(tmp_path, override, message):
    result = run_cli("toymodels.cli.train", "task=mix", override, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []
