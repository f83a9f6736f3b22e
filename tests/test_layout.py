"""The rules of the layout, checked on the source: import direction and determinism of the core.

``app/`` never imports ``chain/``. The deterministic packages (everything that runs inside a
block or a query) never divide with ``/``, write float literals, or import clocks, randomness,
the environment or the network.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DETERMINISTIC = [
    "app/attestations",
    "app/core",
    "app/credits",
    "app/federated",
    "app/licenses",
    "app/members",
    "app/models",
    "app/state",
    "app/store",
    "app/usage",
]
FORBIDDEN_MODULES = {"time", "random", "secrets", "datetime", "socket", "requests", "uuid"}
FORBIDDEN_OS = {"environ", "getenv", "urandom", "times", "getpid"}


def sources(*folders: str) -> list[Path]:
    """Every Python file under the folders."""
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    """Top-level names of everything a module imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sources("app"), ids=lambda p: str(p.relative_to(ROOT)))
def test_app_never_imports_chain(path: Path) -> None:
    modules = imported_modules(ast.parse(path.read_text()))
    assert not [m for m in modules if m == "chain" or m.startswith("chain.")]


@pytest.mark.parametrize("path", sources(*DETERMINISTIC), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_is_deterministic(path: Path) -> None:
    tree = ast.parse(path.read_text())
    bad_imports = {m.split(".")[0] for m in imported_modules(tree)} & FORBIDDEN_MODULES
    assert not bad_imports, f"{path} imports {bad_imports}"
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div)), (
            f"{path}:{node.lineno} divides with '/'; use '//'"
        )
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
            f"{path}:{node.lineno} has a float literal"
        )
        assert not (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in FORBIDDEN_OS
        ), f"{path}:{node.lineno} reads os.{getattr(node, 'attr', '')}"


def test_the_rule_catches_what_it_should() -> None:
    tree = ast.parse("import time\nx = 1 / 2\ny = 0.5\nfrom chain.keys import Key\n")
    assert {"time", "chain.keys"} <= imported_modules(tree)
    divisions = [
        n for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
    ]
    floats = [
        n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)
    ]
    assert divisions and floats
