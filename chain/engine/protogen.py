"""Generate the Python protobuf classes the application speaks, at setup, never committed.

CometBFT's ABCI ``.proto`` files come from the pinned Go module that setup downloads (with the
gogoproto options they import); modelgov's own ``.proto`` files live in ``app/proto/``. All are
staged under ``build/proto/app/pb/`` with their imports re-rooted there, so protoc emits the
package ``app.pb`` (``app.pb.tendermint.abci.types_pb2``, ``app.pb.modelgov.v1.tx_pb2``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from chain.engine.version import (
    COMETBFT_MODULE,
    COMETBFT_VERSION,
    GOGOPROTO_MODULE,
    GOGOPROTO_VERSION,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OWN_PROTOS = PROJECT_ROOT / "app" / "proto"
STAGE = PROJECT_ROOT / "build" / "proto"
OUT_PACKAGE = PROJECT_ROOT / "app" / "pb"
ROOTS = ("tendermint/abci/types.proto",)
IMPORT_RE = re.compile(r'^import\s+(?:public\s+)?"([^"]+)";', re.MULTILINE)
REROOTED = ("tendermint/", "gogoproto/", "modelgov/")


def module_dir(module: str, version: str) -> Path:
    """Download a Go module (a no-op when cached) and return its source directory."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(out.stdout)["Dir"])


def reroot(text: str) -> str:
    """Point imports of staged files at their new home under ``app/pb/``."""

    def fix(match: re.Match[str]) -> str:
        path = match.group(1)
        if path.startswith(REROOTED):
            return match.group(0).replace(f'"{path}"', f'"app/pb/{path}"')
        return match.group(0)

    return IMPORT_RE.sub(fix, text)


def closure(roots: tuple[str, ...], search: list[Path]) -> dict[str, Path]:
    """Every proto file reachable from ``roots`` by import, mapped to where it was found."""
    found: dict[str, Path] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found or name.startswith("google/protobuf/"):
            continue
        source = next((d / name for d in search if (d / name).exists()), None)
        if source is None:
            raise FileNotFoundError(f"proto {name} not found in {', '.join(map(str, search))}")
        found[name] = source
        pending.extend(IMPORT_RE.findall(source.read_text()))
    return found


def stage_sources() -> list[str]:
    """Copy the needed protos into the staging tree; returns their staged names."""
    cometbft = module_dir(COMETBFT_MODULE, COMETBFT_VERSION) / "proto"
    gogo = module_dir(GOGOPROTO_MODULE, GOGOPROTO_VERSION)
    own = sorted(str(p.relative_to(OWN_PROTOS)) for p in OWN_PROTOS.rglob("*.proto"))
    files = closure(ROOTS + tuple(own), [OWN_PROTOS, cometbft, gogo])
    shutil.rmtree(STAGE, ignore_errors=True)
    staged = []
    for name, source in sorted(files.items()):
        target = STAGE / "app" / "pb" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(reroot(source.read_text()))
        staged.append(f"app/pb/{name}")
    return staged


def generate() -> None:
    """Run protoc (grpcio-tools) with the mypy stub plugin over the staged protos."""
    from grpc_tools import protoc  # a dev/setup dependency only

    staged = stage_sources()
    include = Path(protoc.__file__).parent / "_proto"
    shutil.rmtree(OUT_PACKAGE, ignore_errors=True)
    plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    args = [
        "protoc",
        f"-I{STAGE}",
        f"-I{include}",
        f"--python_out={PROJECT_ROOT}",
        f"--plugin=protoc-gen-mypy={plugin}",
        f"--mypy_out=quiet:{PROJECT_ROOT}",
        *staged,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    for directory in [OUT_PACKAGE, *(p for p in OUT_PACKAGE.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    print(f"generated {len(staged)} proto files into {OUT_PACKAGE.relative_to(PROJECT_ROOT)}/")


if __name__ == "__main__":
    generate()
