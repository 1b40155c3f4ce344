"""Make a lab's precomputed example: run the lab with the real code, time it, keep the small files.

    python scripts/make_examples.py jump            # trains multirun/lab_jump, reports it, copies the example
    python scripts/make_examples.py forecast --sweep-dir /tmp/lab_forecast

Runs each of the lab's commands (`toymodels.labs.LABS[lab].commands`, exactly as its handout gives them)
into a new sweep folder and times them, runs the lab's report (and, for the forecasting lab, the
forecast), then replaces `toymodels/examples/<lab>/` with the sweep's `multirun.yaml` and, per completed
run, `run.json` and `metrics.csv` (plus the two arrays of `final_problems.npz` the lab's report reads:
right or wrong, and log p(answer) stored as float16, which keeps p to 0.4 %), and
writes `example.json`: the commands, their wall time, the load average around them, the commit. That
wall time is the measurement the handouts quote. Absolute paths in run.json (an ensemble's folder) are
made relative to the sweep, so the example does not carry this machine's paths.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from toymodels import labs
from toymodels.cli import forecast as forecast_cli
from toymodels.cli import report
from toymodels.runs.records import write_json

REPO = Path(__file__).resolve().parents[1]
RUN_FILES = ("run.json", "metrics.csv")
KEPT_ARRAYS = ("correct", "logprob")  # what the resolution report reads from final_problems.npz


def commit() -> str:
    """The commit the example was made with (`+dirty` when the work tree has changes)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def copy_run(run_dir: Path, target: Path, sweep_dir: Path, arrays: bool) -> None:
    """The files of one completed run the example keeps."""
    target.mkdir(parents=True)
    info = json.loads((run_dir / "run.json").read_text())
    ensemble = info.get("ensemble")
    if isinstance(ensemble, dict) and ensemble.get("dir"):
        ensemble["dir"] = os.path.relpath(ensemble["dir"], sweep_dir)
    write_json(target / "run.json", info)
    shutil.copyfile(run_dir / "metrics.csv", target / "metrics.csv")
    if arrays and (run_dir / "final_problems.npz").is_file():
        with np.load(run_dir / "final_problems.npz") as data:
            kept = {"correct": data["correct"].astype(bool), "logprob": data["logprob"].astype(np.float16)}
        with open(target / "final_problems.npz", "wb") as handle:
            np.savez_compressed(handle, **kept)


def make(name: str, sweep_dir: Path) -> int:
    """Train, time, report and copy one lab's example; an exit code."""
    lab = labs.get_lab(name)
    if sweep_dir.exists() and any(sweep_dir.iterdir()):
        print(f"make_examples: error: {sweep_dir} is not empty; the example must be timed from scratch "
              "(move it away or give --sweep-dir)", file=sys.stderr)
        return 2
    timings = []
    for index in range(len(lab.commands)):
        argv = labs.train_command(name, index, sweep_dir)
        load, t0 = os.getloadavg()[0], time.perf_counter()
        code = labs.run(argv)
        seconds = time.perf_counter() - t0
        text = labs.shell_text(argv).replace(f"hydra.sweep.dir={sweep_dir}",
                                             f"hydra.sweep.dir=multirun/{lab.experiment}")
        timings.append({"command": text, "wall_seconds": round(seconds, 1), "load_before": round(load, 2),
                        "load_after": round(os.getloadavg()[0], 2), "exit_code": code})
        print(f"[make_examples] command {index + 1}: {seconds:.0f} s (exit {code})", flush=True)
        if code != 0:
            return code
    options = [f"--{key}={value}" for key, value in lab.report_options.items()]
    code = report.main([str(sweep_dir), *options])
    if code == 0 and lab.forecast_models:
        code = forecast_cli.main([str(sweep_dir), "--fit-models", lab.forecast_models])
    if code != 0:
        return code
    target = labs.EXAMPLES_DIR / lab.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copyfile(sweep_dir / "multirun.yaml", target / "multirun.yaml")
    runs = sorted(p for p in sweep_dir.iterdir() if (p / "run.json").is_file())
    kept = 0
    for run_dir in runs:
        if json.loads((run_dir / "run.json").read_text()).get("status") == "completed":
            copy_run(run_dir, target / run_dir.name, sweep_dir, arrays=bool(lab.report_options.get("resolution")))
            kept += 1
    record = {
        "lab": lab.name, "title": lab.title, "commands": timings,
        "wall_seconds": round(sum(t["wall_seconds"] for t in timings), 1),
        "report": "toymodels-report " + " ".join([f"multirun/{lab.experiment}", *options]),
        "runs": kept, "commit": commit(), "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
    }
    write_json(target / labs.EXAMPLE_RECORD, record)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"[make_examples] {lab.name}: {kept} runs, {record['wall_seconds']:.0f} s of training commands, "
          f"{size / 1024:.0f} KB in {target}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab", help=f"one of {', '.join(labs.LABS)}")
    parser.add_argument("--sweep-dir", type=Path, help="where to train (default: multirun/lab_<lab>; must be new)")
    args = parser.parse_args(argv)
    try:
        lab = labs.get_lab(args.lab)
    except labs.LabError as err:
        print(f"make_examples: error: {err}", file=sys.stderr)
        return 2
    return make(lab.name, (args.sweep_dir or Path("multirun") / lab.experiment).resolve())


if __name__ == "__main__":
    raise SystemExit(main())
