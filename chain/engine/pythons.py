"""Interpreters of other Python minors with the app's runtime dependencies, once per machine.

Validators may run any supported CPython minor, and the state machine must give the same answer
on each (DESIGN invariant 7). The cross-Python determinism test replays blocks under every
supported minor, so it needs, for each, an interpreter with what ``app/`` imports at run time
(plyvel, coincurve, protobuf, prometheus-client) and nothing of the project itself: the child
processes import ``app`` from whichever source tree is being tested.

Each minor gets a virtual environment in a per-machine cache,
``$XDG_CACHE_HOME/modelgov/pythons/<minor>/`` (``~/.cache`` by default), never in a checkout.
The base interpreter is found under pyenv (``~/.pyenv/versions/<minor>.*``, newest patch) or on
``PATH`` as ``python<minor>``. The dependencies are pinned to the versions of the environment
that builds them when it has them (so every minor runs the same libraries), else to the ranges
of ``pyproject.toml``. A stamp file records what was installed: a second call costs one
subprocess, a changed pin reinstalls. Where no wheel exists (plyvel on a new minor), pip builds
from source; that needs LevelDB's headers and a C++ compiler, which are installed with apt-get
when this runs as root, and otherwise named in the error.

``python -m chain.engine.pythons [3.11 3.12 ...]`` builds them and prints one line per minor.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUPPORTED_MINORS = ("3.11", "3.12", "3.13")
APP_DISTRIBUTIONS = ("plyvel", "coincurve", "protobuf", "prometheus-client")
"""What ``app/`` imports beyond the standard library (a test checks the list stays complete)."""
SYSTEM_PACKAGES = ("libleveldb-dev", "g++")
"""Debian packages that building plyvel from source needs."""
STAMP = "modelgov-pythons.json"
PIP_TIMEOUT = 900


class PythonUnavailable(RuntimeError):
    """No interpreter of a minor can be had on this machine; the message says why in one line."""


def cache_root() -> Path:
    """Where this machine keeps the interpreters' environments, outside any checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelgov" / "pythons"


def _patch_key(path: Path) -> tuple[int, ...]:
    """Sort key of a pyenv version directory name such as ``3.13.0`` (pre-releases last)."""
    parts = re.findall(r"\d+", path.name)
    return tuple(int(p) for p in parts)


def find_base(minor: str) -> Path:
    """A CPython ``minor`` ("3.12"): pyenv's newest final patch, else ``python3.12`` on PATH.

    Raises PythonUnavailable when neither exists.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    exact = re.compile(rf"^{re.escape(minor)}\.\d+$")
    found = sorted((p for p in pyenv.glob(f"{minor}.*") if exact.match(p.name)), key=_patch_key)
    for candidate in reversed(found):
        binary = candidate / "bin" / f"python{minor}"
        if binary.exists():
            return binary
    on_path = shutil.which(f"python{minor}")
    if on_path:
        return Path(on_path)
    raise PythonUnavailable(f"no Python {minor} here (neither {pyenv}/{minor}.* nor python{minor})")


def requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """Pip requirement lines for APP_DISTRIBUTIONS: the version this environment has, else the
    range ``pyproject.toml`` declares."""
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    specs = {_dist_name(line): line for line in declared}
    lines = []
    for name in APP_DISTRIBUTIONS:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(specs.get(name, name))
    return lines


def _dist_name(requirement: str) -> str:
    """The normalised distribution name at the start of a requirement line."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return re.sub(r"[._-]+", "-", match.group(0)).lower() if match else requirement


def venv_python(minor: str) -> Path:
    """The interpreter of the cached environment of ``minor`` (it may not exist yet)."""
    return cache_root() / minor / "bin" / "python"


def ensure_python(minor: str, reqs: Sequence[str] | None = None) -> Path:
    """The cached environment's interpreter for ``minor``, built or repaired if needed.

    Idempotent and safe to call from several processes at once (a lock per minor). Raises
    PythonUnavailable with a one-line reason when the minor or its dependencies cannot be had.
    """
    wanted = list(requirements() if reqs is None else reqs)
    root = cache_root() / minor
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent / f"{minor}.lock"):
        if _stamp(root) == {"minor": minor, "requirements": wanted} and _runs(venv_python(minor)):
            return venv_python(minor)
        base = find_base(minor)
        if not _runs(venv_python(minor)):
            shutil.rmtree(root, ignore_errors=True)
            _run([str(base), "-m", "venv", str(root)], f"creating a venv of Python {minor}")
        _install(minor, wanted)
        (root / STAMP).write_text(json.dumps({"minor": minor, "requirements": wanted}))
    return venv_python(minor)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) for the block's duration."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stamp(root: Path) -> dict[str, object] | None:
    try:
        loaded = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _runs(python: Path) -> bool:
    """Whether ``python`` exists and starts (a pyenv version may have been removed)."""
    if not python.exists():
        return False
    try:
        subprocess.run([str(python), "-c", "pass"], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _install(minor: str, reqs: list[str]) -> None:
    """pip install ``reqs``; when a source build fails for want of LevelDB or a compiler,
    install those (root only) and try once more."""
    command = [str(venv_python(minor)), "-m", "pip", "install", "--quiet", *reqs]
    first = _pip(command)
    if first is None:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PythonUnavailable(
            f"Python {minor}: pip could not install {' '.join(reqs)} (plyvel builds from source "
            f"there: install {' '.join(SYSTEM_PACKAGES)}, or run this as root): {first}"
        )
    _install_system_packages()
    second = _pip(command)
    if second is not None:
        raise PythonUnavailable(f"Python {minor}: pip install failed: {second}")


def _pip(command: list[str]) -> str | None:
    """Run a pip command; None on success, else the last line of its error output."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _install_system_packages() -> None:
    """apt-get install what a plyvel source build needs (the caller checked we are root)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *SYSTEM_PACKAGES],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=PIP_TIMEOUT, check=False
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PythonUnavailable(f"{' '.join(command)} failed: {tail[0]}")


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PythonUnavailable(f"{what} failed: {tail[0]}")


def main(argv: Sequence[str]) -> int:
    """Build the environments of the named minors (default: all supported); 1 if any failed."""
    status = 0
    for minor in argv or SUPPORTED_MINORS:
        try:
            print(f"Python {minor}: {ensure_python(minor)}")
        except PythonUnavailable as exc:
            print(f"Python {minor}: unavailable: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
