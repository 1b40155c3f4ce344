"""`toymodels-ask RUN "45+78=" ["12+34=" ...] [--model d32 --seed 1]`: ask a trained run problems.

The command line only: the arguments and the calls to `toymodels.inside.load` (which owns loading a run
and answering). One line per prompt: the answer greedy decoding writes and its probability under the
model (a reversed answer is shown as written, with the number it means). Bad input is one line on
stderr and exit 2; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "toymodels-ask"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line (no usage block), exit 2, like every other bad input
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of `toymodels-ask`."""
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder, or a sweep folder with --model and --seed")
    parser.add_argument("prompts", nargs="+", metavar="PROMPT", help="problems as the task writes them, e.g. 45+78=")
    parser.add_argument("--model", help="in a sweep folder: the run of this model size (e.g. d32)")
    parser.add_argument("--seed", type=int, help="in a sweep folder: the run of this seed")
    parser.add_argument("--skill", help="a mixture run: the skill to ask (default: the one the prompt's layout fits)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print one line per prompt; exit 0, or 2 for bad input (one line on stderr)."""
    args = parse_args(argv)
    from toymodels.inside.load import load  # torch: after the arguments are known to parse

    try:
        run = load(args.run, model=args.model, seed=args.seed, skill=args.skill)
        answers = run.solve_many(args.prompts)
        meanings = [run.value(answer, prompt) for prompt, (answer, _) in zip(args.prompts, answers)]
    except (ValueError, OSError) as err:  # LoadError, an unreadable prompt, an unreadable folder
        print(f"{PROG}: error: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    if run.step < int(run.record.get("step") or 0):
        print(f"[{PROG}] {run.run_dir}: weights from step {run.step} of {run.record['step']} (its last checkpoint)",
              file=sys.stderr)
    for prompt, (answer, prob), value in zip(args.prompts, answers, meanings):
        shown = answer or "(nothing)"
        if value is not None and _reversed(run, prompt):
            shown = f"{answer} (reversed: {value})"
        print(f"{prompt} -> {shown}  (p = {_prob(prob)})")
    return 0


def _reversed(run, prompt: str) -> bool:
    """Whether the task that reads this prompt writes its answer least significant digit first."""
    task = run.task_for(prompt)
    return task.format == "reversed" and not task.symbols


def _prob(p: float) -> str:
    """A probability in a few characters: 0.97, or 3.1e-05 below 0.01."""
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1e}"


if __name__ == "__main__":
    raise SystemExit(main())
