"""Writing a report's files all or nothing: staged in a temporary folder, moved into place only at the end.

A report (`report`, `mixture_report`) or a forecast (`forecast_report`) computes everything first, then
writes each file into a hidden temporary folder next to its outputs (`Staged`), and only when every file
is written moves them into place with `os.replace`, file by file. A failure on the way (a bad input
found late, a full disk, a bug) removes the temporary folder and leaves every earlier output
byte-identical; a success line is printed only after the files are in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from toymodels.analysis.plots import save_figure
from toymodels.runs.records import atomic_write, write_json


class OutputError(Exception):
    """The output folder cannot be written (one line for the user)."""


class Staged:
    """The files of one report, staged in `<folder>/.<prog>-XXXX/` until `commit()` moves them into `folder`.

    Use as a context manager: leaving it without `commit()` (an exception, an early return) discards
    the staged files.
    """

    def __init__(self, folder: Path, prog: str) -> None:
        self.folder = Path(folder)
        try:
            self.tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=f".{prog}-"))
        except OSError as err:
            raise OutputError(f"cannot write into {self.folder} ({err.strerror or err})") from None
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        """Where a file is staged (its final place is `folder / name`); a plain file name only."""
        if Path(name).name != name or name.startswith("."):  # e.g. a skill called "../x" in a run.json
            raise OutputError(f"will not write {name!r}: not a plain file name")
        if name not in self.names:
            self.names.append(name)
        return self.tmp / name

    def figure(self, fig: Any, name: str) -> None:
        save_figure(fig, self.path(name))

    def json(self, name: str, obj: dict) -> None:
        write_json(self.path(name), obj)

    def text(self, name: str, text: str) -> None:
        atomic_write(self.path(name), text)

    def commit(self) -> list[str]:
        """Move every staged file into the folder (os.replace, one by one); the names, in order."""
        try:
            blocked = [n for n in self.names if (self.folder / n).is_dir() or (self.folder / n).is_symlink()]
            if blocked:
                raise OutputError(f"{self.folder / blocked[0]} is a folder or a link, not a file: nothing replaced")
            for name in self.names:
                os.replace(self.tmp / name, self.folder / name)
        except OSError as err:
            raise OutputError(f"cannot write {name} into {self.folder} ({err.strerror or err})") from None
        finally:
            self.discard()
        return list(self.names)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.discard()
