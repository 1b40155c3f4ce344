"""Hidden-progress measures: sub-result labels, linear probes, Fourier concentration, residuals, attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toymodels.inside.activations import residual_stream, task_residuals
from toymodels.inside.attention import answer_attention, attention_figure, key_labels
from toymodels.inside.fourier import fourier_concentration, random_concentration, residue_embedding
from toymodels.inside.probes import carry_labels, digit_labels, fit_probe, probe_accuracy, probe_metrics
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.positions import abacus_ids
from toymodels.training.model import ModelConfig, Transformer

ADD2 = Task(name="add", n_digits=2, format="reversed")


def _model(task: Task, pos: str = "learned", n_layer: int = 2) -> Transformer:
    cfg = ModelConfig(d_model=16, n_head=2, n_layer=n_layer, context=task.seq_len - 1, pos_embedding=pos,
                      vocab_size=task.vocab_size)
    return Transformer(cfg, 1, seeds=[0]).eval()


# ----------------------------------------------------------------------------- labels


def test_carry_and_digit_labels_of_hand_computed_additions():
    a, b = np.array([45, 12, 99]), np.array([78, 34, 1])
    # 45 + 78: 5 + 8 = 13 (carry 1, digit 3), 4 + 7 + 1 = 12 (carry 1, digit 2): 123.
    assert carry_labels(ADD2, a, b).tolist() == [[1, 1], [0, 0], [1, 1]]
    assert digit_labels(ADD2, a, b).tolist() == [[3, 2, 1], [6, 4, 0], [0, 0, 1]]


def test_borrow_and_digit_labels_of_hand_computed_subtractions():
    sub2 = Task(name="sub", n_digits=2, format="plain")
    a, b = np.array([52, 30, 99]), np.array([17, 1, 9])
    # 52 - 17: 2 - 7 borrows (digit 5), 5 - 1 - 1 = 3: 35. 30 - 1: 0 - 1 borrows (9), 3 - 0 - 1 = 2: 29.
    assert carry_labels(sub2, a, b).tolist() == [[1, 0], [1, 0], [0, 0]]
    assert digit_labels(sub2, a, b).tolist() == [[5, 3], [9, 2], [0, 9]]


@pytest.mark.parametrize("task", [Task(name="mul", n_digits=2), Task(name="mod", p=97, format="plain",
                                                                      encoding="symbols")])
def test_a_task_without_carry_bits_refuses_in_one_line(task):
    with pytest.raises(ValueError, match="has no carry bits") as err:
        carry_labels(task, np.array([3]), np.array([4]))
    assert "\n" not in str(err.value)
    assert digit_labels(task, np.array([3]), np.array([4])).shape == (1, task.answer_width)


# ----------------------------------------------------------------------------- probes


def _planted(n: int, d: int = 32, seed: int = 0):
    """Gaussian residuals whose label is which side of a hyperplane they lie on (a linear feature)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 5.0, size=d) + rng.normal(size=d) * 3
    direction = rng.normal(size=d)
    y = ((x - x.mean(0)) @ direction > 0).astype(np.int64)
    return torch.from_numpy(x).float(), y


def test_a_probe_recovers_a_planted_linear_feature_and_scores_chance_on_shuffled_labels():
    x, y = _planted(3000)
    train, held = slice(0, 2000), slice(2000, None)
    probe = fit_probe(x[train], y[train])
    assert probe.accuracy(x[held], y[held])[0] >= 0.95
    shuffled = np.random.default_rng(1).permutation(y[train])
    chance = max(np.mean(y[held]), 1 - np.mean(y[held]))
    assert abs(fit_probe(x[train], shuffled).accuracy(x[held], y[held])[0] - 0.5) <= 0.05 + abs(chance - 0.5)


def test_a_probe_fits_several_label_columns_and_classes_at_once():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(1500, 20))).float()
    y = np.stack([(x[:, 0] > 0).numpy(), np.digitize(x[:, 1].numpy(), [-1, 0, 1])], 1)  # 2 and 4 classes
    probe = fit_probe(x[:1000], y[:1000])
    assert (probe.accuracy(x[1000:], y[1000:]) >= 0.9).all()


