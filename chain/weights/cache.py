"""The local weights cache: downloads kept by digest, so the same weights are fetched once.

``<cache>/sha256/<hex>/`` holds a pulled version's file (or a directory's files) and
``<cache>/sha256/<hex>.json`` the path inside it, written only after the download verified. A
cache hit is hashed again before it is handed out, and a copy that no longer matches its digest
is removed and downloaded again. The cache is ``$MODELGOV_CACHE``, else
``$XDG_CACHE_HOME/modelgov``, else ``~/.cache/modelgov``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from app.pb.modelgov.v1 import state_pb2
from chain.client import Node
from chain.keys import Key
from chain.weights.client import pull
from chain.weights.digest import WeightsError, check_digest, hash_path


def default_cache() -> Path:
    """``$MODELGOV_CACHE``, else ``$XDG_CACHE_HOME/modelgov``, else ``~/.cache/modelgov``."""
    if os.environ.get("MODELGOV_CACHE"):
        return Path(os.environ["MODELGOV_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelgov"


def _entry(cache: Path, digest: str) -> tuple[Path, Path]:
    hexed = check_digest(digest)
    return cache / "sha256" / hexed, cache / "sha256" / f"{hexed}.json"


def cached(cache: Path, digest: str) -> Path | None:
    """The cached weights of ``digest``, verified again now; None when absent or damaged (a
    damaged copy is removed)."""
    folder, index = _entry(cache, digest)
    if not index.exists():
        return None
    try:
        path = folder / str(json.loads(index.read_text())["path"])
        inside = path.resolve().is_relative_to(folder.resolve())
        intact = inside and hash_path(path).digest == digest
    except (OSError, ValueError, KeyError, TypeError, WeightsError):
        intact = False
    if not intact:
        index.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return path


def download(
    node: Node,
    key: Key,
    cache: Path,
    version: state_pb2.Version,
    progress: Callable[[int], None] | None = None,
) -> tuple[Path, str]:
    """Pull ``version`` into the cache (resuming a partial download); its path and the store
    that served it. Raises TransferError, or WeightsError when the whole does not hash to the
    version's digest."""
    folder, index = _entry(cache, version.weights_digest)
    partial = folder.with_name(folder.name + ".partial")
    report = pull(node, key, f"{version.model}@{version.version}", partial, progress)
    if hash_path(report.path).digest != version.weights_digest:
        shutil.rmtree(partial, ignore_errors=True)
        raise WeightsError(
            f"{version.model}@{version.version}: the downloaded weights do not hash to "
            f"{version.weights_digest}; discarded"
        )
    shutil.rmtree(folder, ignore_errors=True)
    partial.replace(folder)
    relative = report.path.relative_to(partial)
    ref = f"{version.model}@{version.version}"
    index.write_text(json.dumps({"path": str(relative), "ref": ref}) + "\n")
    return folder / relative, report.provider


def copy_out(source: Path, to: Path) -> Path:
    """Place a copy of cached weights in ``to`` (a directory's files into it, a file under
    its name); the copy's path."""
    to.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, to, dirs_exist_ok=True)
        return to
    target = to / source.name
    shutil.copy2(source, target)
    return target
