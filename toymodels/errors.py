"""The error types the entry points turn into one line and an exit code, and the one type check that both
config sides (tasks, training) share. Imports nothing of the package, so no cycles."""

from dataclasses import fields

# How a dataclass annotation's names read as Python types (annotations are strings under `from __future__`).
_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list,), "dict": (dict,),
          "None": (type(None),)}


class ConfigError(ValueError):
    """A configuration value, a run folder or a checkpoint that cannot work; the message is one line."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def first_line(err: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def check_types(cls, values: dict, where: str) -> None:
    """ConfigError (one line) when a value does not have the type its field in dataclass `cls` is annotated with
    (a bool is not a number; `T | None` takes None)."""
    types = {f.name: str(f.type) for f in fields(cls)}
    for key, value in values.items():
        allowed = [t.strip() for t in types[key].split("|")]
        if value is None and "None" in allowed:
            continue
        ok = tuple(t for name in allowed for t in _TYPES.get(name, (object,)))
        if not isinstance(value, ok) or (isinstance(value, bool) and bool not in ok):
            raise ConfigError(f"{where}.{key}={value!r} must be of type {types[key]}")
