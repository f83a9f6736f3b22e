"""A node's content-addressed blob store: every blob lives under its SHA-256 and is verified on
the way in, so nothing in the store can hold bytes other than its name says.

Layout under the store root::

    blobs/sha256/<hex>    a file's bytes, or a directory's manifest
    tmp/                  uploads in progress (renamed into blobs/ once verified)
    pending/<hex>         uploads not yet referenced on chain: {"model", "time"}; gc keeps them
    owners/<hex>          the organisations that uploaded the blob, one a line; the first
                          brought it in and is charged for it (upload quotas)

A manifest is parsed only when its blob is at most ``MAX_MANIFEST_BYTES``, so reading one never
takes more memory than that, whatever the blob.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from chain.weights.digest import (
    MANIFEST_HEADER,
    ManifestEntry,
    WeightsError,
    check_digest,
    parse_manifest,
)

CHUNK = 8 * 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_UPLOADERS = 64
"""Organisations remembered per blob as having uploaded its bytes (each a member org whose
publisher sent them; a consortium has far fewer members, so squatters cannot fill the list
before the holder)."""


class Readable(Protocol):
    """Anything with ``read(size) -> bytes``: a file, a socket stream, a bounded body."""

    def read(self, size: int = -1, /) -> bytes: ...


class BlobStore:
    """The blobs of one node."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.tmp = root / "tmp"
        self.pending_dir = root / "pending"
        self.owners_dir = root / "owners"
        for folder in (self.blobs, self.tmp, self.pending_dir, self.owners_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Where the blob of ``digest`` lives (whether or not it is there)."""
        return self.blobs / check_digest(digest)

    def has(self, digest: str) -> bool:
        """Whether the store holds ``digest``."""
        return self.path(digest).is_file()

    def digests(self) -> Iterator[str]:
        """Every blob held, as "sha256:<hex>"."""
        for entry in sorted(self.blobs.iterdir()):
            yield "sha256:" + entry.name

    def put(
        self,
        digest: str,
        source: Readable,
        progress: Callable[[int], None] | None = None,
    ) -> bool:
        """Stream ``source`` in, verifying it hashes to ``digest``; True if it was new, False
        if the store held it already or another upload of it ended first (a blob is linked
        into place, never replaced: only the upload that brought it in is its owner).

        Raises WeightsError (and keeps nothing) when the bytes do not match.
        """
        expected = check_digest(digest)
        if self.has(digest):
            return False
        part = self.tmp / f"{expected}.{uuid.uuid4().hex}"
        hasher = hashlib.sha256()
        try:
            with part.open("wb") as out:
                while chunk := source.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            if hasher.hexdigest() != expected:
                raise WeightsError(f"the bytes hash to sha256:{hasher.hexdigest()}, not {digest}")
            os.link(part, self.path(digest))
        except FileExistsError:
            return False
        finally:
            part.unlink(missing_ok=True)
        return True

    def put_file(self, digest: str, path: Path) -> bool:
        """Copy a local file in, verified."""
        with path.open("rb") as source:
            return self.put(digest, source)

    def size(self, digest: str) -> int | None:
        """The size of a held blob, or None."""
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def manifest(self, digest: str) -> tuple[ManifestEntry, ...] | None:
        """The entries if the blob of ``digest`` is a directory manifest, else None (also for a
        blob over MAX_MANIFEST_BYTES: no manifest of a publishable directory is that large)."""
        path = self.path(digest)
        try:
            with path.open("rb") as blob:
                head = blob.read(len(MANIFEST_HEADER))
                if head != MANIFEST_HEADER or path.stat().st_size > MAX_MANIFEST_BYTES:
                    return None
                data = head + blob.read(MAX_MANIFEST_BYTES)
        except FileNotFoundError:
            return None
        try:
            return parse_manifest(data)
        except WeightsError:
            return None

    def set_owner(self, digest: str, org: str) -> None:
        """Charge a new blob to the organisation that uploaded it."""
        (self.owners_dir / check_digest(digest)).write_text(org)

    def owner(self, digest: str) -> str | None:
        """The organisation whose upload brought the blob in (charged for it); None if the
        operator placed it."""
        found = self.uploaders(digest)
        return found[0] if found else None

    def uploaders(self, digest: str) -> list[str]:
        """The organisations that uploaded the blob's bytes, first (the one charged) first."""
        try:
            text = (self.owners_dir / check_digest(digest)).read_text()
        except FileNotFoundError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def add_uploader(self, digest: str, org: str) -> None:
        """Another organisation sent the bytes of a blob the store already holds: its copy is
        the same, so the blob counts as uploaded by it too (at most MAX_UPLOADERS, so reads ask
        a bounded number of questions); the first uploader stays the one charged."""
        found = self.uploaders(digest)
        if org not in found and len(found) < MAX_UPLOADERS:
            (self.owners_dir / check_digest(digest)).write_text("\n".join([*found, org]) + "\n")

    def owners(self) -> Iterator[tuple[str, str]]:
        """(digest, organisation) of every blob charged to an organisation."""
        for entry in self.owners_dir.iterdir():
            try:
                first = entry.read_text().split("\n", 1)[0].strip()
            except OSError:
                continue
            yield "sha256:" + entry.name, first

    def mark_pending(self, digest: str, model: str) -> None:
        """Remember an upload until a version references it (gc keeps it meanwhile)."""
        record = {"model": model, "time": int(time.time())}
        (self.pending_dir / check_digest(digest)).write_text(json.dumps(record))

    def pending(self) -> dict[str, int]:
        """Digest -> upload time of every pending upload."""
        found = {}
        for entry in self.pending_dir.iterdir():
            try:
                found["sha256:" + entry.name] = int(json.loads(entry.read_text())["time"])
            except (OSError, ValueError, KeyError):
                continue
        return found

    def clear_pending(self, digest: str) -> None:
        """Forget a pending upload (it is referenced on chain now, or abandoned)."""
        (self.pending_dir / check_digest(digest)).unlink(missing_ok=True)

    def remove(self, digest: str) -> None:
        """Delete a blob and its owner record (gc only)."""
        self.path(digest).unlink(missing_ok=True)
        (self.owners_dir / check_digest(digest)).unlink(missing_ok=True)

    def clean_tmp(self) -> None:
        """Drop uploads that never finished."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
