"""The weights digest: what a version record on chain names, and what every download is checked
against before anyone loads it.

A version's weights are a single file or a directory. Their digest is ``sha256:<hex>``, where
``<hex>`` is the lowercase SHA-256:

- of the file's bytes, for a single file;
- of the directory's *manifest*, for a directory.

Manifest format (``modelgov-manifest-v1``)
------------------------------------------
The manifest is UTF-8 text. Its first line is exactly ``modelgov-manifest-v1``. Then comes one
line per regular file under the directory, at any depth::

    <sha256 hex> <size in bytes> <relative path>

- ``<sha256 hex>`` is the file's SHA-256 as 64 lowercase hex digits;
- ``<size in bytes>`` is a decimal integer without sign or leading zeros (``0`` for an empty
  file);
- ``<relative path>`` is the path from the directory to the file with ``/`` separators, exactly
  as the file system spells the names (no Unicode normalisation). It is the rest of the line, so
  it may contain spaces. It must not be absolute, must not contain ``.`` or ``..`` components,
  empty components (``a//b``, a trailing ``/``), backslashes, NUL, ``\\n`` or ``\\r``, and must be
  valid UTF-8, at most 1024 bytes of it. No path may be a directory of another (``a`` and
  ``a/b`` together).

Lines are sorted by the UTF-8 bytes of the path, each path appears once, and every line,
including the header and the last, ends with ``\\n`` (no ``\\r``). Example, for a directory
holding ``config.json`` and ``shards/model-00001.safetensors``::

    modelgov-manifest-v1
    5f6e...9a01 512 config.json
    0c1d...77e2 1048576 shards/model-00001.safetensors

Symbolic links and special files (sockets, FIFOs, devices) inside the directory are refused, so
the digest always describes bytes that the directory really holds. Empty subdirectories
contribute nothing; a directory with no file at all is refused. The size of a directory's
weights is the sum of its files' sizes.

Nothing here imports torch; loading lives in ``chain.weights.torch_io``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MANIFEST_HEADER = b"modelgov-manifest-v1\n"
CHUNK_SIZE = 8 * 1024 * 1024
PROGRESS_THRESHOLD = 64 * 1024 * 1024
_HEX_RE = re.compile(r"[0-9a-f]{64}")
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_DIGEST_RE = re.compile(r"sha256:([0-9a-f]{64})")
_FORBIDDEN_CHARS = ("\\", "\x00", "\n", "\r")
MAX_PATH_BYTES = 1024


class WeightsError(ValueError):
    """Weights, a digest or a manifest that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a directory's weights: its relative path, size in bytes and SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Hashed:
    """The digest of some weights, their total size, and for a directory its manifest."""

    digest: str
    size: int
    manifest: bytes | None
    entries: tuple[ManifestEntry, ...]


