"""Tasks: layouts, answers, and the train/held-out partition."""

import numpy as np
import pytest

from toymodels.tasks.arithmetic import FORMATS, TASKS, Task
from toymodels.tasks.digits import answer_significance
from toymodels.tasks.vocab import decode

# Every (task, op) the answer checks cover: the mod ops on a p with a 1-digit and a 3-digit residue.
TASK_OPS = [("add", "add", 97), ("sub", "sub", 97), ("mul", "mul", 97)] + [
    ("mod", op, p) for op in ("add", "sub", "mul") for p in (7, 97, 997)
]


def _python_answer(task: Task, a: int, b: int) -> int:
    op = task.op if task.name == "mod" else task.name
    value = {"add": a + b, "sub": a - b, "mul": a * b}[op]
    return value % task.p if task.name == "mod" else value


def _python_scratchpad(task: Task, a: int, b: int) -> str:
    """The scratchpad a reader writes by hand, from Python's integers."""
    n = task.n_digits
    if task.name == "add":  # per column, least significant first: carry out, sum digit
        return "".join(
            f"{(a % 10 ** (i + 1) + b % 10 ** (i + 1)) // 10 ** (i + 1)}{(a + b) // 10**i % 10}" for i in range(n)
        )
    if task.name == "sub":  # per column: borrow out, difference digit
        return "".join(f"{int(a % 10 ** (i + 1) < b % 10 ** (i + 1))}{(a - b) // 10**i % 10}" for i in range(n))
    if task.name == "mul":  # partial products a * b_i, least significant b_i first, n + 1 digits each
        return "".join(f"{a * (b // 10**i % 10):0{n + 1}d}" for i in range(n))
    unreduced = {"add": a + b, "sub": a - b + task.p, "mul": a * b}[task.op]  # never negative
    return f"{unreduced:0{task.scratch_len - 1}d}"


@pytest.mark.parametrize("name, op, p", TASK_OPS, ids=lambda x: str(x))
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pad", [True, False])
def test_every_answer_and_scratchpad_matches_python_integers(name, op, p, fmt, pad):
    task = Task(name=name, n_digits=3, format=fmt, pad_answer=pad, op=op, p=p)
    rng = np.random.default_rng(1)
    a, b = task.sample_train(rng, 1500)
    hi = p - 1 if name == "mod" else 999
    edge = [(0, 0), (hi, hi), (0, hi), (hi, 0), (3, 50 % (hi + 1)), (1, hi)]
    edge = [(x, y) for x, y in edge if name != "sub" or x >= y]
    a = np.concatenate([a, [x for x, _ in edge]])
    b = np.concatenate([b, [y for _, y in edge]])
    rows = task.encode_rows(a, b)
    w = task.operand_width
    for row, x, y in zip(rows, a.tolist(), b.tolist()):
        text = decode(row)
        symbol = {"add": "+", "sub": "-", "mul": "*"}[op if name == "mod" else name]
        prompt = f"{x:0{w}d}{symbol}{y:0{w}d}" + (f"%{p}=" if name == "mod" else "=")
        assert text[: task.prompt_len] == prompt
        target = text[task.prompt_len :].rstrip("_")
        assert target.endswith("$") and "_" not in target
        expected = _python_answer(task, x, y)
        if fmt == "scratchpad":
            scratch, answer = target[:-1].split(";")
            assert scratch == _python_scratchpad(task, x, y), (text, scratch)
            assert len(scratch) == task.scratch_len - 1
        else:
            answer = target[:-1]
        written = f"{expected:0{task.answer_width}d}" if pad else str(expected)
        assert answer == (written[::-1] if fmt == "reversed" else written), text


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


@pytest.mark.parametrize("name, default", [("add", 0.75), ("sub", 0.75), ("mul", 0.75), ("mod", 0.5)])
def test_one_train_fraction_key_for_every_task(name, default):
    assert Task(name=name).train_fraction == default
    task = Task(name=name, n_digits=2, p=53, train_fraction=0.6)
    a, b = task._enumerate()
    assert abs(task.is_heldout(a, b).mean() - 0.4) < 0.03
    assert task.heldout_count == task.is_heldout(a, b).sum()


def test_every_shipped_task_config_builds():
    import pathlib

    import yaml

    from toymodels.training.config import TRAIN_SET_KEYS

    for path in sorted(pathlib.Path(__file__).parents[2].glob("conf/task/*.yaml")):
        values = {k: v for k, v in yaml.safe_load(path.read_text()).items() if k not in ("id", *TRAIN_SET_KEYS)}
        if "skills" in values:  # the mixture task: its skills are tasks (tests/tasks/test_mixture.py)
            continue
        task = Task(**values)
        assert 0 < task.train_fraction < 1, path


