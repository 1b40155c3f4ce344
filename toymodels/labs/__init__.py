"""Course labs: the six labs, how to run one, and the precomputed examples shipped with the package.

Each lab is an experiment (`conf/experiment/lab_<name>.yaml`), a notebook (`docs/labs/NN_<name>.py`)
and a handout (`docs/labs/NN-<name>.md`). This module owns what they share: the registry below (the
commands a lab runs, the tiny settings the tests run it with, the report it ends with, its figure),
running those commands, and the no-compute path — `toymodels/examples/<lab>/`, a small sweep made
by `scripts/make_examples.py <lab>` with the real code, which `copy_example` copies into a fresh
folder so that `toymodels-report --example <lab>` and the notebooks work on a machine that cannot
train. Torch-free: training runs in a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
TINY_ENV = "TOYMODELS_LAB_TINY"  # "1": the notebooks train a few tiny runs (the tests' setting)
EXAMPLE_ENV = "TOYMODELS_LAB_EXAMPLE"  # "1": the notebooks load the precomputed example instead of training
EXAMPLE_RECORD = "example.json"  # how an example was made: its commands, wall time, commit


class LabError(ValueError):
    """An unknown lab, a missing example or a destination that exists; the message is one line."""


@dataclass(frozen=True)
class Lab:
    """One lab: the training commands it runs (Hydra overrides of `toymodels-train -m`), in order."""

    name: str
    number: int
    title: str
    figure: str  # the figure the lab ends with (written by the report, or by the forecast)
    commands: tuple[tuple[str, ...], ...]  # overrides after experiment=lab_<name>, one tuple per command
    tiny: tuple[tuple[str, ...], ...]  # extra overrides per command under TOYMODELS_LAB_TINY=1
    report_options: dict = field(default_factory=dict)  # toymodels-report options the lab's report uses
    forecast_models: str | None = None  # toymodels-forecast --fit-models of the forecasting lab (tiny too)

    @property
    def experiment(self) -> str:
        return f"lab_{self.name}"

    @property
    def notebook(self) -> str:
        return f"docs/labs/{self.number:02d}_{self.name}.py"


# Tiny settings: a couple of d8/d16 runs of a few steps, so that a notebook runs top to bottom in seconds.
_TINY = ("model=d8,d16", "train.steps=30", "eval.size=100", "train.ensemble=2")
# Labs of single runs (finite training sets cannot be ensembled yet) run 2 at a time (the joblib
# launcher, one thread each); tiny runs go one after another (starting workers costs more than they take).
_PARALLEL, _SEQUENTIAL = ("hydra/launcher=parallel",), ("hydra/launcher=basic",)
LABS: dict[str, Lab] = {
    lab.name: lab
    for lab in (
        Lab("jump", 1, "The jump", "emergence.png", ((),), (_TINY,)),
        Lab("mirage", 2, "The mirage and resolution", "resolution.png", ((),),
            (("model=d8,d16", "train.steps=30", "eval.size=2000", "train.ensemble=2"),),
            report_options={"resolution": 100}),
        Lab("scratchpad", 3, "Scratchpad and format", "emergence.png", ((),), (_TINY,)),
        Lab("grokking", 4, "Grokking", "training.png", (_PARALLEL,), (("train.steps=40", *_SEQUENTIAL),)),
        Lab("data_scaling", 5, "Data scaling", "data_scaling.png", (_PARALLEL,),
            (("task.train_size=64,250", "task.format=reversed", "seed=0", "train.steps=30", "eval.size=100",
              *_SEQUENTIAL),)),
        Lab("forecast", 6, "The forecasting challenge", "forecast.png",
            ((), ("model=d32,d48", "budget.flops=null")),
            (("model=d8,d16,d24", "train.steps=20", "eval.size=100"),
             ("model=d32", "train.steps=20", "eval.size=100", "budget.flops=null")),
            forecast_models="d8,d16,d24"),
    )
}


def get_lab(name: str) -> Lab:
    """The lab called `name` (LabError naming the labs if there is none)."""
    if name not in LABS:
        raise LabError(f"no lab called {name!r}; the labs are {', '.join(LABS)}")
    return LABS[name]


def is_tiny() -> bool:
    """Whether the notebooks run on tiny settings (TOYMODELS_LAB_TINY=1, as in the tests)."""
    return os.environ.get(TINY_ENV, "") == "1"


def can_train() -> bool:
    """Whether this Python can train (torch and lightning importable); if not, the notebooks use the example."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "lightning"))


