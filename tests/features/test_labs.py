"""Course labs (toymodels.labs, docs/labs/): every notebook runs top to bottom on tiny settings, every
lab's packaged example reports with no training, and the compute budget refuses an over-budget sweep
before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, cli_env, run_cli
from toymodels import labs


def execute_notebook(path: Path, cwd: Path, **env: str) -> None:
    """Convert a jupytext percent script to a notebook and execute it top to bottom (nbclient)."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(path)
    old = dict(os.environ)
    os.environ.update(cli_env(PYTHONPATH=str(REPO), **env))
    try:
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)


@pytest.mark.parametrize("name", list(labs.LABS))
def test_notebook_runs_top_to_bottom_on_the_packaged_example(name, tmp_path):
    """The no-compute path of every notebook: the example copied into a new folder, reported, drawn."""
    lab = labs.LABS[name]
    execute_notebook(REPO / lab.notebook, tmp_path, TOYMODELS_LAB_EXAMPLE="1")
    copy = tmp_path / f"example-{name}"
    assert (copy / lab.figure).is_file()
    assert not (tmp_path / "multirun").exists() and not list(copy.glob("*/checkpoints"))  # nothing trained


@pytest.mark.slow
def test_notebook_trains_its_lab_on_tiny_settings(tmp_path):
    """The training path of the notebooks (labs.train with the tiny overrides), on the lab whose report
    reads what training leaves beyond the records (final_problems.npz)."""
    lab = labs.LABS["mirage"]
    execute_notebook(REPO / lab.notebook, tmp_path, TOYMODELS_LAB_TINY="1", TOYMODELS_LAB_EXAMPLE="0")
    sweep = tmp_path / "multirun" / f"{lab.experiment}_tiny"
    assert (sweep / lab.figure).is_file()
    runs = [json.loads(p.read_text()) for p in sweep.glob("*/run.json")]
    assert len(runs) == 4 and all(r["status"] == "completed" for r in runs)


def test_report_example_copies_the_lab_sweep_and_reports_it_with_the_labs_options(tmp_path, monkeypatch):
    from toymodels.cli import report

    monkeypatch.chdir(tmp_path)
    source = labs.example_dir("mirage")
    assert report.main(["--example", "mirage"]) == 0
    copy = tmp_path / "example-mirage"
    assert (copy / "resolution.png").is_file()  # the lab's --resolution 100, applied by --example
    assert json.loads((copy / "summary.json").read_text())["resolution"]["n_small"] == 100
    assert not (source / "summary.json").exists()  # the packaged example is never written into


@pytest.mark.parametrize("name", list(labs.LABS))
def test_every_lab_ships_a_complete_example(name):
    from toymodels.analysis.sweep import load_sweep

    record = json.loads((labs.example_dir(name) / labs.EXAMPLE_RECORD).read_text())
    sweep = load_sweep(labs.example_dir(name))
    assert len(sweep.completed) == record["runs"] >= 2 and not sweep.problems
    if len(record["commands"]) == 1:  # multirun.yaml is the last command's: it counts one command's runs
        assert sweep.n_expected == record["runs"]
    assert record["wall_seconds"] > 0 and all(c["exit_code"] == 0 for c in record["commands"])
    assert all((run.path / "metrics.csv").is_file() for run in sweep.completed)


def test_a_second_example_copy_goes_beside_the_first_never_over_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = labs.copy_example("jump"), labs.copy_example("jump")
    assert (first.name, second.name) == ("example-jump", "example-jump-2")
    (first / "metrics.csv").write_text("mine")  # the copies are writable
    with pytest.raises(labs.LabError, match="already exists"):
        labs.copy_example("jump", first)
    assert (first / "metrics.csv").read_text() == "mine"


def test_packaged_examples_are_small():
    size = sum(p.stat().st_size for p in labs.EXAMPLES_DIR.rglob("*") if p.is_file())
    assert size < 1_500_000, f"the examples take {size / 1e6:.1f} MB"


