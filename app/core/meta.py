"""Chain facts kept in the state itself (prefix 0x00)."""

from __future__ import annotations

PREFIX = b"\x00"
CHAIN_ID_KEY = PREFIX + b"chain_id"
