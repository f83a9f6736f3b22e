"""The rules of the layout, checked on the source: import direction and determinism of the core.

``app/`` never imports ``chain/``. The kernel (``app/core``) imports no domain; one module,
``app/machine.py``, names every domain and is the only importer of their message servers and
query modules; a domain reaches another only through its public surface (keeper, keys, errors,
events and vocabulary, or an interface the machine wires in); the ABCI adapter imports the
machine and the kernel only. The deterministic packages (everything that runs inside a block or
a query) import only from an allowlist, never divide with ``/``, write float literals, or call
``float``, ``hash``, ``open``, ``eval``, ``exec``, ``compile`` or ``input``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("attestations", "credits", "federated", "licenses", "members", "models", "usage")
DETERMINISTIC = [f"app/{d}" for d in DOMAINS] + ["app/core", "app/state", "app/store"]
ALLOWED_MODULES = {
    "__future__",
    "app",
    "ast",  # the license checker and compiler parse scripts; nothing is executed
    "bisect",
    "coincurve",
    "collections",
    "copy",
    "dataclasses",
    "functools",
    "google",  # protobuf
    "hashlib",
    "itertools",
    "json",  # query parameters and genesis, parsed, never written into state
    "os",  # the store's path only: os.environ and friends are refused below
    "plyvel",
    "re",
    "sys",  # the interpreter's recursion headroom (app/licenses/lang/stack.py)
    "threading",  # a lock and a thread-local hint; results never depend on them
    "typing",
    "warnings",  # the checker turns parse warnings into refusals
}
FORBIDDEN_CALLS = {"float", "hash", "open", "eval", "exec", "compile", "input", "__import__"}
FORBIDDEN_OS = {"environ", "getenv", "urandom", "times", "getpid", "system", "popen"}
PUBLIC_SURFACE = {
    "keeper",
    "keys",
    "errors",
    "events",
    "roles",  # the members vocabulary
    "purposes",  # the usage vocabulary
    "claims",  # the models claims keeper
    "lang",  # the license language, a pure library
}
ENTRY_MODULES = {"handlers", "queries", "validation", "governance", "expiry", "genesis", "decision"}


def sources(*folders: str) -> list[Path]:
    """Every Python file under the folders."""
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module a file imports, with what it imports from a package as submodules."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _parsed(path: Path) -> set[str]:
    return imported_modules(ast.parse(path.read_text()))


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", sources("app"), ids=_id)
def test_app_never_imports_chain(path: Path) -> None:
    assert not [m for m in _parsed(path) if m == "chain" or m.startswith("chain.")]


@pytest.mark.parametrize("path", sources("app/core"), ids=_id)
def test_the_kernel_imports_no_domain(path: Path) -> None:
    bad = [m for m in _parsed(path) if m.split(".")[1:2] and m.split(".")[1] in DOMAINS]
    bad += [m for m in _parsed(path) if m.startswith(("app.machine", "app.abci"))]
    assert not bad, f"{_id(path)} imports {bad}"


@pytest.mark.parametrize("path", [*sources("app/abci"), ROOT / "app/__main__.py"], ids=_id)
def test_the_abci_adapter_imports_the_machine_and_the_kernel_only(path: Path) -> None:
    bad = [m for m in _parsed(path) if m.startswith("app.") and m.split(".")[1] in DOMAINS]
    assert not bad, f"{_id(path)} imports {bad}"


@pytest.mark.parametrize("path", sources(*[f"app/{d}" for d in DOMAINS]), ids=_id)
def test_a_domain_reaches_another_only_through_its_public_surface(path: Path) -> None:
    home = path.relative_to(ROOT / "app").parts[0]
    bad = [
        module
        for module in _parsed(path)
        if (parts := module.split("."))[:1] == ["app"]
        and len(parts) >= 3
        and parts[1] in DOMAINS
        and parts[1] != home
        and parts[2] not in PUBLIC_SURFACE
    ]
    assert not bad, f"{_id(path)} reaches into {bad}"


@pytest.mark.parametrize("path", sources("app"), ids=_id)
def test_only_the_machine_imports_message_servers_and_queries(path: Path) -> None:
    if path == ROOT / "app" / "machine.py":
        return
    home = path.relative_to(ROOT / "app").parts[0]
    bad = [
        m
        for m in _parsed(path)
        if len(m.split(".")) >= 3
        and m.split(".")[1] in DOMAINS
        and m.split(".")[1] != home
        and m.split(".")[2] in ENTRY_MODULES
    ]
    assert not bad, f"{_id(path)} imports {bad}"


@pytest.mark.parametrize("path", [*sources(*DETERMINISTIC), ROOT / "app/machine.py"], ids=_id)
def test_the_core_is_deterministic(path: Path) -> None:
    tree = ast.parse(path.read_text())
    outside = {m.split(".")[0] for m in imported_modules(tree)} - ALLOWED_MODULES
    assert not outside, f"{_id(path)} imports {outside}, outside the allowlist"
    for node in ast.walk(tree):
        where = f"{_id(path)}:{getattr(node, 'lineno', 0)}"
        assert not (isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div)), (
            f"{where} divides with '/'; use '//'"
        )
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
            f"{where} has a float literal"
        )
        assert not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_CALLS
        ), f"{where} calls {getattr(node.func, 'id', '')}()"
        assert not (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in FORBIDDEN_OS
        ), f"{where} reads os.{getattr(node, 'attr', '')}"
        assert not (isinstance(node, ast.ImportFrom) and node.module == "os"), (
            f"{where} imports names from os"
        )


def test_the_rules_catch_what_they_should() -> None:
    tree = ast.parse(
        "import time\nfrom os import environ\nx = 1 / 2\ny = 0.5\nz = hash('a')\n"
        "from chain.keys import Key\nfrom app.usage.handlers import use\n"
    )
    modules = imported_modules(tree)
    assert {"time", "os", "chain.keys", "app.usage.handlers"} <= modules
    assert {m.split(".")[0] for m in modules} - ALLOWED_MODULES >= {"time", "chain"}
    divisions = [
        n for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
    ]
    floats = [
        n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)
    ]
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") in FORBIDDEN_CALLS
    ]
    assert divisions and floats and calls
