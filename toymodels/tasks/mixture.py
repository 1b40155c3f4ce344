"""The mixture task (``task=mix``): several skills, each an existing task with its own settings, in one stream.

Pure NumPy (no torch), like ``toymodels.tasks.arithmetic``. A *skill* is a named
:class:`~toymodels.tasks.arithmetic.Task`
with a sampling weight; weight 0 makes it *evaluation-only* (scored at every evaluation point,
never trained on). Weights come from the config (``weight`` per skill, normalised), or from a Zipf
law over the list order, ``weight ∝ rank^-(alpha + 1)`` for the trained skills (``zipf_alpha``).

Layout. Skills have different prompt and target lengths, yet share one batch. Every row is laid
out with its ``=`` in the same column: the prompt is left-padded to the longest prompt of the
mixture, the target right-padded to the longest target. The first target token therefore sits at
the same position for every row, so the training loss (cross-entropy from ``prompt_len - 1`` on,
PAD ignored) never scores padding, and evaluation lays out each skill's rows the same way
(:class:`PaddedTask`), so a skill is scored in the positions it was trained in.

FLOPs. The model computes every position of the padded batch, padding included, so a step's
tokens and FLOPs are those of ``batch_size`` rows of the mixture's full ``seq_len`` (what
``torch.utils.flop_counter`` counts on a training step). The share of those positions that are
padding is recorded in run.json (``pad_share``); the FLOPs are never discounted for it.

Disjointness. Each skill keeps its own train/held-out split: the training stream draws a skill's
problems only from that skill's training part, its evaluation set only from its held-out part.
Two skills that write the same prompts (same operation and operand width) must share their
split, so that a held-out problem of one is never a training problem of the other.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields

import numpy as np

from toymodels.errors import ConfigError, check_types
from toymodels.tasks.arithmetic import TASKS, Task
from toymodels.tasks.sampling import check_parts
from toymodels.tasks.vocab import PAD

MIX = "mix"
SKILL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # no "/": metric names are "<skill>/<metric>"
TASK_FIELDS = tuple(f.name for f in fields(Task))
MAX_SKILLS = 64  # skills of one mixture: each is a held-out set, an evaluator and ~10 metrics.csv columns


@dataclass(frozen=True)
class PaddedTask(Task):
    """A task whose rows start with ``lead`` PAD tokens: a skill laid out in its mixture's columns."""

    lead: int = 0

    @property
    def prompt_len(self) -> int:
        return super().prompt_len + self.lead

    def encode_rows(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        rows = super().encode_rows(a, b)
        return np.concatenate([np.full((len(rows), self.lead), PAD, dtype=rows.dtype), rows], axis=1)

    def plain(self) -> Task:
        """The same task without the padding."""
        return Task(**{k: getattr(self, k) for k in TASK_FIELDS})


@dataclass(frozen=True)
class Skill:
    """One skill of a mixture: a name (used in metric names), its task, and its sampling weight."""

    name: str
    task: Task
    weight: float  # normalised share of the training stream; 0 = evaluation only

    @property
    def eval_only(self) -> bool:
        return self.weight == 0


@dataclass(frozen=True)
class Mixture:
    """Several skills trained as one stream; quacks like a Task where the model and module need one."""

    skills: tuple[Skill, ...]
    zipf_alpha: float | None = None
    name: str = MIX

    # ----- layout: what the model and the training step need -------------------------------
    @property
    def prompt_len(self) -> int:
        """Column after the aligned '=': the longest prompt of any skill."""
        return max(s.task.prompt_len for s in self.skills)

    @property
    def target_len(self) -> int:
        return max(s.task.target_len for s in self.skills)

    @property
    def seq_len(self) -> int:
        return self.prompt_len + self.target_len

    @property
    def label(self) -> str:
        parts = [f"{s.name} {s.weight:.2f}" if not s.eval_only else f"{s.name} (eval only)" for s in self.skills]
        return "mixture: " + ", ".join(parts)

    def padded(self, skill: Skill) -> PaddedTask:
        """The skill's task laid out in the mixture's columns (its '=' at prompt_len - 1)."""
        t = skill.task
        return PaddedTask(**{k: getattr(t, k) for k in TASK_FIELDS}, lead=self.prompt_len - t.prompt_len)

    # ----- weights and ranks ----------------------------------------------------------------
    @property
    def trained(self) -> tuple[Skill, ...]:
        return tuple(s for s in self.skills if not s.eval_only)

    @property
    def probabilities(self) -> np.ndarray:
        return np.array([s.weight for s in self.skills])

    def zipf_rank(self, skill: Skill) -> int | None:
        """1 for the most frequent trained skill (ties: list order); None for an evaluation-only skill."""
        if skill.eval_only:
            return None
        order = sorted(self.trained, key=lambda s: -s.weight)
        return order.index(skill) + 1

    # ----- the training stream --------------------------------------------------------------
    def sample_rows(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n training rows (n, seq_len) in the mixture's layout, and the skill index of each row.

        Each row's skill is drawn independently with the skills' weights; its problem uniformly
        from that skill's training part. Rows are grouped by skill (the order in a batch is irrelevant).
        """
        counts = rng.multinomial(n, self.probabilities)
        rows, which = [], []
        for i, (skill, k) in enumerate(zip(self.skills, counts)):
            if k == 0:
                continue
            a, b = skill.task.sample_train(rng, int(k))
            rows.append(self.layout(skill, skill.task.encode_rows(a, b)))
            which.append(np.full(k, i))
        return np.concatenate(rows), np.concatenate(which)

    def layout(self, skill: Skill, rows: np.ndarray) -> np.ndarray:
        """A skill's own rows placed in the mixture's columns: PAD before the prompt and after the target."""
        lead = self.prompt_len - skill.task.prompt_len
        out = np.full((len(rows), self.seq_len), PAD, dtype=rows.dtype)
        out[:, lead : lead + rows.shape[1]] = rows
        return out

    @property
    def pad_share(self) -> float:
        """Expected share of a training batch's input positions that are padding (computed, never scored)."""
        used = sum(s.weight * s.task.seq_len for s in self.skills)
        return 1.0 - used / self.seq_len

    # ----- held-out sets --------------------------------------------------------------------
    def eval_size(self, skill: Skill, size: int) -> int:
        """A skill's evaluation set: eval.size problems, or every held-out one where it has fewer."""
        return min(size, skill.task.heldout_count)


def skill_record(mixture: Mixture, skill: Skill) -> dict:
    """What run.json says about one skill."""
    t = skill.task
    record = {"name": skill.name, "task": t.name, "label": t.label, "weight": skill.weight,
              "eval_only": skill.eval_only, "zipf_rank": mixture.zipf_rank(skill), "format": t.format,
              "split": t.split, "train_fraction": t.train_fraction, "answer_width": t.answer_width,
              "heldout_count": t.heldout_count, "chance": t.chance}
    record.update({"p": t.p, "op": t.op} if t.name == "mod" else {"n_digits": t.n_digits})
    return record


def task_record(task: Task | Mixture) -> dict:
    """The task's part of run.json: today's keys for a single task, the skills for a mixture."""
    if isinstance(task, Mixture):
        return {"task": MIX, "task_label": task.label, "zipf_alpha": task.zipf_alpha, "pad_share": task.pad_share,
                "skills": [skill_record(task, s) for s in task.skills]}
    return {"task": task.name, "n_digits": task.n_digits, "format": task.format, "split": task.split,
            "train_fraction": task.train_fraction, "task_label": task.label, "chance": task.chance}


# ----------------------------------------------------------------------------- from the config


def default_skill_name(values: dict) -> str:
    """add2, sub3, mul2, mod97 (mod97mul for another operation): what a user would call the skill."""
    task = values.get("task")
    if task == "mod":
        op = values.get("op", "add")
        return f"mod{values.get('p', 97)}" + ("" if op == "add" else op)
    return f"{task}{values.get('n_digits', 3)}"


def _weight(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ConfigError(f"{where}.weight={value!r} must be a finite number")
    if value < 0:
        raise ConfigError(f"{where}.weight={value!r} must be >= 0 (0 = evaluation only)")
    return float(value)


def _skill(i: int, entry, shared: dict) -> tuple[str, Task, float | None]:
    where = f"task.skills[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}={entry!r} must be a mapping such as {{task: add, n_digits: 2, weight: 1}}")
    values = {**shared, **entry}
    task_name = values.pop("task", None)
    if not isinstance(task_name, str) or task_name not in TASKS:
        raise ConfigError(f"{where}.task={task_name!r} is unknown; choose one of {', '.join(TASKS)}")
    unknown = sorted(set(values) - {*TASK_FIELDS, "weight"})
    if unknown:
        known = sorted({*TASK_FIELDS, "task", "weight"})
        close = difflib.get_close_matches(str(unknown[0]), known, n=1)
        hint = f"; did you mean {where}.{close[0]}?" if close else ";"
        raise ConfigError(f"unknown key {where}.{unknown[0]}{hint} known keys of a skill: {', '.join(known)}")
    check_types(Task, {k: v for k, v in values.items() if k not in ("name", "weight")}, where)
    name = values.pop("name", None) or default_skill_name({"task": task_name, **values})
    if not isinstance(name, str) or not SKILL_NAME.match(name):
        raise ConfigError(f"{where}.name={name!r} must be letters, digits, '_', '.' or '-' (it prefixes metric names)")
    weight = _weight(where, values.pop("weight")) if values.get("weight") is not None else None
    values.pop("weight", None)
    try:
        task = Task(name=task_name, **values)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}") from None
    try:
        check_parts(task, where)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if task.symbols:
        raise ConfigError(f"{where}: task.encoding=symbols is not available in task=mix (one shared vocabulary)")
    return name, task, weight


def _check_shared_splits(skills: list[Skill]) -> None:
    """Skills that write the same prompts must split them the same way (else held-out could be trained on)."""
    seen: dict[tuple, Skill] = {}
    for skill in skills:
        t = skill.task
        space = (t.name, t.p, t.op) if t.name == "mod" else (t.name, t.n_digits)
        split = (t.train_fraction, t.split, t.split_seed if t.name == "mod" else None)
        other = seen.setdefault(space, skill)
        o = other.task
        if (o.train_fraction, o.split, o.split_seed if o.name == "mod" else None) != split:
            raise ConfigError(
                f"skills {other.name} and {skill.name} pose the same problems with different splits "
                "(train_fraction, split or split_seed): a held-out problem of one could be trained on "
                "through the other; give them the same split"
            )


def build_mixture(values: dict) -> Mixture:
    """The Mixture of a ``task=mix`` config section (raises ConfigError, one line)."""
    values = dict(values)
    values.pop("name", None)
    skills_cfg = values.pop("skills", None)
    alpha = values.pop("zipf_alpha", None)
    shared = values.pop("shared", None) or {}
    if values:
        raise ConfigError(f"task.{sorted(values)[0]} is not a known key of task=mix; known keys: "
                          "name, skills, zipf_alpha, shared")
    if not isinstance(shared, dict):
        raise ConfigError(f"task.shared={shared!r} must be a mapping of task settings every skill has")
    if not isinstance(skills_cfg, list) or not skills_cfg:
        raise ConfigError("task.skills is empty: a mixture needs at least one skill, e.g. "
                          "[{task: add, n_digits: 2, weight: 1}]")
    if alpha is not None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not np.isfinite(alpha) or alpha < 0:
            raise ConfigError(f"task.zipf_alpha={alpha!r} must be a number >= 0 (or null to use the weights)")
    if len(skills_cfg) > MAX_SKILLS:
        raise ConfigError(f"task.skills has {len(skills_cfg)} skills; at most {MAX_SKILLS} (each builds its own "
                          "held-out set and evaluator, and adds ~10 metric columns)")
    parsed = [_skill(i, entry, shared) for i, entry in enumerate(skills_cfg)]
    names = [name for name, _, _ in parsed]
    duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if duplicate:
        raise ConfigError(f"task.skills has two skills named {duplicate!r}; give each a distinct name")
    raw = [1.0 if w is None else w for _, _, w in parsed]
    if alpha is not None:  # Zipf over the trained skills in list order; weight 0 stays evaluation-only
        ranks = np.cumsum([w > 0 for w in raw])
        raw = [float(r) ** -(alpha + 1) if w > 0 else 0.0 for w, r in zip(raw, ranks)]
    total = sum(raw)
    if not np.isfinite(total):
        raise ConfigError(f"task.skills: the weights sum to {total} (too large to normalise); use weights such as "
                          "1, 2, 0.5: only their ratios matter")
    if total <= 0:
        raise ConfigError("task.skills: every weight is 0, so nothing would be trained; give a skill a weight > 0")
    skills = [Skill(name, task, w / total) for (name, task, _), w in zip(parsed, raw)]
    _check_shared_splits(skills)
    return Mixture(tuple(skills), None if alpha is None else float(alpha))

