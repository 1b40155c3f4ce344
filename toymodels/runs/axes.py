"""A sweep's axes, read the way Hydra's basic sweeper reads them (no torch in here).

The training CLI (checking every job before anything runs), the progress callback (run k of n)
and the report (how many runs were expected) all need the same answer: which keys a multirun
sweeps over, and with which values. Hydra's own override parser gives it, so ``range(...)``,
``choice(...)``, lists and quoted commas are read exactly as the sweeper reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hydra.core.override_parser.overrides_parser import OverridesParser


def sweep_axes(overrides: Iterable[str], sweeper_params: Mapping | None = None) -> dict[str, list[str]]:
    """Each swept key and its overrides, e.g. {"seed": ["seed=0", "seed=1"], "model": ["model=d8"]}.

    Axes come from the sweeper's params (an experiment's own sweep, "key: a,b,c") and from the
    command-line overrides; a command-line override of a key replaces that key's axis, as in the
    basic sweeper. Overrides without a value (``~key``) are left out. Raises hydra's
    OverrideParseException (a HydraException) for overrides it cannot read, and ValueError for a
    sweep it cannot enumerate without the config (``glob``).
    """
    lines = [f"{key}={value}" for key, value in (sweeper_params or {}).items()]
    lines += [str(o) for o in overrides]
    axes: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides(lines):
        if override.is_delete():
            continue
        key = override.get_key_element()
        if override.is_sweep_override():
            try:
                values = list(override.sweep_string_iterator())
            except Exception as err:  # glob(...) needs the config's options to expand
                raise ValueError(f"cannot enumerate the sweep {override.input_line!r}: {err}") from None
            axes.pop(key.lstrip("+~"), None)
            axes[key] = [f"{key}={value}" for value in values]
        else:
            axes.pop(key.lstrip("+~"), None)
            axes[key] = [override.input_line]
    return axes


def count_jobs(axes: Mapping[str, list[str]]) -> int:
    """How many runs a sweep with these axes makes."""
    total = 1
    for values in axes.values():
        total *= len(values)
    return total
