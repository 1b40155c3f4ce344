"""What "refused cleanly" means, checked the same way for every bad input to every CLI (issue 26).

Clean: a non-zero exit that is not a timeout or a kill, no Python traceback, the last line an error,
nothing new written and no existing file changed (every file's hash under the watched folders is the
same before and after).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

KILLED = {124, 137, 143, -9, -15}  # timeout(1), SIGKILL, SIGTERM


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every file under the roots (folders or files), by path."""
    out: dict[str, str] = {}
    for root in map(Path, roots):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_refused_cleanly(proc: subprocess.CompletedProcess, before: dict[str, str], *roots: Path,
                           started: float | None = None, max_seconds: float = 60) -> None:
    """The clean-refusal criteria; `before` is snapshot(*roots) taken before the command ran."""
    text = f"exit {proc.returncode}\nstdout: {proc.stdout[-1500:]}\nstderr: {proc.stderr[-1500:]}"
    assert proc.returncode != 0 and proc.returncode not in KILLED, text
    assert "Traceback" not in proc.stdout + proc.stderr, text
    lines = [ln for ln in (proc.stderr.strip() or proc.stdout.strip()).splitlines() if ln.strip()]
    assert lines and "error" in lines[-1].lower(), text
    after = snapshot(*roots)
    new = sorted(set(after) - set(before))
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert not new and not changed, f"new files {new[:5]}, changed or removed {changed[:5]}\n{text}"
    if started is not None:
        assert time.monotonic() - started <= max_seconds, f"took {time.monotonic() - started:.0f}s to refuse\n{text}"
