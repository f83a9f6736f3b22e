"""Store keys of the federated domain: prefix 0x08. Ids and heights are 8-byte big-endian so that
prefix scans return them in order; model ids and versions never contain NUL."""

from __future__ import annotations

PREFIX = b"\x08"
LAST_ID = PREFIX + b"n"
ROUND = PREFIX + b"r"
DEADLINE = PREFIX + b"d"
TARGET = PREFIX + b"t"
CONTRIBUTORS = PREFIX + b"c"
OPENED_BY = PREFIX + b"o"
SEP = b"\x00"
MAX_U64 = 2**64 - 1
"""The largest id or height an 8-byte key holds."""


def u64(value: int) -> bytes:
    """8-byte big-endian; callers check ``0 <= value <= MAX_U64`` first (else OverflowError)."""
    return value.to_bytes(8, "big")


def round_key(round_id: int) -> bytes:
    """Key of a round."""
    return ROUND + u64(round_id)


def deadline_key(deadline_height: int, round_id: int) -> bytes:
    """Index entry of an open round, ordered by deadline: what the end of a block scans."""
    return DEADLINE + u64(deadline_height) + u64(round_id)


def target_key(model_id: str, version: str) -> bytes:
    """Index entry: an open round will publish ``model_id@version``."""
    return TARGET + model_id.encode() + SEP + version.encode()


def contributors_key(model_id: str, version: str) -> bytes:
    """Key of the contributors of an aggregate version."""
    return CONTRIBUTORS + model_id.encode() + SEP + version.encode()


def opened_by_prefix(org: str) -> bytes:
    """Prefix of the index of an organisation's open rounds."""
    return OPENED_BY + org.encode() + SEP


def opened_by_key(org: str, round_id: int) -> bytes:
    """Index entry: ``org`` opened round ``round_id``, still open (bounds what one org opens)."""
    return opened_by_prefix(org) + u64(round_id)
