"""The package's floor plan: phase folders import the shared modules, not each other.

``verify`` checks what ``load`` and ``scaffold`` produced through what they
recorded (``pgshift.manifest``, ``pgshift.mapping``), never through their
code; ``load`` does not depend on ``scaffold``; nothing imports the command
line or the demo, which sit on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pgshift"

FORBIDDEN = {
    "pgshift.verify": ("pgshift.scaffold", "pgshift.load", "pgshift.pipeline"),
    "pgshift.load": ("pgshift.scaffold", "pgshift.verify", "pgshift.pipeline"),
    "pgshift.scaffold": ("pgshift.load", "pgshift.verify", "pgshift.pipeline"),
    "pgshift.sync": ("pgshift.scaffold", "pgshift.pipeline"),
}
"""Module prefix to the prefixes its modules may not import."""

ON_TOP = ("pgshift.cli", "pgshift.demo")
"""Modules nothing else in the package imports."""

ONLY_FROM_CLI = ("pgshift.sync",)
"""Phases only the command line imports: the load, the build and verify know
nothing of the online migration (the guard against a second writer reads
``pgshift.manifest``)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("pgshift")}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_phase_folders_do_not_import_each_other(module: str) -> None:
    imported = MODULES[module]
    for owner, forbidden in FORBIDDEN.items():
        if _within(module, owner):
            wrong = sorted(i for i in imported if any(_within(i, f) for f in forbidden))
            assert wrong == [], f"{module} imports {wrong}"
    for phase in ONLY_FROM_CLI:
        if not _within(module, phase) and not _within(module, "pgshift.cli"):
            wrong = sorted(i for i in imported if _within(i, phase))
            assert wrong == [], f"{module} imports {wrong}"
    if not any(_within(module, top) for top in ON_TOP):
        wrong = sorted(i for i in imported if any(_within(i, t) for t in ON_TOP))
        assert wrong == [], f"{module} imports {wrong}"


def test_the_rule_sees_the_package() -> None:
    # The walk found the phase folders and their imports.
    assert {"pgshift.verify.parity", "pgshift.load.extract", "pgshift.scaffold"} <= set(
        MODULES
    )
    assert "pgshift.mapping" in MODULES["pgshift.verify.parity"]
