"""The one character vocabulary every task shares: digits, operators, '=', separators, pad and end.

A model trained on one task can be evaluated on another because every task writes its problems with
these tokens (a mod task with ``encoding=symbols`` adds one token per residue after them).
"""

from __future__ import annotations

# One vocabulary for every task. "_" pads, "$" ends an answer.
VOCAB = "_0123456789+-*%=;$"
PAD, END = 0, len(VOCAB) - 1
STOI = {c: i for i, c in enumerate(VOCAB)}
DIGIT0 = STOI["0"]  # token id of digit d is DIGIT0 + d
# task.encoding=symbols (mod only): every number < p is one token of its own, SYMBOL0 + value, past the
# shared characters (the layout of the grokking papers); such a task's vocabulary is len(VOCAB) + p.
SYMBOL0 = len(VOCAB)

def encode(text: str) -> list[int]:
    """Token ids of a string over the shared vocabulary."""
    return [STOI[c] for c in text]


def decode(ids) -> str:
    """The string of a sequence of token ids (a symbol token reads as its value in brackets, e.g. [12])."""
    return "".join(VOCAB[int(i)] if int(i) < SYMBOL0 else f"[{int(i) - SYMBOL0}]" for i in ids)
