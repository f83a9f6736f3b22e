"""Store keys of the market domain: prefix 0x0b, then one byte per record kind.

Ids never contain NUL (validation refuses it), so NUL separates the parts of compound keys and
keeps prefix scans exact. Lease ids are 8 bytes big-endian, so they sort.
"""

from __future__ import annotations

PREFIX = b"\x0b"
LISTING = PREFIX + b"l"
OFFER = PREFIX + b"o"
LEASE = PREFIX + b"L"
CURRENT = PREFIX + b"c"
BY_RENTER = PREFIX + b"r"
BY_VERSION = PREFIX + b"v"
LEASED_UNTIL = PREFIX + b"u"
LAST_ID = PREFIX + b"#"
SEP = b"\x00"


def u64(value: int) -> bytes:
    """An id as 8 bytes big-endian."""
    return value.to_bytes(8, "big")


def listing_key(model: str) -> bytes:
    """Key of a model's listing (at most one: a new price replaces it)."""
    return LISTING + model.encode()


def offer_prefix(model: str) -> bytes:
    """Prefix of the lease offers of a model's versions."""
    return OFFER + model.encode() + SEP


def offer_key(model: str, version: str) -> bytes:
    """Key of the lease offer of one version."""
    return offer_prefix(model) + version.encode()


def leased_until_key(model: str) -> bytes:
    """Key of the last block of the latest-ending lease of any version of a model."""
    return LEASED_UNTIL + model.encode()


def lease_key(lease_id: int) -> bytes:
    """Key of a lease record, by id."""
    return LEASE + u64(lease_id)


def current_key(model: str, version: str, org: str) -> bytes:
    """Index entry: the latest lease of a version by an organisation (its id)."""
    return CURRENT + model.encode() + SEP + version.encode() + SEP + org.encode()


def renter_prefix(org: str) -> bytes:
    """Prefix of the leases an organisation rented, by id."""
    return BY_RENTER + org.encode() + SEP


def version_prefix(model: str, version: str) -> bytes:
    """Prefix of the leases of one version, by id."""
    return BY_VERSION + model.encode() + SEP + version.encode() + SEP
