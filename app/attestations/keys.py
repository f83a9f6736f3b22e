"""Store keys of the attestations domain: prefix 0x07. Ids are 8-byte big-endian so that prefix
scans return them in the order they were written."""

from __future__ import annotations

PREFIX = b"\x07"
LAST_ID = PREFIX + b"n"
ATTESTATION = PREFIX + b"a"
BY_VERSION = PREFIX + b"V"
BY_ORG = PREFIX + b"O"
SEP = b"\x00"
MAX_U64 = 2**64 - 1
"""The largest id or height an 8-byte key holds."""


def u64(value: int) -> bytes:
    """8-byte big-endian; callers check ``0 <= value <= MAX_U64`` first (else OverflowError)."""
    return value.to_bytes(8, "big")


def attestation_key(attestation_id: int) -> bytes:
    """Key of one attestation."""
    return ATTESTATION + u64(attestation_id)


def version_prefix(model_id: str, version: str) -> bytes:
    """Prefix of the attestations about one version."""
    return BY_VERSION + model_id.encode() + SEP + version.encode() + SEP


def org_prefix(org_id: str) -> bytes:
    """Prefix of the attestations an organisation made."""
    return BY_ORG + org_id.encode() + SEP
