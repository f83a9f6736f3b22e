"""Store keys of the usage domain: prefix 0x04. Ids and heights are 8-byte big-endian so that
prefix scans return them in order."""

from __future__ import annotations

PREFIX = b"\x04"
LAST_ID = PREFIX + b"n"
RECEIPT = PREFIX + b"r"
BY_MODEL = PREFIX + b"M"
BY_VERSION = PREFIX + b"V"
BY_CONSUMER = PREFIX + b"A"
BY_CONSUMER_ORG = PREFIX + b"C"
BY_LICENSOR = PREFIX + b"L"
BY_HEIGHT = PREFIX + b"h"
TOTALS = PREFIX + b"t"
VERSION_USE = PREFIX + b"v"
MODEL_USE = PREFIX + b"m"
VERSION_PERIOD = PREFIX + b"p"
MODEL_PERIOD = PREFIX + b"q"
DERIVED = (BY_MODEL, BY_VERSION, BY_CONSUMER, BY_CONSUMER_ORG, BY_LICENSOR, BY_HEIGHT)
"""The receipt indexes: rebuilt from the receipts alone, so stored beside them in the same
commit but left out of the Merkle tree (six fewer tree writes a use; listings carry no proof)."""
SEP = b"\x00"
MAX_U64 = 2**64 - 1
"""The largest id, height, period or counter an 8-byte key or a uint64 field holds."""


def u64(value: int) -> bytes:
    """8-byte big-endian; callers check ``0 <= value <= MAX_U64`` first (else OverflowError)."""
    return value.to_bytes(8, "big")


def receipt_key(receipt_id: int) -> bytes:
    """Key of a receipt."""
    return RECEIPT + u64(receipt_id)


def index_prefix(index: bytes, *parts: str) -> bytes:
    """Prefix of one value of a receipt index (e.g. BY_MODEL, "org/name")."""
    return index + b"".join(p.encode() + SEP for p in parts)


def height_prefix(height: int) -> bytes:
    """Prefix of the receipts written at ``height``."""
    return BY_HEIGHT + u64(height)


def totals_key(org: str) -> bytes:
    """Key of a licensor's running totals."""
    return TOTALS + org.encode()


def use_key(kind: bytes, org: str, model: str, version: str = "") -> bytes:
    """Key of an org's cumulative quantity on a version (VERSION_USE) or model (MODEL_USE)."""
    parts = [org, model, version] if version else [org, model]
    return kind + SEP.join(p.encode() for p in parts)


def period_key(kind: bytes, org: str, model: str, version: str, seconds: int, index: int) -> bytes:
    """Key of an org's quantity within period ``index`` of length ``seconds``."""
    return use_key(kind, org, model, version) + SEP + u64(seconds) + u64(index)
