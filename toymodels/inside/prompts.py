"""Reading a prompt the way a run's task writes it, and reading an answer back.

A prompt is what a task writes before the model answers: ``45+78=``, ``12-5=``, ``3*4=``, ``40+61%97=``
(``a op b mod p`` in digits), or ``40+61=`` for a mod task whose numbers are one token each
(``encoding=symbols``). Operands shorter than the task's width are zero-padded, as the task pads them.
A prompt the task cannot read (another operator, too many digits, a character outside the vocabulary,
a negative difference, an operand not below p) is refused with a ValueError of one line. For a mixture,
the prompt's layout picks the skill (:func:`pick_skill`).
"""

from __future__ import annotations

import re

import numpy as np

from toymodels.tasks.arithmetic import OP_SYMBOLS, Task
from toymodels.tasks.mixture import Mixture, Skill
from toymodels.tasks.vocab import END, SYMBOL0, VOCAB

PROMPT = re.compile(r"^(\d+)([+\-*])(\d+)(?:%(\d+))?=$")


def parse(prompt: str) -> tuple[str, str, str, int | None]:
    """(a's digits, operator symbol, b's digits, p or None) of a prompt, or ValueError (one line)."""
    if not isinstance(prompt, str):
        raise ValueError(f"prompt {prompt!r} is not a string such as '45+78='")
    text = prompt.strip()
    outside = sorted({c for c in text if c not in VOCAB})
    if outside:
        raise ValueError(f"prompt {prompt!r} has characters outside the vocabulary {VOCAB!r}: {''.join(outside)!r}")
    found = PROMPT.match(text)
    if not found:
        raise ValueError(f"prompt {prompt!r} is not of the form a+b=, a-b=, a*b= or a+b%p= (digits, one operator, "
                         "ending with '=')")
    a, op, b, p = found.groups()
    return a, op, b, None if p is None else int(p)


def operands(task: Task, prompt: str) -> tuple[int, int]:
    """The operands (a, b) of a prompt the task can read, or ValueError (one line) saying why it cannot."""
    a_text, op, b_text, p = parse(prompt)
    want = OP_SYMBOLS[task.op if task.name == "mod" else task.name]
    if op != want:
        raise ValueError(f"prompt {prompt!r} uses {op!r}, but {task.label} writes {want!r}")
    if task.name == "mod":
        if task.symbols and p is not None:
            raise ValueError(f"prompt {prompt!r} names a modulus, but {task.label} writes a{want}b= (one token each)")
        if not task.symbols and p != task.p:
            raise ValueError(f"prompt {prompt!r} must end with %{task.p}= for {task.label}")
    elif p is not None:
        raise ValueError(f"prompt {prompt!r} names a modulus, but {task.label} has none")
    a, b = int(a_text), int(b_text)
    width = task.operand_width
    if not task.symbols and max(len(a_text), len(b_text)) > width:
        raise ValueError(f"prompt {prompt!r} has an operand of more than {width} digits, the most {task.label} writes")
    if task.name == "mod" and max(a, b) >= task.p:
        raise ValueError(f"prompt {prompt!r} has an operand >= {task.p}; {task.label} reads residues 0..{task.p - 1}")
    if task.name == "sub" and a < b:
        raise ValueError(f"prompt {prompt!r} has a negative difference, which {task.label} never writes")
    return a, b


def _reads(task: Task, prompt: str) -> bool:
    try:
        operands(task, prompt)
    except ValueError:
        return False
    return True


def pick_skill(mixture: Mixture, prompt: str, skill: str | None = None) -> Skill:
    """The skill of a mixture that the prompt is written for (or the named one), or ValueError (one line).

    Among the skills that can read the prompt, the one whose operand width is the prompt's (the longer
    operand's digits) wins; ties, or no width match among several readers, need ``skill=``.
    """
    names = [s.name for s in mixture.skills]
    if skill is not None:
        if skill not in names:
            raise ValueError(f"skill={skill!r} is not a skill of this mixture; choose one of {', '.join(names)}")
        chosen = mixture.skills[names.index(skill)]
        operands(chosen.task, prompt)  # refuses a prompt the skill cannot read
        return chosen
    a_text, _, b_text, _ = parse(prompt)
    readers = [s for s in mixture.skills if _reads(s.task, prompt)]
    if not readers:
        raise ValueError(f"prompt {prompt!r} fits none of the skills {', '.join(names)}")
    written = max(len(a_text), len(b_text))
    exact = [s for s in readers if s.task.operand_width == written]
    if len(exact) == 1 or len(readers) == 1:
        return (exact or readers)[0]
    fits = ", ".join(s.name for s in (exact or readers))
    raise ValueError(f"prompt {prompt!r} fits the skills {fits}; choose one with skill=")


def answer_text(task: Task, field: np.ndarray) -> str:
    """What the model wrote in the answer field, as written (reversed answers stay reversed), cut at END."""
    out = []
    for token in field[: task.answer_width].tolist():
        if token == END:
            break
        out.append(VOCAB[token] if token < SYMBOL0 else str(token - SYMBOL0))  # a symbol reads as its value
    return "".join(out)


def answer_value(task: Task, text: str) -> int | None:
    """The number an answer means (a reversed answer read back to front), None where it is not a number."""
    if not text or not text.isdigit():
        return None
    return int(text if task.symbols or task.format != "reversed" else text[::-1])
