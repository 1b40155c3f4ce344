"""Reading run folders: the one place that knows how run.json is read back."""

from __future__ import annotations

import json
from pathlib import Path


def read_run_json(run_dir: Path) -> dict | None:
    """The run's record, or None where there is none or it cannot be read."""
    path = Path(run_dir) / "run.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
