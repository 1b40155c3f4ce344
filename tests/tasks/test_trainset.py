"""Finite training sets: disjoint from the held-out set, epochs in seeded orders, bad sizes; grok_gap."""

import numpy as np
import pytest
import torch

from tests.helpers import compose_train
from toymodels.errors import ConfigError
from toymodels.runs.records import NOT_GROKKED, grok_gap
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.trainset import TrainingSet, draw_training_set, training_part_size
from toymodels.tasks.vocab import VOCAB
from toymodels.training import build
from toymodels.training.config import build_run
from toymodels.training.data import ArithmeticData
from toymodels.training.metrics import Evaluator, weight_norm
from toymodels.training.model import ModelConfig, Transformer

TASKS = [
    Task(name="add", n_digits=2, format="plain"),
    Task(name="sub", n_digits=2, format="scratchpad"),
    Task(name="mul", n_digits=2, format="reversed", pad_answer=False),
    Task(name="mod", p=23, op="mul"),
    Task(name="add", n_digits=5),  # 10^10 problems: drawn by rejection and de-duplication, not enumerated
]



@pytest.mark.parametrize("task", TASKS, ids=[t.label for t in TASKS])
def test_finite_training_set_is_distinct_and_disjoint_from_the_heldout_set(task):
    size = min(1000, training_part_size(task) // 2)
    a, b = draw_training_set(task, size, seed=0)
    assert len(a) == size and len(set(zip(a.tolist(), b.tolist()))) == size
    assert not task.is_heldout(a, b).any()
    ea, eb = task.heldout_problems(min(500, task.heldout_count), seed=1234)
    assert not set(zip(a.tolist(), b.tolist())) & set(zip(ea.tolist(), eb.tolist()))
    # Seeded, and independent of everything but its own seed.
    again = draw_training_set(task, size, seed=0)
    assert np.array_equal(a, again[0]) and np.array_equal(b, again[1])
    assert not np.array_equal(a, draw_training_set(task, size, seed=1)[0])


def test_the_whole_training_part_can_be_the_set():
    task = Task(name="mod", p=11)
    part = training_part_size(task)
    a, b = draw_training_set(task, part, seed=3)
    assert part == 121 - task.heldout_count and len(set(zip(a.tolist(), b.tolist()))) == part


def test_epochs_are_seeded_permutations_and_batches_straddle_them():
    ts = TrainingSet(Task(name="mod", p=11), size=10, set_seed=0, order_seed=7)
    seen = np.concatenate([ts.indices(4 * k, 4) for k in range(5)])  # 5 batches of 4 = 2 epochs
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert not np.array_equal(seen[:10], seen[10:])  # a new order every epoch
    assert np.array_equal(ts.epoch_order(3), TrainingSet(Task(name="mod", p=11), 10, 0, 7).epoch_order(3))
    assert not np.array_equal(ts.epoch_order(0), TrainingSet(Task(name="mod", p=11), 10, 0, 8).epoch_order(0))
    assert ts.epochs(5, 4) == 2.0


def _data(seed=0, batch=16, world_rank=(1, 0)):
    task = Task(name="mod", p=13)
    return ArithmeticData(task, batch, seed, eval_size=20, eval_seed=1, train_set=TrainingSet(task, 50, 0, seed))


def test_batch_k_is_a_pure_function_of_seed_step_and_rank():
    # A resumed run is a new process: a fresh data module must give the same batch at the same step.
    first, second = _data(), _data()
    for step in (0, 3, 17, 250):
        assert torch.equal(first.batch(step), second.batch(step))
    assert not torch.equal(first.batch(3), _data(seed=1).batch(3))
    # Two ranks split the global batch of a step: together they are exactly its rows.
    whole, halves = _data().batch(5), [_data().batch(5, rank=r, size=8) for r in (0, 1)]
    assert torch.equal(torch.cat(halves), whole)


def test_each_member_of_a_seed_ensemble_sees_its_own_single_runs_epochs():
    # A seed ensemble on a finite set: the same problems, and member i goes through them in the epoch order a
    # single run with seed i would (so stacking seeds changes no run's data).
    task = Task(name="mod", p=13)
    ensemble = ArithmeticData(task, 16, [0, 1, 2], eval_size=20, eval_seed=1, train_set=TrainingSet(task, 50, 0, 0))
    for step in (0, 3, 17):
        stacked = ensemble.batches(step)
        assert stacked.shape[0] == 3
        for i in range(3):
            assert torch.equal(stacked[i], _data(seed=i).batch(step))
    assert not torch.equal(ensemble.batches(3)[0], ensemble.batches(3)[1])


def test_a_seed_ensemble_trains_on_a_full_batch_finite_set():
    run_cfg = build_run(compose_train("task=mod", "task.p=11", "task.train_size=60", "train.batch_size=full",
                                      "train.ensemble=3", "eval.size=50"))
    assert run_cfg.batch_size == 60 and list(run_cfg.seeds) == [0, 1, 2]
    data = build.make_data(run_cfg)
    assert data.batches(5).shape == (3, 60, run_cfg.task.seq_len)


def test_full_batch_is_the_whole_set_every_step():
    data = _data(batch=50)
    rows = {tuple(r) for r in data.batch(0).tolist()}
    assert rows == {tuple(r) for r in data.batch(9).tolist()} and len(rows) == 50


def test_training_sample_metrics_score_the_training_problems():
    run_cfg = build_run(compose_train("task=mod", "task.p=13", "task.train_size=40", "train.batch_size=full",
                                   "model=d8", "eval.size=30"))
    data = build.make_data(run_cfg)
    train_eval = build.make_train_evaluator(run_cfg, data)
    ta, tb = data.train_sample
    assert len(ta) == 30 and not run_cfg.task.is_heldout(ta, tb).any()
    assert set(zip(ta.tolist(), tb.tolist())) <= set(zip(data.train_set.a.tolist(), data.train_set.b.tolist()))
    model = Transformer(run_cfg.model)
    metrics = train_eval(model)
    assert metrics == Evaluator(run_cfg.task, ta, tb)(model)
    stream = build_run(compose_train("task=mod", "task.p=13", "eval.size=30"))
    assert build.make_train_evaluator(stream, build.make_data(stream)) is None


def test_weight_norm_is_the_norm_of_all_parameters():
    model = Transformer(ModelConfig(d_model=8, n_layer=1, n_head=2, context=8, vocab_size=len(VOCAB)))
    expected = torch.cat([p.detach().flatten() for p in model.parameters()]).norm().item()
    assert weight_norm(model) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (("task=mod", "task.p=11", "task.train_size=61"), "task.train_size=61 is larger than the 60 problems"),
        (("task=mod", "task.p=11", "task.train_size=0"), "task.train_size=0 must be >= 1"),
        (("task=mod", "task.p=11", "task.train_size=-5"), "task.train_size=-5 must be >= 1"),
        (("task=mod", "task.p=11", "task.train_size=many"), "task.train_size='many' must be a whole number"),
        (("task=add", "train.batch_size=full"), "train.batch_size=full needs a finite training set"),
        (("task=add", "task.n_digits=6", "task.train_size=3000000", "train.batch_size=full", "model=d256"),
         "GiB limit"),
        (("task=mod", "task.p=11", "task.train_size=50", "train.batch_size=64"), "larger than task.train_size=50"),
        (("task=add", "train.batch_size=half"), "train.batch_size='half' must be a whole number"),
    ],
)
def test_bad_training_set_sizes_raise_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=None) as err:
        build_run(compose_train(*overrides))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_full_batch_sets_the_batch_and_run_info_records_the_set():
    run_cfg = build_run(compose_train("task=mod", "task.p=11", "task.train_size=60", "train.batch_size=full",
                                   "eval.size=50"))
    info = build.run_info(run_cfg)
    assert run_cfg.batch_size == 60 and info["train_size"] == 60 and info["batch_size"] == 60
    assert info["train_set_seed"] == 0 and info["name"] == "mod11add-plain-n60-d64-s0"
    assert build.run_info(build_run(compose_train("task=mod", "task.p=11", "eval.size=50")))["train_size"] is None


