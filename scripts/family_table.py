"""Print the model family table (or write it into README.md between its family-table markers).

    python scripts/family_table.py            # print
    python scripts/family_table.py --write    # replace the table in README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from toymodels.training.family import family_markdown

START, END = "<!-- family-table:start -->", "<!-- family-table:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def with_table(text: str, table: str) -> str:
    """`text` with the block between the markers replaced by `table`."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    table = family_markdown()
    if "--write" in argv:
        README.write_text(with_table(README.read_text(), table))
        print(f"wrote the family table into {README}")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
