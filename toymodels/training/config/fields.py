"""Field checks every config group shares: unknown keys (with a did-you-mean), types, numbers.

Each check raises :class:`ConfigError` with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import fields

from toymodels.errors import ConfigError, check_types


def unknown_key(group: str, key: str, known: Iterable[str]) -> ConfigError:
    """The error for `group.key` not being a key of `group` ("" for the top level): did-you-mean, then every key."""
    known = sorted(str(k) for k in known)
    prefix = f"{group}." if group else ""
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean {prefix}{close[0]}?" if close else ";"
    of = f"known keys of {group}" if group else "known keys"
    return ConfigError(f"unknown key {prefix}{key}{hint} {of}: {', '.join(known)}")


def check_keys(group: str, values: dict, known: Iterable[str]) -> None:
    """ConfigError for the first key of `values` that `group` does not have."""
    known = set(known)
    unknown = sorted(set(values) - known)
    if unknown:
        raise unknown_key(group, unknown[0], known)


def number(group: str, key: str, value, kind=float, positive: bool = True, allow_zero: bool = False):
    """`value` if it is a finite number (a whole one for kind=int), > 0 (or >= 0 with allow_zero) when positive."""
    name = f"{group}.{key}" if group else key
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types) or (kind is float and not math.isfinite(value)):
        raise ConfigError(f"{name}={value!r} must be a {'whole' if kind is int else 'finite'} number")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"{name}={value!r} must be {'>= 0' if allow_zero else '> 0'}")
    return value


def typed(cls, values: dict, group: str, known: Iterable[str] | None = None):
    """`cls(**values)` after checking keys and types against its fields; its own errors become ConfigError."""
    check_keys(group, values, known if known is not None else [f.name for f in fields(cls)])
    check_types(cls, values, group)
    try:
        return cls(**values)
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