def test_probe_metrics_of_an_untrained_model_run_on_every_layer_and_sub_result():
    model = _model(ADD2)
    train = ADD2.sample_train(np.random.default_rng(0), 300)
    held = ADD2.heldout_problems(200, seed=1)
    out = probe_metrics(model, ADD2, train, held)
    assert set(out) == {"probe_carry_acc", "probe_carry_layer", "probe_digit_acc", "probe_digit_layer"}
    assert 0.0 <= out["probe_carry_acc"] <= 1.0 and out["probe_carry_layer"] in (0, 1, 2)
    acc = probe_accuracy(model, ADD2, 2, ADD2.prompt_len - 1, "carry", train, held)
    assert acc.shape == (2,)


# ----------------------------------------------------------------------------- Fourier


def test_fourier_concentration_is_one_for_an_embedding_of_k_pure_frequencies():
    p, x = 97, np.arange(97)
    waves = [np.cos(2 * np.pi * 3 * x / p), np.sin(2 * np.pi * 3 * x / p), np.cos(2 * np.pi * 17 * x / p + 0.4),
             np.sin(2 * np.pi * 40 * x / p)]
    w = np.stack(waves, 1) @ np.random.default_rng(0).normal(size=(4, 24)) + 0.7  # any mix, plus a constant
    assert fourier_concentration(w, 3) == pytest.approx(1.0, abs=1e-12)
    assert fourier_concentration(w, 2) < 0.99


@pytest.mark.parametrize("p, d, k", [(97, 128, 5), (13, 4, 2), (11, 8, 1)])
def test_fourier_concentration_of_random_embeddings_has_the_stated_expectation(p, d, k):
    draws = [fourier_concentration(np.random.default_rng(i).normal(size=(p, d)), k) for i in range(200)]
    expected = random_concentration(p, d, k)
    assert abs(np.mean(draws) - expected) <= 4 * np.std(draws) / np.sqrt(len(draws))
    assert expected > k / ((p - 1) // 2)  # the top-k pick beats the share k/F of a fixed k frequencies


def test_residue_embedding_needs_a_token_per_residue():
    mod = Task(name="mod", p=13, format="plain", encoding="symbols")
    assert residue_embedding(_model(mod), mod).shape == (13, 16)
    with pytest.raises(ValueError, match="no token per residue"):
        residue_embedding(_model(ADD2), ADD2)


# ----------------------------------------------------------------------------- residuals and attention


@pytest.mark.parametrize("pos", ["learned", "abacus"])
def test_the_last_residual_boundary_gives_the_models_logits(pos):
    model = _model(ADD2, pos)
    a, b = ADD2.heldout_problems(20, seed=1)
    stream = task_residuals(model, ADD2, a, b)
    assert stream.shape == (3, 20, ADD2.seq_len - 1, 16)
    rows = torch.from_numpy(ADD2.encode_rows(a, b))[:, :-1]
    ids = None if pos == "learned" else torch.from_numpy(abacus_ids(ADD2))[:-1]
    with torch.no_grad():
        logits = model(rows, positions=ids)
        again = model.ln_f(stream[-1][None])[0] @ model.tok.weight[0].T
    assert torch.allclose(logits, again, atol=1e-5)
    assert torch.equal(residual_stream(model, rows, ids)[0], stream[0])


def test_attention_rows_sum_to_one_and_the_figure_is_written(tmp_path):
    model = _model(ADD2)
    a, b = ADD2.heldout_problems(30, seed=1)
    pattern = answer_attention(model, ADD2, a, b)
    assert pattern.shape == (2, 2, ADD2.answer_width, ADD2.seq_len - 1)
    assert np.allclose(pattern.sum(-1), 1.0, atol=1e-5)
    assert key_labels(ADD2) == ["a1", "a0", "+", "b1", "b0", "=", "y0", "y1", "y2"]
    pytest.importorskip("matplotlib")
    path = attention_figure(model, ADD2, a, b, tmp_path / "attention.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and sorted(p.name for p in tmp_path.iterdir()) == ["attention.png"]