def digest_of_bytes(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(text: str) -> str:
    """Validate a ``sha256:<64 lowercase hex>`` digest and return its hex part.

    Raises
    ------
    WeightsError
        When ``text`` is not such a digest.
    """
    match = _DIGEST_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise WeightsError(f"not a weights digest (want sha256:<64 lowercase hex>): {text!r}")
    return match.group(1)


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """Stream a file through SHA-256; its hex digest and the number of bytes read.

    ``progress`` is called with the number of bytes of each chunk as it is hashed. One buffer
    is reused for the whole file, so hashing allocates nothing per chunk.
    """
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    total = 0
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(view):
            hasher.update(view[:n])
            total += n
            if progress is not None:
                progress(n)
    return hasher.hexdigest(), total


def check_relative_path(path: str) -> str:
    """Validate a manifest path (see the module docstring) and return it.

    Raises
    ------
    WeightsError
        When the path is absolute, has ``.``/``..``/empty components or a forbidden character,
        or is not valid UTF-8.
    """
    if not path:
        raise WeightsError("a manifest path is empty")
    for char in _FORBIDDEN_CHARS:
        if char in path:
            raise WeightsError(f"a manifest path contains {char!r}: {path!r}")
    if path.startswith("/"):
        raise WeightsError(f"a manifest path is absolute: {path!r}")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise WeightsError(f"a manifest path has a {part or 'empty'!r} component: {path!r}")
    if len(_utf8(path)) > MAX_PATH_BYTES:
        raise WeightsError(f"a manifest path is over {MAX_PATH_BYTES} bytes: {path[:80]!r}...")
    return path


def build_manifest(entries: Iterable[ManifestEntry]) -> bytes:
    """The canonical manifest of ``entries``, in any order.

    Raises
    ------
    WeightsError
        When there is no entry, a path is invalid or repeated, a path is also a directory of
        another, a size is negative or a hash is not 64 lowercase hex digits.
    """
    given = list(entries)
    for entry in given:
        _check_entry(entry)
    ordered = sorted(given, key=lambda entry: _utf8(entry.path))
    lines = [MANIFEST_HEADER]
    for entry in ordered:
        lines.append(f"{entry.sha256} {entry.size} {entry.path}\n".encode())
    _check_paths_canonical([entry.path for entry in ordered])
    return b"".join(lines)


def parse_manifest(data: bytes) -> tuple[ManifestEntry, ...]:
    """The entries of a canonical manifest; anything that is not byte-for-byte canonical is refused.

    Raises
    ------
    WeightsError
        On a wrong header, a missing final newline, a malformed line, a bad hash, size or path,
        lines out of order, a duplicate, or no entry at all.
    """
    if not data.startswith(MANIFEST_HEADER):
        raise WeightsError("not a modelgov-manifest-v1 manifest (bad first line)")
    body = data[len(MANIFEST_HEADER) :]
    if body and not body.endswith(b"\n"):
        raise WeightsError("a manifest must end with a newline")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeightsError(f"a manifest is not valid UTF-8: {exc}") from exc
    entries = tuple(_parse_line(line) for line in text.split("\n")[:-1])
    _check_paths_canonical([entry.path for entry in entries])
    return entries


def list_files(root: Path) -> list[tuple[str, Path]]:
    """The regular files under a directory as ``(manifest path, file path)``, in manifest order.

    Raises
    ------
    WeightsError
        On a symbolic link, a special file, a name that cannot be a manifest path, or a
        directory without any file.
    """
    found: list[tuple[str, Path]] = []
    _walk(root, "", found)
    if not found:
        raise WeightsError(f"{root} holds no file: there are no weights to hash")
    found.sort(key=lambda item: _utf8(item[0]))
    return found


def hash_path(path: Path, progress: bool | Callable[[int], None] = False) -> Hashed:
    """Hash a weights file or directory (see the module docstring for the directory manifest).

    ``progress`` is a callback given the bytes hashed per chunk, or ``True`` for a tqdm bar on
    stderr when the input is larger than 64 MiB.

    Raises
    ------
    WeightsError
        When the path is missing or not a regular file or directory, for the directory cases
        of ``list_files``, or when a file changes size while it is hashed.
    """
    path = Path(path)
    is_dir = path.is_dir()
    if is_dir:
        files = [(rel, file, file.stat().st_size) for rel, file in list_files(path)]
    elif path.is_file():
        files = [("", path, path.stat().st_size)]
    else:
        raise WeightsError(f"{path} is not a file or a directory")
    total = sum(size for _, _, size in files)
    close, callback = _progress(progress, total, path.name)
    try:
        entries = tuple(_hash_one(rel, file, size, callback) for rel, file, size in files)
    finally:
        close()
    if not is_dir:
        return Hashed("sha256:" + entries[0].sha256, entries[0].size, None, ())
    manifest = build_manifest(entries)
    return Hashed(digest_of_bytes(manifest), total, manifest, entries)


def _hash_one(
    rel: str, file: Path, size: int, progress: Callable[[int], None] | None
) -> ManifestEntry:
    """The entry of one file, refusing a file whose size changed since it was listed."""
    hexdigest, read = sha256_file(file, progress)
    if read != size:
        raise WeightsError(f"{file} changed while it was hashed ({size} bytes, then {read})")
    return ManifestEntry(rel, read, hexdigest)


def _progress(
    progress: bool | Callable[[int], None], total: int, name: str
) -> tuple[Callable[[], None], Callable[[int], None] | None]:
    """A closer for the bar (if any) and the per-chunk callback for ``hash_path``'s argument."""
    if callable(progress):
        return _nothing, progress
    if not progress or total <= PROGRESS_THRESHOLD:
        return _nothing, None
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"hashing {name}",
        file=sys.stderr,
        leave=False,
    )

    def update(n: int) -> None:
        bar.update(n)

    return bar.close, update


def _nothing() -> None:
    """Close no progress bar."""


def _walk(directory: Path, prefix: str, found: list[tuple[str, Path]]) -> None:
    """Append the regular files under ``directory``; refuse links and special files."""
    with os.scandir(directory) as scan:
        items = list(scan)
    for item in items:
        rel = check_relative_path(prefix + item.name)
        mode = item.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            raise WeightsError(f"{rel} is a symbolic link; weights must be regular files")
        if stat.S_ISDIR(mode):
            _walk(Path(item.path), rel + "/", found)
        elif stat.S_ISREG(mode):
            found.append((rel, Path(item.path)))
        else:
            raise WeightsError(f"{rel} is a special file; weights must be regular files")


def _parse_line(line: str) -> ManifestEntry:
    """One manifest line, validated."""
    parts = line.split(" ", 2)
    if len(parts) != 3:
        raise WeightsError(f"a manifest line is not '<sha256> <size> <path>': {line!r}")
    hexdigest, size, path = parts
    if _SIZE_RE.fullmatch(size) is None:
        raise WeightsError(f"a manifest size is not a canonical decimal: {size!r}")
    entry = ManifestEntry(path, int(size), hexdigest)
    _check_entry(entry)
    return entry


def _check_entry(entry: ManifestEntry) -> None:
    """Refuse an entry with a bad hash, size or path."""
    if not isinstance(entry.sha256, str) or _HEX_RE.fullmatch(entry.sha256) is None:
        raise WeightsError(f"a manifest hash is not 64 lowercase hex digits: {entry.sha256!r}")
    if type(entry.size) is not int or entry.size < 0:
        raise WeightsError(f"a manifest size is not a non-negative integer: {entry.size!r}")
    check_relative_path(entry.path)


def _check_paths_canonical(paths: list[str]) -> None:
    """Refuse no paths, paths out of UTF-8 byte order, duplicates, and a file under a file."""
    if not paths:
        raise WeightsError("a manifest lists no file")
    keys = [_utf8(path) for path in paths]
    for before, after in itertools.pairwise(keys):
        if before >= after:
            word = "twice" if before == after else "out of order"
            raise WeightsError(f"a manifest lists {after.decode()!r} {word}")
    files = set(paths)
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in files:
                parent = "/".join(parts[:depth])
                raise WeightsError(f"a manifest lists {path!r} under the file {parent!r}")


def _utf8(path: str) -> bytes:
    """The UTF-8 bytes of a path; a name the file system gave as undecodable is refused."""
    try:
        return path.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WeightsError(f"a path is not valid UTF-8: {path!r}") from exc
