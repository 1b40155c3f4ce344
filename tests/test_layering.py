"""The package's architecture, enforced: import layers (.importlinter) and the size of modules and functions."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "toymodels"
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Functions allowed past MAX_FUNCTION_LINES, each with the reason (keep this list short).
LONG_FUNCTIONS: dict[str, str] = {}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*LINT, str(root / ".importlinter"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_import_layers_hold():
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout and proc.stdout.count("KEPT") >= 4


def test_an_analysis_module_importing_torch_breaks_the_layering(tmp_path):
    """The contract is not a convention: one `import torch` in the analysis side fails it."""
    shutil.copytree(PACKAGE, tmp_path / "toymodels", ignore=shutil.ignore_patterns("examples", "__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path)
    fits = tmp_path / "toymodels" / "analysis" / "fits.py"
    fits.write_text("import torch  # noqa\n" + fits.read_text())
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0 and "toymodels.analysis.fits -> torch" in proc.stdout, proc.stdout[-3000:]


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "examples" not in p.parts)


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_MODULE_LINES, f"{path.name} has {len(lines)} lines: split it"
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            name = f"{path.relative_to(PACKAGE).with_suffix('')}.{node.name}".replace("/", ".")
            assert length <= MAX_FUNCTION_LINES or name in LONG_FUNCTIONS, f"{name} is {length} lines long"
