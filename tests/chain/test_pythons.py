"""The per-machine interpreters of other Python minors: what they install, where, from which
base, and that an unusable minor is one clear line."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from chain.engine import pythons
from chain.engine.pythons import (
    APP_DISTRIBUTIONS,
    PythonUnavailable,
    cache_root,
    ensure_python,
    find_base,
    requirements,
)

ROOT = Path(__file__).resolve().parents[2]
# top-level module -> the distribution that provides it
PROVIDERS = {
    "google": "protobuf",
    "plyvel": "plyvel",
    "coincurve": "coincurve",
    "prometheus_client": "prometheus-client",
}


def third_party_imports() -> set[str]:
    """Top-level modules that app/ (without the generated app/pb) imports outside the stdlib."""
    found: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        if "pb" in path.relative_to(ROOT / "app").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found.update(n.split(".")[0] for n in names)
    return {m for m in found if m not in sys.stdlib_module_names and m != "app"}


def test_the_environments_hold_everything_app_imports() -> None:
    modules = third_party_imports()
    assert modules, "the scan found no third-party import at all"
    unknown = modules - set(PROVIDERS)
    assert not unknown, f"app/ imports {sorted(unknown)}: add their distributions"
    assert {PROVIDERS[m] for m in modules} <= set(APP_DISTRIBUTIONS)


def test_requirements_pin_this_environment_or_take_pyproject_ranges() -> None:
    lines = requirements()
    assert [line.split("=")[0].split(">")[0].split("<")[0] for line in lines] == list(
        APP_DISTRIBUTIONS
    )
    assert all("==" in line or ">" in line for line in lines)


def test_the_cache_is_per_machine_and_honours_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "modelgov" / "pythons"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "modelgov" / "pythons"


def fake_pyenv(root: Path, *versions: str) -> None:
    for version in versions:
        minor = ".".join(version.split(".")[:2])
        binary = root / "versions" / version / "bin" / f"python{minor}"
        binary.parent.mkdir(parents=True)
        binary.write_text("")


def test_the_newest_final_patch_of_a_minor_is_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_pyenv(tmp_path, "3.12.1", "3.12.10", "3.12.9", "3.12.11rc1", "3.1.5", "3.13.0")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert find_base("3.12") == tmp_path / "versions" / "3.12.10" / "bin" / "python3.12"


def test_a_missing_minor_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PythonUnavailable) as info:
        find_base("3.99")
    assert "\n" not in str(info.value) and "3.99" in str(info.value)


def test_a_failed_source_build_without_root_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pythons, "_pip", lambda command: "error: leveldb/db.h: No such file")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(PythonUnavailable) as info:
        pythons._install("3.13", ["plyvel==1.5.1"])
    message = str(info.value)
    assert "\n" not in message and "libleveldb-dev" in message and "leveldb/db.h" in message


def test_ensure_python_is_idempotent_for_the_running_minor() -> None:
    """The running minor's environment: built if needed, then reused as it is."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        first = ensure_python(minor)
    except PythonUnavailable as exc:
        pytest.skip(str(exc))
    stamp = first.parents[1] / pythons.STAMP
    before = stamp.stat().st_mtime_ns
    assert ensure_python(minor) == first
    assert stamp.stat().st_mtime_ns == before
