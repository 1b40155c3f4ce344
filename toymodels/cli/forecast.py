"""`toymodels-forecast SWEEP_DIR --fit-below FLOPS | --fit-models d8,d16,...`: can the jump be predicted?

The command line only: the options and the call to `toymodels.analysis.forecast_report.write_forecast`,
which fits the forecasters below the cutoff, scores them against the full sweep and writes
`forecast.png`, `forecast.json` and `forecast.md`. Bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from toymodels.analysis.forecast_report import PROG, ForecastOptions, write_forecast


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of `toymodels-forecast`."""
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="sweep folder: one run folder per subdirectory")
    cut = parser.add_mutually_exclusive_group(required=True)
    cut.add_argument("--fit-below", type=float, metavar="FLOPS", help="fit on the sizes whose compute is <= FLOPS")
    cut.add_argument("--fit-models", metavar="d8,d16,...", help="fit on these sizes (comma-separated model names)")
    parser.add_argument("--solve-level", type=float, default=0.5,
                        help="truth: where half the seeds reach this exact match (default %(default)s, the level "
                        "the forecasters predict)")
    parser.add_argument("--wandb", action="store_true", help="also log the forecast to W&B")
    parser.add_argument("--wandb-project", default="toymodels", help="W&B project (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Forecast, write the three files, print one row per forecaster; exit 2 on bad input."""
    args = parse_args(argv)
    return write_forecast(ForecastOptions(**{f.name: getattr(args, f.name) for f in fields(ForecastOptions)}))


if __name__ == "__main__":
    raise SystemExit(main())
