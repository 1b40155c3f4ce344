"""Sweep axes, read as Hydra's basic sweeper reads them (shared by the CLI check, progress and report)."""

import pytest

from toymodels.runs.axes import count_jobs, sweep_axes


def test_axes_from_command_line_sweeps_ranges_choices_and_lists():
    axes = sweep_axes(["model=d8,d16", "seed=range(0,3)", "+lr=choice(1e-3,3e-3)", "betas=[0.9,0.95]", "~debug"])
    assert axes["model"] == ["model=d8", "model=d16"]
    assert axes["seed"] == ["seed=0", "seed=1", "seed=2"]
    assert axes["+lr"] == ["+lr=0.001", "+lr=0.003"]
    assert axes["betas"] == ["betas=[0.9,0.95]"]  # a list value, not a sweep
    assert "~debug" not in axes and count_jobs(axes) == 2 * 3 * 2


def test_the_command_line_replaces_an_experiments_axis():
    params = {"seed": "0,1,2", "model": "d8,d16,d24,d32,d48,d64,d96"}
    assert count_jobs(sweep_axes(["experiment=emergence"], params)) == 21
    assert count_jobs(sweep_axes(["experiment=emergence", "seed=0"], params)) == 7
    assert count_jobs(sweep_axes(["experiment=emergence", "model=d8,d16"], params)) == 6


def test_a_sweep_that_needs_the_config_to_expand_is_refused():
    with pytest.raises(ValueError, match="cannot enumerate"):
        sweep_axes(["model=glob(*)"])
