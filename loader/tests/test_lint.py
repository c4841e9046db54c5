"""The code and the generated models pass the project's linters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pgshift.settings import PROJECT_DIR

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600
    )


def test_ruff() -> None:
    result = _run(str(BIN / "ruff"), "check", "loader", "bench")
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(str(BIN / "ruff"), "format", "--check", "loader", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sqlfluff_models_tests_and_macros() -> None:
    # A macro file renders to nothing, so sqlfluff checks its lines and its
    # Jinja but not the SQL it produces; that SQL is linted where a call
    # renders it (tests/macros/). macros/.sqlfluff and macros/.sqlfluffignore
    # say what is left out there, and why.
    result = _run(
        str(BIN / "sqlfluff"), "lint", "--processes", "0", "models", "tests", "macros"
    )
    assert result.returncode == 0, result.stdout + result.stderr
