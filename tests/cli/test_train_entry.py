"""The training entry point's contract: one-line did-you-mean errors that write nothing, the project's
--help, the deprecated module path, the run-folder lock, and a config validated once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from hydra import compose, initialize_config_dir

from tests.helpers import cli_env, run_cli
from toymodels.errors import ConfigError
from toymodels.training.config import build_run, config_dir

TRAIN_KEYS_LINE = ("known keys of train: batch_size, beta1, beta2, checkpoint_every, decay, ensemble, flops, "
                   "grad_clip, grokfast_alpha, grokfast_lambda, lr, min_lr_ratio, steps, tokens, warmup_steps, "
                   "weight_decay")
TINY = ["task.n_digits=2", "model=d8", "train.tokens=null", "train.steps=3", "eval.size=20", "verbose=false"]


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def _main(monkeypatch, tmp_path, *args: str) -> int:
    """Run toymodels-train in this process, in tmp_path; its exit code."""
    from toymodels.cli.train import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["toymodels-train", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code


def test_a_typo_in_a_key_prints_one_did_you_mean_line_exits_2_and_writes_nothing(monkeypatch, tmp_path, capsys):
    code = _main(monkeypatch, tmp_path, "train.tokns=1e6")
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"toymodels-train: error: unknown key train.tokns; did you mean train.tokens? "
                                f"{TRAIN_KEYS_LINE}"]
    assert list(tmp_path.iterdir()) == []  # no outputs/ folder


def test_an_added_unknown_key_gets_the_same_line_from_the_config_as_from_the_command_line():
    with pytest.raises(ConfigError) as err:
        build_run(_compose("+train.tokns=1e6"))
    assert str(err.value) == f"unknown key train.tokns; did you mean train.tokens? {TRAIN_KEYS_LINE}"


@pytest.mark.parametrize("group, key, expected", [
    ("", "seeed", "unknown key seeed; did you mean seed? known keys: budget, eval,"),
    ("task", "n_digit", "unknown key task.n_digit; did you mean task.n_digits? known keys of task: encoding,"),
    ("model", "d_modl", "unknown key model.d_modl; did you mean model.d_model? known keys of model: abacus_offset,"),
    ("eval", "sise", "unknown key eval.sise; did you mean eval.size? known keys of eval: batch_size, per_decade,"),
    ("logger", "projekt", "unknown key logger.projekt; did you mean logger.project? known keys of logger: entity,"),
    ("trainer", "devics", "unknown key trainer.devics; did you mean trainer.devices? known keys of trainer: "),
    ("budget", "flop", "unknown key budget.flop; did you mean budget.flops? known keys of budget: flops"),
])
def test_every_group_names_an_unknown_key_with_its_closest_match_and_all_its_keys(group, key, expected):
    with pytest.raises(ConfigError) as err:
        build_run(_compose(f"+{group + '.' if group else ''}{key}=1"))
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


def test_help_is_the_projects_own_text(monkeypatch, tmp_path, capsys):
    assert _main(monkeypatch, tmp_path, "--help") in (0, None)
    out = capsys.readouterr().out
    assert out.startswith("toymodels-train: train one toy transformer on arithmetic")
    for text in ("model: ", "d128", "experiment: ", "train.tokens=", "train.lr=", "train.ensemble=",
                 "train.batch_size=", "eval.size=", "seed=", "task.name=", "task.n_digits=", "task.format=",
                 "logger=", "trainer=", "budget.flops=", "run_name=", "sweep_name=", "-m experiment=emergence"):
        assert text in out, text
    assert "powered by Hydra" not in out
    assert list(tmp_path.iterdir()) == []


def test_the_old_module_path_still_runs_the_cli_and_says_it_is_deprecated(tmp_path):
    proc = run_cli("toymodels.train", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "toymodels-train: train one toy transformer" in proc.stdout
    assert proc.stderr.splitlines() == [
        "toymodels.train is deprecated; use toymodels-train or python -m toymodels.cli.train"]


def test_the_shim_never_imports_the_cli_statically():
    from pathlib import Path

    import toymodels

    source = (Path(toymodels.__file__).parent / "train.py").read_text()
    assert not re.search(r"^\s*(from|import) toymodels\.cli", source, re.M)


def test_a_run_folder_lock_refuses_a_second_holder_and_dies_with_its_holder(tmp_path):
    from toymodels.training.rundir import RunLock, check_not_locked

    check_not_locked(tmp_path / "run")  # no lock file: nobody holds it, nothing written
    assert list(tmp_path.iterdir()) == []
    with RunLock(tmp_path / "run"):
        with pytest.raises(ConfigError, match="is in use by another training process"):
            check_not_locked(tmp_path / "run")
    check_not_locked(tmp_path / "run")  # released
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from toymodels.training.rundir import RunLock\n"
         f"with RunLock({str(tmp_path / 'run')!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=cli_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match="in use by another training process"):
            check_not_locked(tmp_path / "run")
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 10
    while True:  # the kernel drops a dead holder's lock
        try:
            check_not_locked(tmp_path / "run")
            break
        except ConfigError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_a_run_goes_through_the_config_module_once_and_never_back(tmp_path):
    """From the Hydra entry to the end of the fit: build_run validates once, and nothing after it calls into config/."""
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import toymodels.training.config as config_pkg
    from toymodels.cli.train import train

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=TINY, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "run")
    HydraConfig.instance().set_config(cfg)
    package = str(Path(config_pkg.__file__).parent)
    validations, depth, after = [], [0], []

    def profile(frame, event, arg):
        code = frame.f_code
        if not code.co_filename.startswith(package) or event not in ("call", "return"):
            return
        if code.co_name == "build_run":
            validations.append(event)
            depth[0] += 1 if event == "call" else -1
        elif event == "call" and depth[0] == 0 and validations:
            after.append(f"{code.co_filename}:{code.co_name}")

    sys.setprofile(profile)
    try:
        record = train(cfg)
    finally:
        sys.setprofile(None)
    assert record["status"] == "completed" and record["step"] == 3
    assert validations == ["call", "return"] and after == []
