"""Position encodings (model.pos_embedding): learned, none (NoPE) and abacus, on every task layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import SMALL_RUN, read_metrics, run_cli
from toymodels.tasks.arithmetic import FORMATS, Task
from toymodels.tasks.digits import to_digits
from toymodels.tasks.positions import abacus_ids, row_abacus_ids, training_positions
from toymodels.tasks.vocab import DIGIT0
from toymodels.training.model import (
    ModelConfig,
    Transformer,
    inference_flops_per_problem,
    non_embedding_params,
    total_params,
    training_flops_per_token,
)

TASKS = [dict(name=n, n_digits=d) for n in ("add", "sub", "mul") for d in (1, 3)] + [
    dict(name="mod", p=97, op=op) for op in ("add", "sub", "mul")
] + [dict(name="mod", p=1009, op="add")]


def _digit_of(values_msd_first: np.ndarray, significance: int) -> np.ndarray:
    """Token of the digit of 10**significance, from digit rows written most significant first."""
    return DIGIT0 + values_msd_first[:, values_msd_first.shape[1] - 1 - significance]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("spec", TASKS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_abacus_ids_index_each_digit_by_its_significance_on_every_layout(spec, fmt):
    task = Task(format=fmt, **spec)
    ids = abacus_ids(task)
    assert ids.shape == (task.seq_len,)
    rows = task.encode_rows(*task.sample_train(np.random.default_rng(0), 64))
    is_digit = (rows >= DIGIT0) & (rows < DIGIT0 + 10)
    # Digit tokens (every row, every position where any row has a digit) get ids >= 1, the rest 0.
    assert np.array_equal(ids > 0, is_digit.all(0))
    # Operands and answer: the token at a position with id i + 1 is the digit of 10**i of a, b, or the answer.
    a, b = task.sample_train(np.random.default_rng(1), 64)
    rows = task.encode_rows(a, b)
    w, answer_at = task.operand_width, task.prompt_len + task.scratch_len
    numbers = [(0, w, to_digits(a, w)), (w + 1, 2 * w + 1, to_digits(b, w)),
               (answer_at, answer_at + task.answer_width, task.answers(a, b))]
    for lo, hi, digits in numbers:
        assert sorted(ids[lo:hi]) == list(range(1, hi - lo + 1))  # each significance once
        for p in range(lo, hi):
            assert np.array_equal(rows[:, p], _digit_of(digits, ids[p] - 1)), p
    if fmt == "scratchpad":
        pad = ids[task.prompt_len : task.prompt_len + task.scratch_len - 1]
        if task.name in ("add", "sub"):  # per column (least significant first): carry, digit of that column
            assert list(pad) == [c for i in range(1, task.n_digits + 1) for c in (i, i)]
        elif task.name == "mul":  # n partial products of n + 1 digits, most significant first
            assert list(pad) == list(range(task.n_digits + 1, 0, -1)) * task.n_digits
        else:  # the unreduced result, most significant first
            assert list(pad) == list(range(len(pad), 0, -1))


def test_abacus_ids_of_a_3_digit_addition_as_written():
    task = Task(name="add", n_digits=3, format="reversed")  # 456+789=5421$
    assert list(abacus_ids(task)) == [3, 2, 1, 0, 3, 2, 1, 0, 1, 2, 3, 4, 0]


@pytest.mark.parametrize("fmt", ["plain", "scratchpad"])
def test_abacus_refuses_an_unpadded_answer_written_most_significant_first(fmt):
    with pytest.raises(ValueError, match="cannot index .* task.pad_answer=false"):
        abacus_ids(Task(name="add", n_digits=3, format=fmt, pad_answer=False))
    assert abacus_ids(Task(name="add", n_digits=3, format="reversed", pad_answer=False)).size > 0


def test_training_offsets_shift_digits_only():
    ids = abacus_ids(Task(name="add", n_digits=2))
    shifted = training_positions(ids, np.array([0, 5]))
    assert np.array_equal(shifted[0], ids)
    assert np.array_equal(shifted[1], np.where(ids > 0, ids + 5, 0))


@pytest.mark.parametrize("kind", ["learned", "none", "abacus"])
def test_flops_do_not_depend_on_the_position_encoding_and_params_count_its_table(kind):
    base = ModelConfig(d_model=16, n_layer=2, n_head=2, context=20)
    cfg = ModelConfig(d_model=16, n_layer=2, n_head=2, context=20, pos_embedding=kind, abacus_offset=4)
    assert training_flops_per_token(cfg, 20) == training_flops_per_token(base, 20)
    assert inference_flops_per_problem(cfg, 21) == inference_flops_per_problem(base, 21)
    model = Transformer(cfg)
    assert sum(p.numel() for p in model.parameters()) == total_params(cfg)
    rows = {"learned": 20, "none": 0, "abacus": 20 + 4 + 1}[kind]
    assert total_params(cfg) == non_embedding_params(cfg) + (cfg.vocab_size + rows) * 16
    assert hasattr(model, "pos") == (kind != "none")


def test_inference_flops_count_a_kv_cached_greedy_pass():
    from torch.utils.flop_counter import FlopCounterMode

    task = Task(name="add", n_digits=2)
    cfg = ModelConfig(d_model=16, n_layer=2, n_head=2, context=task.seq_len - 1, attn_impl="matmul")
    model = Transformer(cfg).eval()
    rows = torch.from_numpy(task.encode_rows(np.array([12]), np.array([34])))
    caches = [[] for _ in model.blocks]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        for i in range(task.seq_len - 1):  # one position at a time, as the cache decodes
            model(rows[:, i : i + 1], caches, start=i)
    assert counter.get_total_flops() == inference_flops_per_problem(cfg, task.seq_len)
    scratch = Task(name="add", n_digits=2, format="scratchpad")
    assert inference_flops_per_problem(cfg, scratch.seq_len) > 1.5 * inference_flops_per_problem(cfg, task.seq_len)


def test_abacus_kv_cached_decoding_equals_uncached_and_members_share_ids():
    torch.manual_seed(0)
    task = Task(name="add", n_digits=3)
    ids = torch.from_numpy(abacus_ids(task))
    cfg = ModelConfig(d_model=16, n_layer=2, n_head=2, context=task.seq_len - 1, pos_embedding="abacus")
    model = Transformer(cfg, 1, seeds=[3]).eval()
    prompt = torch.from_numpy(task.encode_rows(*task.sample_train(np.random.default_rng(0), 32)))[:, : task.prompt_len]
    n_new = task.target_len - 1
    cached = model.generate(prompt, n_new, positions=ids[: task.prompt_len + n_new])
    assert torch.equal(cached, model.generate(prompt, n_new, use_cache=False, positions=ids[: task.prompt_len + n_new]))
    # A 2-member model with shared ids computes member 1 exactly as the one-member model of its seed.
    pair = Transformer(cfg, 2, seeds=[2, 3]).eval()
    idx = torch.randint(0, cfg.vocab_size, (2, 5, task.seq_len - 1))
    shared = pair(idx, positions=ids[:-1])
    torch.testing.assert_close(shared[1], model(idx[1], positions=ids[:-1]), atol=1e-5, rtol=1e-4)
    per_member = pair(idx, positions=ids[:-1].expand(2, 5, -1))
    torch.testing.assert_close(per_member, shared)
    with pytest.raises(ValueError, match="needs the position ids"):
        model(idx[1])


def test_the_evaluator_scores_an_abacus_model_with_its_ids():
    from toymodels.training.metrics import Evaluator

    torch.manual_seed(0)
    task = Task(name="add", n_digits=2)
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, context=task.seq_len - 1, pos_embedding="abacus")
    model = Transformer(cfg).eval()
    a, b = task.heldout_problems(50, 0)
    scores = Evaluator(task, a, b).score(model)
    # The greedy answers the evaluator reports are the model's own greedy decoding with the task's ids.
    rows = torch.from_numpy(task.encode_rows(a, b))
    ids = torch.from_numpy(abacus_ids(task))
    greedy = model.generate(rows[:, : task.prompt_len], task.target_len, positions=ids)
    written = scores.field[:, : task.answer_width]
    assert np.array_equal(written, greedy[:, : task.answer_width].numpy())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["none", "abacus"])
def test_a_model_trains_from_the_cli_with_each_position_encoding(tmp_path, kind):
    import json

    run_dir = tmp_path / kind
    proc = run_cli("toymodels.cli.train", *SMALL_RUN, "model=d8", "train.tokens=null", "train.steps=80",
                   "eval.size=200", "verbose=false", f"model.pos_embedding={kind}", "train.ensemble=2",
                   f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["pos_embedding"] == kind
    first = read_metrics(run_dir)[0]["loss"]
    # It learned something: the held-out loss fell, and below uniform guessing over 18 tokens (2.89).
    assert record["metrics"]["loss"] < min(first - 0.1, 2.8), (first, record["metrics"]["loss"])
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["model_config"]["pos_embedding"] == kind


def test_abacus_on_an_unindexable_layout_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("toymodels.cli.train", "task.format=plain", "task.pad_answer=false", "model=d8",
                   "model.pos_embedding=abacus", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "cannot index" in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("fmt", ["plain", "reversed"])
@pytest.mark.parametrize("spec", TASKS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_ids_read_off_the_tokens_equal_the_layout_ids(spec, fmt):
    task = Task(format=fmt, **spec)
    a, b = task._sample_uniform(np.random.default_rng(0), 300)
    rows = torch.from_numpy(task.encode_rows(a, b))
    expected = np.broadcast_to(abacus_ids(task), rows.shape)
    assert (row_abacus_ids(rows, fmt == "reversed").numpy() == expected).all()


def test_a_mixture_batch_gets_each_skill_its_own_ids():
    from toymodels.tasks.mixture import build_mixture

    mix = build_mixture({"name": "mix", "skills": [{"task": "add", "n_digits": 1}, {"task": "sub", "n_digits": 3},
                                                   {"task": "add", "n_digits": 5, "weight": 0}],
                         "shared": {"format": "reversed"}})
    rows, which = mix.sample_rows(np.random.default_rng(0), 200)
    ids = row_abacus_ids(torch.from_numpy(rows), True).numpy()
    for i, skill in enumerate(mix.skills[:2]):
        # The skill's own layout ids, after the PAD columns that align its '=' with the mixture's.
        expected = abacus_ids(mix.padded(skill))
        assert (ids[which == i][:, : len(expected)] == expected).all()
        assert (ids[which == i][:, len(expected):] == 0).all()
    assert len(abacus_ids(mix.padded(mix.skills[2]))) == mix.seq_len


@pytest.mark.slow
def test_a_mixture_trains_with_abacus_positions_and_scores_an_eval_only_length(tmp_path):
    import json

    run_dir = tmp_path / "run"
    proc = run_cli("toymodels.cli.train", "task=mix", "task.skills=[{task:add,n_digits:1},{task:add,n_digits:2},"
                   "{task:add,n_digits:3,weight:0}]", "task.shared.format=reversed", "model=d8",
                   "model.pos_embedding=abacus", "train.tokens=null", "train.steps=60", "eval.size=100",
                   "verbose=false", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["pos_embedding"] == "abacus"
    rows = read_metrics(run_dir)
    assert "add3/exact_match" in rows[-1] and rows[-1]["loss"] < rows[0]["loss"] - 0.1