def test_report_example_refuses_an_unknown_lab_and_an_existing_folder(tmp_path):
    result = run_cli("toymodels.cli.report", "--example", "nolab", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "toymodels-report: error: no lab called 'nolab'; the labs are " + ", ".join(labs.LABS)]
    (tmp_path / "taken").mkdir()
    result = run_cli("toymodels.cli.report", "--example", "jump", str(tmp_path / "taken"), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "already exists" in result.stderr and not list((tmp_path / "taken").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_an_over_budget_sweep_is_refused_before_anything_is_written(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("toymodels.cli.train", "-m", "experiment=lab_forecast", "model=d8,d16,d24,d32",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "over budget.flops=4e+11" in lines[0] and "add3-reversed-d32-s0" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_budget_counts_every_job_and_every_seed_of_an_ensemble():
    from toymodels.cli.train import check_command_line
    from toymodels.training.config import ConfigError

    base = ["-m", "experiment=lab_forecast", "hydra.sweep.dir=/nonexistent/sweep"]
    check_command_line([*base])  # the lab's default choice fits: 3 sizes x 3 seeds
    with pytest.raises(ConfigError, match=r"plans 4.6e\+11 training FLOPs in 3 job"):
        check_command_line([*base, "train.ensemble=4"])  # a fourth seed of each size does not
    with pytest.raises(ConfigError, match="budget.flops"):
        check_command_line([*base, "model=d8", "budget.flops=-1"])


def test_every_lab_experiment_composes_and_its_tiny_settings_stay_tiny():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from toymodels.cli.train import with_one_budget
    from toymodels.training.config import build_run, config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        for lab in labs.LABS.values():
            assert lab.notebook and (REPO / lab.notebook).is_file()
            assert (REPO / "docs" / "labs" / f"{lab.number:02d}-{lab.name}.md").is_file()
            for index in range(len(lab.commands)):
                argv = labs.train_command(lab.name, index, "/tmp/x", tiny=True)[4:]
                overrides = [a for a in with_one_budget(argv) if "," not in a and not a.startswith("hydra")]
                cfg = compose("train", overrides=overrides)
                run_cfg = build_run(cfg)
                assert OmegaConf.select(cfg, "sweep_name") == lab.experiment
                assert run_cfg.max_steps <= 40


def test_make_examples_refuses_an_unknown_lab():
    result = subprocess.run([sys.executable, "scripts/make_examples.py", "nolab"], cwd=REPO, env=cli_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_wheel_ships_the_examples():
    """hatch packs every file under toymodels/ that .gitignore does not exclude: no example file may be ignored."""
    files = [str(p.relative_to(REPO)) for p in labs.EXAMPLES_DIR.rglob("*") if p.is_file()]
    assert any(f.endswith("metrics.csv") for f in files)
    ignored = subprocess.run(["git", "check-ignore", "--stdin"], cwd=REPO, input="\n".join(files),
                             capture_output=True, text=True).stdout.split()
    assert ignored == []


def test_resolution_reads_zero_on_small_sets_where_the_whole_set_resolves_the_accuracy():
    import numpy as np

    from toymodels.analysis.resolution import run_scores

    correct = np.zeros(10_000, bool)
    correct[::2000] = True  # 5 of 10,000 right: exact match 5e-4
    logprob = np.full(10_000, np.log(1e-3))
    scores = run_scores(correct, logprob, 100)
    assert scores["exact_match_all"] == pytest.approx(5e-4)
    assert scores["small_sets"] == 100 and scores["small_sets_reading_zero"] == pytest.approx(0.95)
    assert scores["exact_match_small_range"] == [0.0, 0.0]  # 90 % of 100-problem sets read exactly 0
    assert scores["answer_prob_all"] == pytest.approx(1e-3, rel=1e-6)
    assert scores["answer_prob_small"] == pytest.approx(1e-3, rel=1e-6)  # a continuous score resolves it anyway


@pytest.mark.parametrize("name", list(labs.LABS))
def test_handouts_and_readme_state_the_measured_time_of_the_shipped_example(name):
    """The time a handout states is the wall time make_examples measured for the shipped example."""
    lab = labs.LABS[name]
    seconds = json.loads((labs.example_dir(name) / labs.EXAMPLE_RECORD).read_text())["wall_seconds"]
    stated = f"{seconds / 60:.1f} min ({seconds:.0f} s)"
    for doc in (f"docs/labs/{lab.number:02d}-{name}.md", "docs/labs/README.md", "README.md"):
        assert stated in (REPO / doc).read_text(), f"{doc} should state {stated} for lab {name}"
    assert seconds <= 300, f"lab {name} took {seconds:.0f} s, over the 5-minute target"
