"""Synthetic arithmetic tasks: problems, their text layout, and the train/held-out partition.

Pure NumPy (no torch). A task turns operand pairs ``(a, b)`` into fixed-length token rows
``prompt + target + END`` over one character vocabulary shared by every task, so that a model
trained on one task can be evaluated on another. The *target* is what the model must write after
``=``: an optional scratchpad (intermediate steps, then ``;``) followed by the answer. Scoring only
ever looks at the answer field, so new formats need no change to the model or the metrics.

The problem space is split once, independently of the run seed, into a training part (a share
``train_fraction`` of the space: the problems the training stream may draw) and a held-out part:
a deterministic hash of the problem for ``add``/``sub``/``mul``, an explicit seeded permutation
for the small ``mod`` space (as in the grokking papers). ``split="ordered"`` splits ``(a, b)`` and
``(b, a)`` independently (the grokking convention); ``"unordered"`` splits the pair ``{a, b}``, so a
commutative problem's twin is held out with it. The training stream only ever draws from the
training part; the evaluation set only from the held-out part, so they can never overlap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from toymodels.tasks.chance import chance_levels
from toymodels.tasks.digits import (
    columns,
    long_multiply,
    significant_length,
    to_digits,
)
from toymodels.tasks.sampling import distinct_heldout, sample_part
from toymodels.tasks.split import mix64, mod_heldout_table
from toymodels.tasks.vocab import DIGIT0, END, PAD, STOI, SYMBOL0, VOCAB, encode

ENCODINGS = ("digits", "symbols")

TASKS = ("add", "sub", "mul", "mod")
FORMATS = ("plain", "reversed", "scratchpad")
OP_SYMBOLS = {"add": "+", "sub": "-", "mul": "*"}  # how each operation is written in a prompt
MOD_OPS = ("add", "sub", "mul")  # the operations task.op may name for mod
DEFAULT_TRAIN_FRACTION = {"add": 0.75, "sub": 0.75, "mul": 0.75, "mod": 0.5}
SPLITS = ("ordered", "unordered")
COMMUTATIVE_OPS = ("add", "mul")
MAX_DIGITS = 18  # operands are sampled as int64
ENUMERATE_LIMIT = 4_000_000  # problem spaces up to this size are enumerated exactly
# The mod split is a p x p table of bools built from a permutation of the p*p problems. p <= 2000
# keeps the table at 4 MB (its construction at ~50 MB and a fraction of a second, once per process)
# and the space within ENUMERATE_LIMIT, so mod held-out counts and evaluation sets are always exact.
MAX_P = 2000


@dataclass(frozen=True)
class Task:
    """An arithmetic task: ``a op b`` with ``n_digits``-digit operands, or ``a op b mod p``."""

    name: str = "add"
    n_digits: int = 3
    format: str = "reversed"
    pad_answer: bool = True  # fixed-width, zero-padded answers
    # Share of the problem space the training stream may draw from; the rest is held out.
    # None: DEFAULT_TRAIN_FRACTION (0.75 for add/sub/mul, 0.5 for mod).
    train_fraction: float | None = None
    # "ordered": (a, b) and (b, a) are split independently; "unordered": the pair {a, b} is, so
    # (b, a) is held out exactly when (a, b) is (commutative operations only).
    # None: unordered for add/mul, ordered for sub and mod (the grokking convention).
    split: str | None = None
    p: int = 97  # mod only
    op: str = "add"  # mod only: the operation before reduction
    split_seed: int = 0  # mod only: the permutation that makes the split
    # mod only: "digits" writes numbers in decimal digits; "symbols" gives every residue its own token
    # (operands and answer are one token each, the prompt is "a+b=", as in the grokking papers).
    encoding: str = "digits"

    def __post_init__(self) -> None:
        # Frozen: fill the per-task defaults in place.
        if self.train_fraction is None:
            object.__setattr__(self, "train_fraction", DEFAULT_TRAIN_FRACTION.get(self.name, 0.75))
        if self.split is None:
            default = "unordered" if self.name in COMMUTATIVE_OPS else "ordered"  # mod: the grokking convention
            object.__setattr__(self, "split", default)
        if self.name not in TASKS:
            raise ValueError(f"task.name={self.name!r} is unknown; choose one of {', '.join(TASKS)}")
        for key in ("n_digits", "p", "split_seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"task.{key}={value!r} must be a whole number >= 0")
        if self.format not in FORMATS:
            raise ValueError(f"task.format={self.format!r} is unknown; choose one of {', '.join(FORMATS)}")
        if self.name == "mod":
            if self.op not in MOD_OPS:
                raise ValueError(f"task.op={self.op!r} is unknown; choose one of {', '.join(MOD_OPS)}")
            if not 2 <= self.p <= MAX_P:
                raise ValueError(
                    f"task.p={self.p} must be an integer in [2, {MAX_P}] (the split holds a p*p table in memory)"
                )
        elif not 1 <= self.n_digits <= MAX_DIGITS:
            raise ValueError(f"task.n_digits={self.n_digits} must be an integer in [1, {MAX_DIGITS}]")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"task.encoding={self.encoding!r} is unknown; choose one of {', '.join(ENCODINGS)}")
        if self.encoding == "symbols" and (self.name != "mod" or self.format != "plain"):
            raise ValueError(
                f"task.encoding=symbols needs task=mod with task.format=plain (one token per residue), "
                f"not {self.name} with format {self.format}"
            )
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"task.train_fraction={self.train_fraction} must be in (0, 1)")
        if self.split not in SPLITS:
            raise ValueError(f"task.split={self.split!r} is unknown; choose one of {', '.join(SPLITS)}")
        if self.split == "unordered" and self._op not in COMMUTATIVE_OPS:
            raise ValueError(
                f"task.split='unordered' needs a commutative operation ({' or '.join(COMMUTATIVE_OPS)}), "
                f"not {self._op}; use task.split=ordered"
            )

    # ----- layout -------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """Human-readable name, e.g. '3-digit add (reversed)'."""
        if self.name == "mod":
            return f"{self.op} mod {self.p} ({'symbols' if self.symbols else self.format})"
        return f"{self.n_digits}-digit {self.name} ({self.format})"

    @property
    def symbols(self) -> bool:
        """True when every number is one token (task.encoding=symbols)."""
        return self.encoding == "symbols"

    @property
    def base(self) -> int:
        """How many values one answer token takes: 10 digits, or p symbols."""
        return self.p if self.symbols else 10

    @property
    def token0(self) -> int:
        """The token id of value 0 of a number's tokens (digit 0, or symbol 0)."""
        return SYMBOL0 if self.symbols else DIGIT0

    @property
    def vocab_size(self) -> int:
        """Token ids this task's rows use: the shared characters, plus p symbols with encoding=symbols."""
        return len(VOCAB) + (self.p if self.symbols else 0)

    @property
    def operand_width(self) -> int:
        if self.symbols:
            return 1
        return len(str(self.p - 1)) if self.name == "mod" else self.n_digits

    @property
    def answer_width(self) -> int:
        """Digits (tokens) in the (zero-padded) answer."""
        if self.symbols:
            return 1
        n = self.n_digits
        return {"add": n + 1, "sub": n, "mul": 2 * n, "mod": len(str(self.p - 1))}[self.name]

    @property
    def _op(self) -> str:
        """The arithmetic operation: task.op for mod, the task's name otherwise."""
        return self.op if self.name == "mod" else self.name

    @property
    def _symbol(self) -> str:
        return OP_SYMBOLS[self._op]

    @property
    def _suffix(self) -> str:
        return f"%{self.p}=" if self.name == "mod" and not self.symbols else "="

    @property
    def prompt_len(self) -> int:
        return 2 * self.operand_width + 1 + len(self._suffix)

    @property
    def scratch_len(self) -> int:
        """Tokens before the answer field: the scratchpad and its ';' (0 for other formats)."""
        if self.format != "scratchpad":
            return 0
        n = self.n_digits
        steps = {
            "add": 2 * n,  # per column, least significant first: carry out, sum digit
            "sub": 2 * n,  # per column: borrow out, difference digit
            "mul": n * (n + 1),  # partial products a * b_i, least significant b_i first
            "mod": len(str(self._max_unreduced)),  # the result before reduction mod p (a - b + p for sub)
        }[self.name]
        return steps + 1

    @property
    def _max_unreduced(self) -> int:
        m = self.p - 1
        return {"add": 2 * m, "sub": m + self.p, "mul": m * m}[self.op]

    @property
    def target_len(self) -> int:
        """Tokens after '=': scratchpad, answer, END."""
        return self.scratch_len + self.answer_width + 1

    @property
    def seq_len(self) -> int:
        return self.prompt_len + self.target_len

    @property
    def _max_answer(self) -> int:
        """The largest answer value: the answers lie in [0, _max_answer]."""
        m = 10**self.n_digits - 1
        return {"add": 2 * m, "sub": m, "mul": m * m, "mod": self.p - 1}[self.name]

    @property
    def chance(self) -> dict[str, float]:
        """Scores of a guesser who writes a uniformly random value of [0, largest answer], in the layout.

        The floor of the emergence plot. ``exact_match`` = 1 / (largest answer + 1): 1/(2*10^n - 1)
        for add, 1/10^n for sub, 1/p for mod, 1/((10^n - 1)^2 + 1) for mul (a range that includes
        values no product takes: 1-digit mul has 37 distinct products in [0, 81], so a guesser who
        knew the products would do 2.2x better). ``digit_accuracy`` = the evaluator's digit accuracy
        (per problem: matched digits over the target's digits, by significance; an unpadded guess
        has no digit above its length) averaged over that guess and uniformly drawn problems. The
        guess's digit distribution is counted exactly; the problems are every problem of a space up
        to 65536, else a fixed sample of 65536 (standard error < 0.002).
        """
        return chance_levels(self)

    @property
    def space_size(self) -> int:
        """Number of distinct problems."""
        if self.name == "mod":
            return self.p * self.p
        m = 10**self.n_digits
        return m * (m + 1) // 2 if self.name == "sub" else m * m

    # ----- problems ------------------------------------------------------------------------
    def answers(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Answer digits (n, answer_width), most significant first."""
        if self.name == "add":
            return to_digits(a + b, self.answer_width)
        if self.name == "sub":
            return to_digits(a - b, self.answer_width)
        if self.name == "mul":
            return long_multiply(a, b, self.n_digits)[0]
        reduced = self._unreduced(a, b) % self.p
        return reduced[:, None].astype(np.int64) if self.symbols else to_digits(reduced, self.answer_width)

    def _unreduced(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The mod result before reduction, never negative: a + b, a - b + p, or a * b."""
        return {"add": a + b, "sub": a - b + self.p, "mul": a * b}[self.op]

    def carries(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per problem, the number of columns (of operand_width) that carry: int64 (n,).

        add: carries of a + b; sub: borrows of a - b (for mod sub the last column borrows when
        a < b); mul: columns of the long multiplication whose column sum, plus the carry coming
        in, carries a non-zero amount out. For mod, the operation before reduction.
        """
        width = len(str(self.p - 1)) if self.name == "mod" else self.n_digits  # decimal, whatever the encoding
        if self._op == "mul":
            return long_multiply(a, b, width)[1]
        return columns(a, b, self._op, width)[0].sum(1)

    @property
    def max_carries(self) -> int:
        """The largest count carries() can give on this task (attained by some problem)."""
        n = self.n_digits
        if self.name == "mod":
            return _mod_max_carries(self.p, self.op)
        # add: 99..9 + 99..9; sub (a >= b): the top column never borrows; mul: 99..9 * 99..9.
        return {"add": n, "sub": n - 1, "mul": 2 * n - 1}[self.name]

    def _scratchpad(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scratchpad digits (n, scratch_len - 1)."""
        n = self.n_digits
        if self.name in ("add", "sub"):
            carry, digit = columns(a, b, self.name, n)
            return np.stack([carry, digit], axis=2).reshape(len(a), 2 * n)  # per column: carry, digit
        if self.name == "mul":
            db = to_digits(b, n)[:, ::-1]
            return np.concatenate([to_digits(a * db[:, i], n + 1) for i in range(n)], axis=1)
        return to_digits(self._unreduced(a, b), self.scratch_len - 1)

    def encode_rows(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Token rows (n, seq_len): prompt, target (scratchpad, answer), END, right-padded."""
        n = len(a)
        w = self.operand_width
        sym = np.full((n, 1), STOI[self._symbol])
        suffix = np.tile(np.array(encode(self._suffix)), (n, 1))
        if self.symbols:
            parts = [SYMBOL0 + a[:, None], sym, SYMBOL0 + b[:, None], suffix]
        else:
            parts = [DIGIT0 + to_digits(a, w), sym, DIGIT0 + to_digits(b, w), suffix]
        if self.format == "scratchpad":
            parts += [DIGIT0 + self._scratchpad(a, b), np.full((n, 1), STOI[";"])]
        parts.append(self._answer_field(self.answers(a, b)))
        return np.concatenate(parts, axis=1).astype(np.int64)

    def _answer_field(self, digits: np.ndarray) -> np.ndarray:
        """Answer tokens then END (n, answer_width + 1); unpadded answers are right-padded."""
        n, width = digits.shape
        if self.format == "reversed":
            digits = digits[:, ::-1]
        if self.pad_answer or self.symbols:
            return np.concatenate([self.token0 + digits, np.full((n, 1), END)], axis=1)
        # Drop leading zeros (keep at least one digit); the significant digits sit first.
        length = significant_length(digits[:, ::-1] if self.format == "reversed" else digits)
        out = np.full((n, width + 1), PAD)
        cols = np.arange(width + 1)[None, :]
        start = 0 if self.format == "reversed" else (width - length)[:, None]
        src = np.clip(cols + start, 0, width - 1)
        out = np.where(cols < length[:, None], DIGIT0 + np.take_along_axis(digits, src[:, :width + 1], 1), out)
        out[np.arange(n), length] = END
        return out

    # ----- the partition -------------------------------------------------------------------
    def is_heldout(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True where a problem belongs to the held-out part of the space (never trained on)."""
        if self.name == "mod":
            return mod_heldout_table(self.p, self.train_fraction, self.split, self.split_seed)[a, b]
        if self.split == "unordered":
            a, b = np.minimum(a, b), np.maximum(a, b)
        salt = np.uint64(TASKS.index(self.name) * 1000 + self.n_digits)
        h = mix64(mix64(a.astype(np.uint64) + salt) ^ b.astype(np.uint64))
        return (h >> np.uint64(11)).astype(np.float64) / 2.0**53 < 1 - self.train_fraction

    @property
    def heldout_count(self) -> int:
        """How many problems the held-out part holds (exact for enumerable spaces)."""
        return _heldout_count(self)

    def _enumerate(self) -> tuple[np.ndarray, np.ndarray]:
        hi = self.p if self.name == "mod" else 10**self.n_digits
        a, b = (g.ravel() for g in np.meshgrid(np.arange(hi), np.arange(hi), indexing="ij"))
        if self.name == "sub":
            a, b = a[a >= b], b[a >= b]
        return a, b

    def _sample_uniform(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        hi = self.p if self.name == "mod" else 10**self.n_digits
        if self.name == "sub":
            # Uniform over the hi * (hi + 1) / 2 pairs a >= b (the answer is never negative): x in
            # [0, hi], y in [0, hi) maps two-to-one onto them, (x - 1, y) below the diagonal y < x,
            # (y, x) on or above it. (Sorting two uniform draws would give a = b half the weight.)
            x = rng.integers(0, hi + 1, size=n, dtype=np.int64)
            y = rng.integers(0, hi, size=n, dtype=np.int64)
            below = y < x
            return np.where(below, x - 1, y), np.where(below, y, x)
        a = rng.integers(0, hi, size=n, dtype=np.int64)
        b = rng.integers(0, hi, size=n, dtype=np.int64)
        return a, b

    def sample_train(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n problems drawn uniformly from the training part of the space (SamplingError if it is too small)."""
        return sample_part(self, rng, n)

    def heldout_problems(self, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """A fixed evaluation set: `size` distinct held-out problems chosen by `seed`."""
        rng = np.random.default_rng(seed)
        if self.space_size <= ENUMERATE_LIMIT:
            a, b = self._enumerate()
            held = self.is_heldout(a, b)
            a, b = a[held], b[held]
            if size > len(a):
                raise ValueError(
                    f"eval.size={size} is larger than the {len(a)} held-out problems of {self.label}; "
                    f"use eval.size<={len(a)}"
                )
            pick = np.sort(rng.choice(len(a), size=size, replace=False))
            return a[pick], b[pick]
        # Large spaces: rejection-sample and de-duplicate until there are enough (bounded: SamplingError).
        chosen = distinct_heldout(self, rng, size)
        arr = chosen[np.sort(rng.choice(len(chosen), size=size, replace=False))]
        return arr[:, 0], arr[:, 1]


@functools.lru_cache(maxsize=16)
def _mod_max_carries(p: int, op: str) -> int:
    """max_carries of mod p, by going through every problem (p <= MAX_P), a few rows of a at a time."""
    task, rows = Task(name="mod", p=p, op=op), max(1, 500_000 // p)
    b = np.arange(p)
    return max(
        int(task.carries(np.repeat(np.arange(a0, min(a0 + rows, p)), p), np.tile(b, min(rows, p - a0))).max())
        for a0 in range(0, p, rows)
    )


@functools.lru_cache(maxsize=64)
def _heldout_count(task: Task) -> int:
    if task.space_size > ENUMERATE_LIMIT:
        return int(task.space_size * (1 - task.train_fraction))  # estimate; far above any eval size
    return int(task.is_heldout(*task._enumerate()).sum())
