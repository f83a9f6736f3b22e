"""Chain facts kept in the state itself (prefix 0x00)."""

from __future__ import annotations

CHAIN_ID_KEY = b"\x00chain_id"