def use_example() -> bool:
    """Whether the notebooks load the precomputed example: asked for (TOYMODELS_LAB_EXAMPLE=1) or no torch."""
    return os.environ.get(EXAMPLE_ENV, "") == "1" or not can_train()


def train_command(name: str, index: int, sweep_dir: Path | str, tiny: bool = False,
                  extra: tuple[str, ...] = ()) -> list[str]:
    """The argv of a lab's command `index` (0-based): `python -m toymodels.cli.train -m experiment=lab_<name> ...`."""
    lab = get_lab(name)
    overrides = [*lab.commands[index], *(lab.tiny[index] if tiny else ()), *extra]
    return [sys.executable, "-m", "toymodels.cli.train", "-m", f"experiment={lab.experiment}",
            f"hydra.sweep.dir={Path(sweep_dir)}", *overrides]


def shell_text(argv: list[str]) -> str:
    """A command as a user types it (`toymodels-train` for the module), for printing."""
    if argv[:3] == [sys.executable, "-m", "toymodels.cli.train"]:
        argv = ["toymodels-train", *argv[3:]]
    return " ".join(shlex.quote(a) for a in argv)


def run(argv: list[str]) -> int:
    """Run a command, echoing its output line by line (so a notebook shows the progress); its exit code."""
    print(f"$ {shell_text(argv)}", flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
    return proc.returncode


def train(name: str, index: int, sweep_dir: Path | str, tiny: bool = False, extra: tuple[str, ...] = ()) -> None:
    """Run a lab's training command `index` into `sweep_dir` (the notebooks' step); LabError if it fails."""
    code = run(train_command(name, index, sweep_dir, tiny, tuple(extra)))
    if code != 0:
        raise LabError(f"the training command stopped with exit code {code} (its last lines above say why)")


def sweep_dir(name: str, tiny: bool = False) -> Path:
    """Where a notebook trains a lab: multirun/lab_<name> (multirun/lab_<name>_tiny on tiny settings)."""
    return Path("multirun") / (get_lab(name).experiment + ("_tiny" if tiny else ""))


def example_dir(name: str) -> Path:
    """The packaged example sweep of a lab (LabError if the package has none)."""
    path = EXAMPLES_DIR / get_lab(name).name
    if not (path / EXAMPLE_RECORD).is_file():
        raise LabError(f"the package has no example for lab {name!r} (expected {path}/{EXAMPLE_RECORD}); "
                       f"make it with: python scripts/make_examples.py {name}")
    return path


def fresh_dir(base: Path) -> Path:
    """`base`, or `base-2`, `base-3`, ... : the first of them that does not exist yet."""
    base, k = Path(base), 2
    candidate = base
    while candidate.exists():
        candidate, k = base.with_name(f"{base.name}-{k}"), k + 1
    return candidate


def copy_example(name: str, dest: Path | str | None = None) -> Path:
    """Copy a lab's example sweep into a new writable folder and return it; never overwrites anything.

    `dest` must not exist (LabError if it does); by default the first free `example-<lab>[-k]` in the
    current folder.
    """
    source = example_dir(name)
    if dest is not None and Path(dest).exists():
        raise LabError(f"{dest} already exists; give a new folder for the example (nothing is overwritten)")
    target = Path(dest) if dest is not None else fresh_dir(Path.cwd() / f"example-{name}")
    shutil.copytree(source, target, copy_function=shutil.copyfile)  # plain copies: writable, whatever the source
    return target
