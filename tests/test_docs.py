"""The README and docs/ as a specification: the README stays a short front door, every relative link
resolves, and every shell line that starts one of our CLIs parses as written.

Train lines are composed with Hydra in-process (every value of every swept key, one key at a time);
report, forecast and demo lines go through their own argparse parsers. Nothing is trained or written.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").rglob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 250

CLIS = ("toymodels-train", "toymodels-report", "toymodels-forecast", "toymodels-demo", "toymodels-ask")
# `python -m <module>` spellings of the CLIs (the old flat paths print a deprecation notice and go on).
MODULES = {f"toymodels.cli.{name}": f"toymodels-{name}" for name in ("train", "report", "forecast", "demo", "ask")}
SHELL_BLOCKS = ("bash", "sh", "shell", "console", "zsh")
# Lines that cannot run as written on purpose; each needs a reason.
SKIP: dict[str, str] = {}
PLACEHOLDER = re.compile(r"<[^>\s]*>|\$\{?[A-Za-z_]")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
OPERATORS = {"&&", "||", ";", "|", "&"}
# Hydra's own flags: those that take a value, and those that only print (the CLI skips its checks then).
HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--cfg", "-c",
                          "--package", "-p", "--info", "-i", "--shell-completion", "-sc"}
HYDRA_FLAGS = {"-m", "--multirun", "--help", "-h", "--hydra-help", "--version", "--resolve"}


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


# ----------------------------------------------------------------------------- README and links


def test_readme_is_a_short_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move reference material to docs/"
    text = "\n".join(lines)
    for command in ("make demo", "make test"):
        assert command in text, f"README.md should show `{command}`"
    assert "<!-- family-table:start -->" in text and "<!-- family-table:end -->" in text


FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def prose_lines(path: Path):
    """(line number, text) of the lines outside fenced code blocks, inline code removed."""
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, INLINE_CODE.sub("", line)


def relative_links(path: Path) -> list[tuple[int, str]]:
    links = []
    for number, line in prose_lines(path):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # http(s), mailto, ... and in-page anchors
            links.append((number, target))
    return links


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_and_image_resolves(page: Path):
    broken = []
    for number, target in relative_links(page):
        file = target.split("#", 1)[0].split("?", 1)[0]
        if not (page.parent / file).exists():
            broken.append(f"{rel(page)}:{number}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_the_link_finder_sees_links_and_images_but_not_code(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text('[a](x.md#part) ![b](img/y.png "title") [web](https://example.com) [c](#here)\n'
                    "`[not](a-link.md)`\n```\n[code](z.md)\n```\n")
    assert [t for _, t in relative_links(page)] == ["x.md#part", "img/y.png"]


# ----------------------------------------------------------------------------- shell lines


@dataclass(frozen=True)
class Command:
    """One CLI invocation found in a page: where, which CLI, its arguments."""

    where: str
    line: str
    cli: str
    args: tuple[str, ...]
    documented_error: bool  # a console example followed by the CLI's own error line

    def __str__(self) -> str:
        return f"{self.where}: {self.line}"


def shell_lines(path: Path):
    """(line number, line, next line) of the shell commands in a page: every line of a bash/sh/console
    block (only `$ ` lines in console and unlabelled blocks), and `$ ` lines anywhere; continuations joined."""
    lines = path.read_text().splitlines()
    fence, pending, start = None, "", 0
    for i, raw in enumerate(lines):
        line = raw.strip()
        if FENCE.match(raw):
            fence = None if fence is not None else line.strip("`~").strip().lower()
            continue
        dollar = line.startswith("$ ")
        if dollar:
            line = line[2:]
        elif fence is None or fence not in SHELL_BLOCKS or fence == "console":
            if not pending:
                continue
        if not pending:
            start = i
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        yield start + 1, pending + line, following
        pending = ""


def commands_in(path: Path) -> list[Command]:
    found = []
    for number, line, following in shell_lines(path):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as err:
            raise AssertionError(f"{rel(path)}:{number}: cannot split {line!r}: {err}") from None
        segments, current = [], []
        for word in words:
            if word in OPERATORS:
                segments.append(current)
                current = []
            else:
                current.append(word)
        segments.append(current)
        for words in segments:
            while words and ENV_ASSIGNMENT.match(words[0]):
                words = words[1:]
            if not words:
                continue
            program = words[0].removeprefix(".venv/bin/")
            args = words[1:]
            if program in ("python", "python3") and args[:1] == ["-m"] and len(args) > 1:
                program, args = MODULES.get(args[1], args[1]), args[2:]
            if program not in CLIS:
                continue
            error = following.startswith(f"{program}: error:")
            found.append(Command(f"{rel(path)}:{number}", line, program, tuple(args), error))
    return found


COMMANDS = [c for page in PAGES for c in commands_in(page)]


def test_the_docs_show_every_cli():
    assert {c.cli for c in COMMANDS} == set(CLIS)


def test_the_command_finder_reads_blocks_continuations_and_prefixes(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\n"
        "WANDB_MODE=offline .venv/bin/toymodels-train -m model=d8,d16 \\\n"
        "    seed=0   # a comment\n"
        "toymodels-report --example jump && toymodels-forecast x --fit-models d8,d16,d24\n"
        "python -m toymodels.cli.demo --quick\n"
        "wandb sync outputs\n"
        "```\n"
        "```\n"
        "$ toymodels-train model.n_head=5\n"
        "toymodels-train: error: model.d_model=64 is not divisible by model.n_head=5\n"
        "```\n"
        "```python\n"
        "toymodels-train model=d64\n"
        "```\n"
    )
    found = [(c.cli, c.args, c.documented_error) for c in commands_in(page)]
    assert found == [
        ("toymodels-train", ("-m", "model=d8,d16", "seed=0"), False),
        ("toymodels-report", ("--example", "jump"), False),
        ("toymodels-forecast", ("x", "--fit-models", "d8,d16,d24"), False),
        ("toymodels-demo", ("--quick",), False),
        ("toymodels-train", ("model.n_head=5",), True),
    ]


def skipped(command: Command) -> bool:
    if command.line in SKIP:
        return True
    assert not PLACEHOLDER.search(" ".join(command.args)), (
        f"{command}: a placeholder (<...> or $VAR) in a command; write a real value, or add the line to SKIP "
        "with a reason"
    )
    return False


@pytest.fixture(scope="module")
def hydra_compose():
    """Hydra's compose, initialised once on the package's config folder."""
    from hydra import compose, initialize_config_dir

    from toymodels.training.config import config_dir

    done: set[tuple[str, ...]] = set()

    def compose_once(overrides: list[str]) -> None:
        if tuple(overrides) not in done:  # many lines share a job (experiment=emergence, ...)
            compose("train", overrides=overrides, return_hydra_config=True)
            done.add(tuple(overrides))

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        yield compose_once


def hydra_overrides(command: Command) -> list[str]:
    """The command's Hydra overrides, after checking that its flags are Hydra's own."""
    overrides, args = [], list(command.args)
    while args:
        arg = args.pop(0)
        if arg in HYDRA_FLAGS_WITH_VALUE:
            assert args, f"{command}: {arg} needs a value"
            args.pop(0)
        elif arg.startswith("-"):
            assert arg in HYDRA_FLAGS, f"{command}: {arg} is not a toymodels-train (Hydra) flag"
        else:
            overrides.append(arg)
    return overrides


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """Jobs that together compose every value of every key the line sweeps, one key varied at a time.
    (The sweeps an experiment declares are its own config, composed by the config tests.)"""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    axes = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        axes.append([f"{key}={value}" for value in override.sweep_string_iterator()]
                    if override.is_sweep_override() else [override.input_line])
    first = [values[0] for values in axes]
    jobs = [first]
    for i, values in enumerate(axes):
        jobs += [first[:i] + [value] + first[i + 1:] for value in values[1:]]
    return jobs


def check_train(command: Command, compose) -> None:
    for job in sweep_jobs(hydra_overrides(command)):
        compose(job)


def check_demo(command: Command, compose, monkeypatch) -> None:
    """Run the demo's own parser; the sweep command it would start is composed like a train line."""
    import toymodels.cli.demo as demo
    import toymodels.cli.report as report

    started = []
    monkeypatch.setattr(demo.subprocess, "call", lambda cmd, *a, **k: started.append(cmd) or 0)
    monkeypatch.setattr(report, "main", lambda argv=None: 0)
    assert demo.main(list(command.args)) == 0
    (cmd,) = started
    assert cmd[1:3] == ["-m", "toymodels.cli.train"], cmd
    check_train(Command(command.where, command.line, "toymodels-train", tuple(cmd[3:]), False), compose)


