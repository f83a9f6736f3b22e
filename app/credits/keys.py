"""Store keys of the credits domain: prefix 0x05."""

from __future__ import annotations

PREFIX = b"\x05"
BALANCE = PREFIX + b"b"


def balance_key(org_id: str) -> bytes:
    """Key of an organisation's balance."""
    return BALANCE + org_id.encode()