# ----------------------------------------------------------------------------- grok_gap


def _points(train, heldout, flops_per_step=100.0):
    return [{"step": s, "flops": s * flops_per_step, "train_exact_match": t, "exact_match": h}
            for s, t, h in zip((10, 20, 40, 80, 160), train, heldout)]


def test_grok_gap_measures_from_fitting_to_generalising():
    gap = grok_gap(_points([0.2, 0.995, 1.0, 0.98, 1.0], [0.0, 0.1, 0.5, 0.99, 1.0]))
    assert gap["train"] == {"step": 20, "flops": 2000.0} and gap["heldout"] == {"step": 80, "flops": 8000.0}
    assert gap["steps"] == 60 and gap["flops"] == 6000.0 and gap["ratio"] == 4.0 and gap["level"] == 0.99


@pytest.mark.parametrize("train, heldout", [
    ([0.2, 0.5, 0.9, 0.98, 0.989], [0.0, 0.0, 0.0, 0.0, 0.0]),  # never fitted
    ([0.2, 1.0, 1.0, 1.0, 1.0], [0.0, 0.1, 0.5, 0.9, 0.98]),  # fitted, never generalised
])
def test_grok_gap_says_not_grokked(train, heldout):
    assert grok_gap(_points(train, heldout)) == NOT_GROKKED


def test_grok_gap_is_zero_when_both_happen_together():
    gap = grok_gap(_points([0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.995, 1.0, 1.0]))
    assert gap["steps"] == 0 and gap["ratio"] == 1.0
