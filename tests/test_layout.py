"""The package's layout holds: rooms with their rules (import-linter contracts), modules that import on
their own, and none grown past 600 lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import spacegraph
from spacegraph import PROJECT_ROOT

PACKAGE = Path(spacegraph.__file__).parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 600


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] != "__main__":  # a script: importing it runs the command
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_on_its_own() -> None:
    """``python -c "import X"`` for each module, in fresh interpreters: no module leans on another having
    been imported first (an import cycle would show here)."""
    command = [sys.executable, "-c"]
    running = {name: subprocess.Popen([*command, f"import {name}"], stderr=subprocess.PIPE) for name in modules()}
    failed = {name: process.communicate(timeout=120)[1].decode()[-500:] for name, process in running.items()}
    assert {name: error for name, error in failed.items() if running[name].returncode != 0} == {}
    assert {"spacegraph.publish.dumps", "spacegraph.engine.analysis", "spacegraph.web.pages.chrome"} <= set(running)


def test_no_module_is_over_600_lines() -> None:
    lengths = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def lint_imports(config: Path, src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )


def test_the_rooms_keep_their_rules() -> None:
    result = lint_imports(PROJECT_ROOT / "pyproject.toml", PACKAGE.parent)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("publish/dumps.py", "from spacegraph.web import app", "Rooms"),
        ("engine/store.py", "from spacegraph.publish import graph", "Rooms"),
        ("formats.py", "from spacegraph.engine import analysis", "The shared modules import no room"),
        ("web/sparql.py", "from spacegraph.publish import validate", "Serving takes nothing from publishing"),
        ("engine/workers.py", "from spacegraph.engine import pool", "A query worker process loads only"),
    ],
)
def test_a_broken_rule_fails_the_check(tmp_path: Path, module: str, line: str, contract: str) -> None:
    """A copy of the package with one forbidden import added: the check fails, naming the contract."""
    copy = tmp_path / "src" / "spacegraph"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = lint_imports(tmp_path / "pyproject.toml", tmp_path / "src")
    assert result.returncode == 1, result.stdout
    report = " ".join(result.stdout.split())  # contract names are wrapped over lines
    assert contract in report.partition("Broken contracts")[2], result.stdout
