"""Store keys of the members domain: prefix 0x01, then one byte per record kind."""

from __future__ import annotations

PREFIX = b"\x01"
ORG = PREFIX + b"o"
ACCOUNT = PREFIX + b"a"
ORG_ACCOUNT = PREFIX + b"i"
PARAMS = PREFIX + b"p"


def org_key(org_id: str) -> bytes:
    """Key of an organisation record."""
    return ORG + org_id.encode()


def account_key(address: str) -> bytes:
    """Key of an account record, by its hex address."""
    return ACCOUNT + address.encode()


def org_account_key(org_id: str, address: str) -> bytes:
    """Index entry listing an account under its organisation."""
    return ORG_ACCOUNT + org_id.encode() + b"\x00" + address.encode()
