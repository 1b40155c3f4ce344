"""The metrics against predictions made by hand, and the teacher-forced ones against a plain reference."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from toymodels.tasks.arithmetic import Task
from toymodels.tasks.vocab import PAD, encode
from toymodels.training.metrics import Evaluator, ProblemScores
from toymodels.training.model import ModelConfig, Transformer


def _scores(evaluator: Evaluator, fields: list[str], logprobs=None) -> ProblemScores:
    """Per-problem scores whose greedy answers are the given strings ('$' ends, '_' pads)."""
    width = evaluator.task.answer_width + 1
    field = np.array([encode(f.ljust(width, "_")[:width]) for f in fields])
    n = len(fields)
    logprobs = np.zeros(n) if logprobs is None else np.asarray(logprobs, dtype=float)
    return ProblemScores(field, logprobs, np.ones(n), np.ones(n), np.zeros(n))


# 12+34 = 46, 50+49 = 99 (2-digit add: 3 answer digits when padded)
A, B = np.array([12, 50]), np.array([34, 49])


@pytest.mark.parametrize("fmt, pad, fields, expected", [
    # plain, padded: targets "046$", "099$"
    ("plain", True, ["046$", "099$"], {"exact_match": 1.0, "digit_accuracy": 1.0, "edit_distance": 0.0,
                                        "pos_acc_0": 1.0, "pos_acc_1": 1.0, "pos_acc_2": 1.0}),
    ("plain", True, ["047$", "199$"], {"exact_match": 0.0, "digit_accuracy": 2 / 3, "edit_distance": 1.0,
                                        "pos_acc_0": 0.5, "pos_acc_1": 1.0, "pos_acc_2": 0.5}),
    # reversed, padded: targets "640$", "990$"; the same mistakes, written least significant first
    ("reversed", True, ["740$", "991$"], {"exact_match": 0.0, "digit_accuracy": 2 / 3, "edit_distance": 1.0,
                                          "pos_acc_0": 0.5, "pos_acc_1": 1.0, "pos_acc_2": 0.5}),
    # a short answer is aligned by significance, not by position: "46" read from its right
    ("plain", True, ["46$", "099$"], {"exact_match": 0.5, "digit_accuracy": (2 / 3 + 1) / 2,
                                       "edit_distance": 0.5, "pos_acc_0": 1.0, "pos_acc_1": 1.0, "pos_acc_2": 0.5}),
    # unpadded plain: targets "46$", "99$"; an extra leading digit keeps the digits right but not the answer
    ("plain", False, ["146$", "9$"], {"exact_match": 0.0, "digit_accuracy": (1 + 0.5) / 2, "edit_distance": 1.0,
                                       "pos_acc_0": 1.0, "pos_acc_1": 0.5}),
    # unpadded reversed: targets "64$", "99$"
    ("reversed", False, ["64$", "91$"], {"exact_match": 0.5, "digit_accuracy": 0.75, "edit_distance": 0.5,
                                          "pos_acc_0": 1.0, "pos_acc_1": 0.5}),
])
def test_greedy_metrics_equal_hand_computed_values(fmt, pad, fields, expected):
    evaluator = Evaluator(Task(name="add", n_digits=2, format=fmt, pad_answer=pad), A, B)
    metrics = evaluator.metrics(_scores(evaluator, fields))
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-12), name


def test_answer_prob_is_the_mean_probability_and_logprob_the_mean_log():
    evaluator = Evaluator(Task(name="add", n_digits=2), A, B)
    metrics = evaluator.metrics(_scores(evaluator, ["640$", "990$"], logprobs=[math.log(0.5), math.log(0.25)]))
    assert metrics["answer_prob"] == pytest.approx(0.375, abs=1e-12)
    assert metrics["answer_logprob"] == pytest.approx((math.log(0.5) + math.log(0.25)) / 2, abs=1e-12)


def test_accuracy_by_carries_splits_exact_match_by_the_problems_carries():
    # 12+34 (no carry) right, 50+49 (no carry) wrong, 19+1 (one carry) right, 99+99 (two carries) wrong
    a, b = np.array([12, 50, 19, 99]), np.array([34, 49, 1, 99])
    evaluator = Evaluator(Task(name="add", n_digits=2), a, b)
    assert evaluator.carries.tolist() == [0, 0, 1, 2]
    metrics = evaluator.metrics(_scores(evaluator, ["640$", "991$", "020$", "000$"]))
    assert (metrics["carries_acc_0"], metrics["carries_acc_1"], metrics["carries_acc_2"]) == (0.5, 1.0, 0.0)


@pytest.mark.parametrize("fmt, pad", [("reversed", True), ("plain", False), ("scratchpad", True)])
def test_teacher_forced_metrics_equal_a_plain_reference(fmt, pad):
    torch.manual_seed(0)
    task = Task(name="add", n_digits=3, format=fmt, pad_answer=pad)
    model = Transformer(ModelConfig(d_model=32, n_layer=2, n_head=4, context=task.seq_len - 1)).eval()
    a, b = task.sample_train(np.random.default_rng(1), 64)
    evaluator = Evaluator(task, a, b, batch_size=16)
    metrics = evaluator(model)
    # Reference: one full forward pass per row, no cache, no skipped positions.
    rows = torch.from_numpy(task.encode_rows(a, b))
    with torch.no_grad():
        logp = F.log_softmax(model(rows[:, :-1]), -1)
    target = rows[:, 1:]
    tok_logp = logp.gather(-1, target[..., None])[..., 0]
    first = task.prompt_len - 1
    scored = (target != PAD) & (torch.arange(target.shape[1]) >= first)
    ans = slice(first + task.scratch_len, first + task.scratch_len + task.answer_width)
    digit = (target[:, ans] != PAD) & (target[:, ans] != len("_0123456789+-*%=;$") - 1)
    answer_logprob = (tok_logp[:, ans] * digit).sum(1).double()
    right = ((logp.argmax(-1) == target)[:, ans] & digit).sum()
    assert metrics["answer_logprob"] == pytest.approx(float(answer_logprob.mean()), abs=1e-5)
    assert metrics["answer_prob"] == pytest.approx(float(answer_logprob.exp().mean()), rel=1e-4)
    assert metrics["token_accuracy"] == pytest.approx(int(right) / int(digit.sum()), abs=1e-12)
    assert metrics["loss"] == pytest.approx(float(-(tok_logp * scored).sum() / scored.sum()), abs=1e-5)
