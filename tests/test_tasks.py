"""Tasks: layouts, answers, and the train/held-out partition."""

import numpy as np
import pytest

from toymodels.tasks import FORMATS, TASKS, Task, answer_significance, decode


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pad", [True, False])
def test_rows_have_the_declared_layout_and_correct_answers(name, fmt, pad):
    task = Task(name=name, n_digits=3, format=fmt, pad_answer=pad)
    a, b = task.sample_train(np.random.default_rng(0), 200)
    rows = task.encode_rows(a, b)
    assert rows.shape == (200, task.seq_len)
    for row, x, y in zip(rows[:20], a[:20], b[:20]):
        text = decode(row).rstrip("_")
        assert text.endswith("$")
        answer = text[task.prompt_len + task.scratch_len : -1]
        if fmt == "reversed":
            answer = answer[::-1]
        x, y = int(x), int(y)
        expected = {"add": x + y, "sub": x - y, "mul": x * y, "mod": (x + y) % 97}[name]
        assert int(answer) == expected
        assert len(answer) == (task.answer_width if pad else len(str(expected)))
    sig = answer_significance(rows[:, task.prompt_len + task.scratch_len :], task)
    expected = {"add": a + b, "sub": a - b, "mul": a * b, "mod": (a + b) % 97}[name]
    assert (sig[:, 0] == expected % 10).all()  # the units digit, whatever the format


def test_long_multiplication_beyond_int64():
    task = Task(name="mul", n_digits=10, format="plain")
    a, b = np.array([9999999999, 1234567891]), np.array([9999999999, 9876543210])
    text = [decode(r) for r in task.encode_rows(a, b)]
    assert text[0].split("=")[1] == f"{9999999999 * 9999999999:020d}$"
    assert text[1].split("=")[1] == f"{1234567891 * 9876543210:020d}$"


def test_scratchpad_steps_are_the_column_sums():
    task = Task(name="add", n_digits=3, format="scratchpad")
    text = decode(task.encode_rows(np.array([456]), np.array([789]))[0])
    assert text == "456+789=151412;1245$"  # 6+9=15, 5+8+1=14, 4+7+1=12


@pytest.mark.parametrize(
    "task",
    [Task(name="add", n_digits=2), Task(name="sub", n_digits=3), Task(name="mul", n_digits=9), Task(name="mod")],
    ids=lambda t: t.label,
)
def test_eval_set_never_overlaps_training(task):
    ea, eb = task.heldout_problems(500, seed=7)
    assert task.is_heldout(ea, eb).all()
    assert len(set(zip(ea.tolist(), eb.tolist()))) == 500  # distinct problems
    rng = np.random.default_rng(0)
    ta, tb = task.sample_train(rng, 50_000)
    assert not task.is_heldout(ta, tb).any()
    assert not set(zip(ea.tolist(), eb.tolist())) & set(zip(ta.tolist(), tb.tolist()))


def test_mod_split_has_the_requested_train_fraction():
    task = Task(name="mod", p=11, train_fraction=0.6)
    a, b = np.meshgrid(np.arange(11), np.arange(11))
    held = task.is_heldout(a.ravel(), b.ravel())
    assert held.sum() == 121 - round(0.6 * 121)


def test_eval_set_larger_than_the_held_out_space_is_refused():
    with pytest.raises(ValueError, match="eval.size=100 is larger than the"):
        Task(name="add", n_digits=1).heldout_problems(100, seed=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "div"}, "task.name='div' is unknown"),
        ({"n_digits": 0}, "task.n_digits=0 must be"),
        ({"format": "json"}, "task.format='json' is unknown"),
    ],
)
def test_bad_task_values_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Task(**kwargs)