def check_command(command: Command, compose, monkeypatch) -> None:
    if command.cli == "toymodels-train":
        check_train(command, compose)
    elif command.cli == "toymodels-report":
        from toymodels.cli.report import parse_args

        parse_args(list(command.args))
    elif command.cli == "toymodels-forecast":
        from toymodels.cli.forecast import parse_args

        parse_args(list(command.args))
    elif command.cli == "toymodels-ask":
        from toymodels.cli.ask import parse_args

        parse_args(list(command.args))
    else:
        check_demo(command, compose, monkeypatch)


def test_every_cli_line_in_the_readme_and_docs_parses(hydra_compose, monkeypatch, tmp_path: Path, capsys):
    """One test for all lines (Hydra is initialised once): each failure names its page and line."""
    monkeypatch.chdir(tmp_path)  # the demo resolves its sweep folder against the working directory
    failures = []
    for command in COMMANDS:
        if skipped(command):
            continue
        try:
            check_command(command, hydra_compose, monkeypatch)
        except SystemExit as err:  # argparse's refusal
            failures.append(f"{command}\n    exit {err.code}: {capsys.readouterr().err.strip()}")
        except Exception as err:  # Hydra's refusal: a bad override, an unknown key, group option or plugin
            failures.append(f"{command}\n    {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        finally:
            monkeypatch.undo()
            monkeypatch.chdir(tmp_path)
    assert not failures, f"{len(failures)} of {len(COMMANDS)} CLI lines do not parse:\n" + "\n".join(failures)


def test_a_bad_line_is_caught(hydra_compose, monkeypatch):
    bad = [
        Command("x", "", "toymodels-train", ("model=d7",), False),
        Command("x", "", "toymodels-train", ("train.no_such_key=1",), False),
        Command("x", "", "toymodels-train", ("-m", "experiment=emergence", "hydra/launcher=nope"), False),
        Command("x", "", "toymodels-report", ("multirun/emergence", "--no-such-flag"), False),
        Command("x", "", "toymodels-forecast", ("multirun/emergence",), False),
        Command("x", "", "toymodels-demo", ("--slow",), False),
    ]
    for command in bad:
        with pytest.raises((SystemExit, Exception)):
            check_command(command, hydra_compose, monkeypatch)
        monkeypatch.undo()


# ----------------------------------------------------------------------------- module paths

PYTHON_M = re.compile(r"python3? -m (toymodels(?:\.\w+)+)")


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_python_m_path_names_an_existing_module(page: Path):
    missing = [f"{rel(page)}: python -m {name}" for name in PYTHON_M.findall(page.read_text())
               if importlib.util.find_spec(name) is None]
    assert not missing, "modules that do not exist:\n" + "\n".join(missing)
