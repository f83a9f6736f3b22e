"""Store keys of the licenses domain: prefix 0x03."""

from __future__ import annotations

PREFIX = b"\x03"
LICENSE = PREFIX + b"l"
ATTACHMENT = PREFIX + b"a"
CURRENT = PREFIX + b"c"
USED_BY = PREFIX + b"u"
SEP = b"\x00"


def license_key(license_id: str) -> bytes:
    """Key of a deployed license."""
    return LICENSE + license_id.encode()


def attachment_prefix(model: str, version: str) -> bytes:
    """Prefix of a version's attachment history."""
    return ATTACHMENT + model.encode() + SEP + version.encode() + SEP


def attachment_key(model: str, version: str, seq: int) -> bytes:
    """Key of the ``seq``-th attachment of a version (big-endian, so history sorts)."""
    return attachment_prefix(model, version) + seq.to_bytes(4, "big")


def current_key(model: str, version: str) -> bytes:
    """Key of the attachment in force for a version."""
    return CURRENT + model.encode() + SEP + version.encode()


def used_by_key(license_id: str, ref: str) -> bytes:
    """Index entry: version ``ref`` has been governed by ``license_id``."""
    return USED_BY + license_id.encode() + SEP + ref.encode()
