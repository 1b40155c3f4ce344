"""Run folder files: reading run.json back, and writing files atomically (no torch in here)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, content: str | Callable[[Path], None]) -> None:
    """Write a file so that readers see the old or the new content, never a partial one.

    `content` is the text, or a function that writes the temporary path it is given (a figure's
    savefig, say). The temporary file sits in the same folder, so the final rename is atomic.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as f:
            if isinstance(content, str):
                f.write(content)
        if not isinstance(content, str):
            content(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: dict) -> None:
    """Atomically write JSON (NaN and inf become null)."""
    atomic_write(path, json.dumps(_finite(obj), indent=2) + "\n")


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def read_run_json(run_dir: Path) -> dict | None:
    """The run's record, or None where there is none or it cannot be read."""
    path = Path(run_dir) / "run.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
