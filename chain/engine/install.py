"""Install the pinned CometBFT once per machine and find it for every command that needs it.

The binary is built from its Go module into a per-machine cache
(``$XDG_CACHE_HOME/modelgov/cometbft/<version>/``) and linked into the project's ``.bin/``, so a
fresh clone on a machine that built it before costs nothing and the repository never holds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from chain.engine.version import COMETBFT_MODULE, COMETBFT_VERSION

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_BIN = PROJECT_ROOT / ".bin"
SETUP_HINT = "run `make setup` in the modelgov checkout (it builds the pinned CometBFT)"


class EngineError(RuntimeError):
    """The engine binary is missing, the wrong version, or could not be built."""


def cache_dir(tool: str = "cometbft") -> Path:
    """Where this machine keeps a tool built from the pinned module, outside any checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelgov" / tool / COMETBFT_VERSION


def binary_version(binary: Path) -> str:
    """Ask a cometbft binary for its version ("0.38.26"); raises EngineError if it cannot answer."""
    try:
        out = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineError(f"{binary} does not run ({exc}); {SETUP_HINT}") from exc
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def find_cometbft() -> Path:
    """The project's engine at the pinned version; raises EngineError saying what to run."""
    override = os.environ.get("MODELGOV_COMETBFT")
    binary = Path(override) if override else PROJECT_BIN / "cometbft"
    if not binary.exists():
        raise EngineError(f"CometBFT {COMETBFT_VERSION} is not installed at {binary}; {SETUP_HINT}")
    found = binary_version(binary)
    if "v" + found != COMETBFT_VERSION:
        raise EngineError(
            f"{binary} is CometBFT {found or 'of unknown version'}, modelgov needs "
            f"{COMETBFT_VERSION}; {SETUP_HINT}"
        )
    return binary


def install_cometbft() -> Path:
    """Build the pinned engine into the machine cache if absent and link it into ``.bin/``."""
    cached = cache_dir() / "cometbft"
    if not (cached.exists() and "v" + binary_version(cached) == COMETBFT_VERSION):
        go = shutil.which("go")
        if go is None:
            raise EngineError("Go is not installed; install Go >= 1.22 and run `make setup` again")
        cached.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOBIN=str(cached.parent), GOFLAGS="-buildvcs=false")
        print(f"building CometBFT {COMETBFT_VERSION} into {cached.parent} (once per machine)")
        target = f"{COMETBFT_MODULE}/cmd/cometbft@{COMETBFT_VERSION}"
        subprocess.run([go, "install", target], env=env, check=True, cwd=cached.parent)
    PROJECT_BIN.mkdir(exist_ok=True)
    link = PROJECT_BIN / "cometbft"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(cached)
    return find_cometbft()


ABCI_CLI_PACKAGE = "abci/cmd/abci-cli"
BUILT_FROM = "built-from"
"""A file beside a built tool naming the module path and version it was built from (``abci-cli
version`` prints the ABCI protocol's version, not the module's)."""


def install_abci_cli() -> Path:
    """CometBFT's ``abci-cli`` at the pinned module version, built into the machine cache once
    (the throughput benchmark runs its ``kvstore`` as a separate ABCI process); its path."""
    folder = cache_dir("abci-cli")
    binary = folder / "abci-cli"
    target = f"{COMETBFT_MODULE}/{ABCI_CLI_PACKAGE}@{COMETBFT_VERSION}"
    marker = folder / BUILT_FROM
    if binary.exists() and marker.exists() and marker.read_text().strip() == target:
        return binary
    go = shutil.which("go")
    if go is None:
        raise EngineError("Go is not installed; install Go >= 1.22 to build abci-cli")
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(folder), GOFLAGS="-buildvcs=false")
    print(f"building abci-cli {COMETBFT_VERSION} into {folder} (once per machine)")
    try:
        subprocess.run([go, "install", target], env=env, check=True, cwd=folder)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EngineError(f"building {target} failed: {exc}") from exc
    marker.write_text(target + "\n")
    return binary


if __name__ == "__main__":
    print(f"CometBFT {COMETBFT_VERSION} ready at {install_cometbft()}")