def test_mod_split_is_built_once_not_per_batch(monkeypatch):
    built = []
    real = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *args: built.append(args) or real(*args))
    a = np.arange(89)
    for _ in range(5):  # equal tasks (as each training batch sees) share one split
        Task(name="mod", p=89, split_seed=424242).is_heldout(a, a[::-1])
    assert len(built) == 1


def test_mod_p_beyond_the_split_table_is_refused():
    assert Task(name="mod", p=2000).heldout_count == 2000**2 // 2  # exact (1 - train_fraction) at the limit
    with pytest.raises(ValueError, match=r"^task.p=2001 must be an integer in \[2, 2000\]"):
        Task(name="mod", p=2001)


SPLIT_CASES = [
    (Task(name=name, n_digits=2, split=split), split)
    for name, splits in [("add", ("ordered", "unordered")), ("sub", ("ordered",)), ("mul", ("ordered", "unordered"))]
    for split in splits
] + [
    (Task(name="mod", p=31, op=op, split=split), split)
    for op, splits in [("add", ("ordered", "unordered")), ("sub", ("ordered",)), ("mul", ("ordered", "unordered"))]
    for split in splits
]


@pytest.mark.parametrize("task, split", SPLIT_CASES, ids=lambda x: x.label if isinstance(x, Task) else x)
def test_training_stream_never_draws_a_heldout_problem_nor_its_twin(task, split):
    hi = 31 if task.name == "mod" else 100
    ha, hb = task.heldout_problems(task.heldout_count, seed=0)  # the whole held-out part
    heldout = ha * hi + hb
    assert abs(len(heldout) / task.space_size - (1 - task.train_fraction)) < 0.03
    ta, tb = task.sample_train(np.random.default_rng(3), 200_000)
    assert not np.isin(ta * hi + tb, heldout).any()
    twin_heldout = np.isin(tb * hi + ta, heldout)
    if split == "unordered":
        assert not twin_heldout.any()
    elif task.name != "sub":  # ordered: (a, b) and (b, a) are split independently, as in the grokking papers
        assert twin_heldout.mean() > 0.1


def test_split_defaults_follow_the_task():
    assert Task(name="add").split == Task(name="mul").split == "unordered"
    assert Task(name="sub").split == Task(name="mod", op="add").split == "ordered"


def test_mod_unordered_split_keeps_the_train_fraction():
    task = Task(name="mod", p=31, op="mul", split="unordered", train_fraction=0.6)
    assert abs(task.heldout_count - (31 * 31 - round(0.6 * 31 * 31))) <= 1


@pytest.mark.parametrize("kwargs", [{"name": "sub"}, {"name": "mod", "op": "sub"}])
def test_unordered_split_of_a_non_commutative_op_is_refused(kwargs):
    with pytest.raises(ValueError, match=r"^task.split='unordered' needs a commutative operation"):
        Task(split="unordered", **kwargs)


def test_sub_draws_every_pair_a_ge_b_uniformly():
    task = Task(name="sub", n_digits=1, train_fraction=0.99)
    a, b = task.sample_train(np.random.default_rng(0), 550_000)
    assert (a >= b).all()
    pa, pb = task._enumerate()
    pa, pb = pa[~task.is_heldout(pa, pb)], pb[~task.is_heldout(pa, pb)]  # the training pairs
    counts = np.bincount(a * 10 + b, minlength=100)[pa * 10 + pb]
    assert counts.sum() == len(a)
    expected = len(a) / len(pa)
    chi2, dof = ((counts - expected) ** 2 / expected).sum(), len(pa) - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof), chi2  # far beyond 5 sigma before (a = b at half weight)
    assert abs(counts[pa == pb].mean() / counts[pa != pb].mean() - 1) < 0.02


