"""A directory's files on chain: the manifest the chain rebuilds from a PublishVersion's files.

A directory's weights digest is the SHA-256 of its manifest (``chain/weights/digest.py`` has the
format): ``modelgov-manifest-v1\\n`` then ``<sha256 hex> <size> <path>\\n`` per file, sorted by
the UTF-8 bytes of the path. A version that lists its files lets the chain rebuild those exact
bytes and check that they hash to the version's digest, so the chain knows every file a store
may serve under that digest, and the holding rule (``ModelsKeeper.claim``) covers each of them.

The checks here are the digest module's rules, written again because ``app/`` never imports
``chain/``; a test compares the two on the same entries. They look at bytes and code points
only, so every Python answers the same.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

from app.core.errors import TxError
from app.core.names import DIGEST
from app.core.text import quote
from app.models import errors
from app.pb.modelgov.v1 import tx_pb2

HEADER = b"modelgov-manifest-v1\n"
MAX_FILES = 4096
MAX_PATH_BYTES = 1024
MAX_FILE_SIZE = 2**63 - 1
FORBIDDEN = ("\\", "\x00", "\n", "\r")


def check_files(files: Sequence[tx_pb2.ManifestFile], digest: str, size: int) -> None:
    """Refuse files that do not make the manifest of ``digest`` with total ``size``.

    Raises
    ------
    TxError
        bad_manifest, saying which file or which total is wrong.
    """
    if len(files) > MAX_FILES:
        raise TxError(errors.BAD_MANIFEST, f"{len(files)} files, at most {MAX_FILES}")
    encoded = [_check_file(entry) for entry in files]
    _check_order(encoded)
    _check_no_file_under_file([entry.path for entry in files])
    total = sum(entry.size for entry in files)
    if total != size:
        raise TxError(errors.BAD_MANIFEST, f"the files add up to {total} bytes, not {size}")
    rebuilt = "sha256:" + hashlib.sha256(manifest_bytes(files)).hexdigest()
    if rebuilt != digest:
        raise TxError(errors.BAD_MANIFEST, f"the listed files make {rebuilt}, not {digest}")


def manifest_bytes(files: Sequence[tx_pb2.ManifestFile]) -> bytes:
    """The canonical manifest of files already in manifest order."""
    lines = [HEADER]
    for entry in files:
        line = f"{entry.digest.removeprefix('sha256:')} {entry.size} {entry.path}\n"
        lines.append(line.encode("utf-8"))
    return b"".join(lines)


def _check_file(entry: tx_pb2.ManifestFile) -> bytes:
    """Check one file's digest, size and path; return the path's UTF-8 bytes."""
    if not DIGEST.match(entry.digest):
        raise TxError(errors.BAD_MANIFEST, f"file digest {quote(entry.digest, 80)} is not valid")
    if entry.size > MAX_FILE_SIZE:
        raise TxError(errors.BAD_MANIFEST, f"file {quote(entry.path, 80)} is over 2^63-1 bytes")
    return check_path(entry.path)


def check_path(path: str) -> bytes:
    """A manifest path: relative, '/'-separated, no '.', '..' or empty part, no backslash,
    NUL or line break, at most MAX_PATH_BYTES of UTF-8. Returns its UTF-8 bytes."""
    raw = path.encode("utf-8")
    if not raw or len(raw) > MAX_PATH_BYTES:
        raise TxError(errors.BAD_MANIFEST, f"a path is empty or over {MAX_PATH_BYTES} bytes")
    if any(char in path for char in FORBIDDEN) or path.startswith("/"):
        shown = quote(path, 80)
        raise TxError(errors.BAD_MANIFEST, f"path {shown} is absolute or has \\, NUL, CR or LF")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise TxError(errors.BAD_MANIFEST, f"path {quote(path, 80)} has an empty, . or .. part")
    return raw


def _check_order(paths: list[bytes]) -> None:
    """Paths strictly ascending by their UTF-8 bytes: sorted and each once."""
    if not paths:
        raise TxError(errors.BAD_MANIFEST, "a directory lists no file")
    for before, after in itertools.pairwise(paths):
        if before >= after:
            shown = quote(after.decode("utf-8"), 80)
            word = "twice" if before == after else "out of order"
            raise TxError(errors.BAD_MANIFEST, f"path {shown} is listed {word}")


def _check_no_file_under_file(paths: list[str]) -> None:
    """No path is a directory of another ("a" and "a/b"), in one pass over the sorted paths.

    The stack holds the listed paths that are prefixes of the current one, each a prefix of the
    next; a path under the file "a" starts with the top of the stack plus "/" (a deeper entry
    would have made the top itself a path under a file). Cost: the paths' length, once.
    """
    stack: list[str] = []
    for path in paths:
        while stack and not path.startswith(stack[-1]):
            stack.pop()
        if stack and path.startswith(stack[-1] + "/"):
            parent = quote(stack[-1], 80)
            raise TxError(errors.BAD_MANIFEST, f"{quote(path, 80)} is under the file {parent}")
        stack.append(path)