@pytest.mark.parametrize(
    "task",
    [Task(name="add", n_digits=n, pad_answer=pad) for n in (1, 3) for pad in (True, False)]
    + [Task(name="sub", n_digits=2, format="plain"), Task(name="mul", n_digits=2, pad_answer=False)]
    + [Task(name="mul", n_digits=1), Task(name="mod", p=7, op="mul"), Task(name="mod", p=97, pad_answer=False)],
    ids=lambda t: f"{t.label}-pad{t.pad_answer}",
)
def test_chance_is_the_score_of_a_uniform_guesser(task):
    from toymodels.tasks.digits import to_digits

    rng = np.random.default_rng(0)
    a, b = task._sample_uniform(rng, 200_000)
    hi = task.p - 1 if task.name == "mod" else 10**task.n_digits - 1
    largest = {"add": 2 * hi, "sub": hi, "mul": hi * hi, "mod": hi}[task.name]
    guess = rng.integers(0, largest + 1, size=len(a))
    start = task.prompt_len + task.scratch_len
    target = answer_significance(task.encode_rows(a, b)[:, start:], task)
    pred = answer_significance(task._answer_field(to_digits(guess, task.answer_width)), task)
    has_digit = target >= 0
    digit_accuracy = (((pred == target) & has_digit).sum(1) / has_digit.sum(1)).mean()  # as the evaluator
    assert task.chance["exact_match"] == 1 / (largest + 1)
    assert task.chance["digit_accuracy"] == pytest.approx(digit_accuracy, abs=0.004)


def _python_carries(task: Task, a: int, b: int) -> int:
    """Carries (add), borrows (sub), or carries of the long multiplication's column sums (mul)."""
    op, w = (task.op if task.name == "mod" else task.name), task.operand_width
    da, db = [a // 10**i % 10 for i in range(w)], [b // 10**i % 10 for i in range(w)]
    carry = count = 0
    if op == "mul":
        for j in range(2 * w):
            carry = (sum(da[i] * db[j - i] for i in range(w) if 0 <= j - i < w) + carry) // 10
            count += carry > 0
        return count
    for x, y in zip(da, db):
        carry = int(x + y + carry >= 10) if op == "add" else int(x - y - carry < 0)
        count += carry
    return count


@pytest.mark.parametrize("name, op, p", TASK_OPS, ids=lambda x: str(x))
@pytest.mark.parametrize("n_digits", [1, 3, 12])
def test_carries_match_a_python_reference(name, op, p, n_digits):
    task = Task(name=name, n_digits=n_digits, op=op, p=p)
    a, b = task.sample_train(np.random.default_rng(2), 3000)
    carries = task.carries(a, b)
    assert carries.tolist() == [_python_carries(task, x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert carries.max() <= task.max_carries


@pytest.mark.parametrize("name, op, p", TASK_OPS, ids=lambda x: str(x))
@pytest.mark.parametrize("n_digits", [1, 2])
def test_max_carries_is_the_largest_count(name, op, p, n_digits):
    task = Task(name=name, n_digits=n_digits, op=op, p=p)
    assert task.max_carries == task.carries(*task._enumerate()).max()


# ----- task.encoding=symbols: one token per residue (the grokking papers' layout) ----------------
def test_symbols_write_each_residue_as_one_token():
    task = Task(name="mod", p=31, op="add", format="plain", encoding="symbols")
    a, b = task._enumerate()
    rows = task.encode_rows(a, b)
    assert rows.shape == (31 * 31, task.seq_len) and task.seq_len == 6  # a + b = c END
    assert decode(rows[3 * 31 + 5]) == "[3]+[5]=[8]$"
    assert rows.max() < task.vocab_size == 18 + 31
    answers = answer_significance(rows[:, task.prompt_len:], task)[:, 0]
    assert (answers == (a + b) % 31).all()
    assert task.chance == {"exact_match": 1 / 31, "digit_accuracy": 1 / 31}
    # The partition does not depend on the encoding: the same problems are held out.
    digits = Task(name="mod", p=31, op="add", format="plain")
    assert (task.is_heldout(a, b) == digits.is_heldout(a, b)).all()
    assert (task.carries(a, b) == digits.carries(a, b)).all()  # carries of the decimal operation


def test_symbols_answer_field_scores_wrong_and_missing_tokens():
    task = Task(name="mod", p=7, op="mul", format="plain", encoding="symbols")
    field = np.array([[18 + 3, 17], [18 + 6, 17], [17, 0], [5, 17]])  # a symbol, another, END only, a digit
    assert answer_significance(field, task)[:, 0].tolist() == [3, 6, -1, -1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "add", "encoding": "symbols", "format": "plain"}, "needs task=mod"),
        ({"name": "mod", "encoding": "symbols", "format": "scratchpad"}, "needs task=mod with task.format=plain"),
        ({"name": "mod", "encoding": "bytes", "format": "plain"}, "task.encoding='bytes' is unknown"),
    ],
)
def test_bad_encodings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Task(**kwargs)


def test_symbols_cannot_take_abacus_positions():
    from toymodels.tasks.positions import abacus_ids

    with pytest.raises(ValueError, match="one token and has no digits"):
        abacus_ids(Task(name="mod", p=13, format="plain", encoding="symbols"))
