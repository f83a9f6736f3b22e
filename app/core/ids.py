"""Sequential record ids: one meaning of "next" for every domain.

A domain's counter key holds the last id it gave (absent: none yet), ids start at 1 and are
8-byte big-endian in keys, so a record's id is the counter plus one and the counter never
passes 2^64 - 1; past that the domain refuses with its own registered code, before a record is
written.
"""

from __future__ import annotations

from app.core.errors import ErrorCode, TxError
from app.state import Overlay, Reader

MAX_ID = 2**64 - 1


def last_id(state: Reader, counter: bytes) -> int:
    """The last id given under ``counter`` (0 when none)."""
    raw = state.get(counter)
    return 0 if raw is None else int.from_bytes(raw, "big")


def take_id(state: Overlay, counter: bytes, exhausted: ErrorCode, what: str) -> int:
    """Give the next id under ``counter`` and record it; raises TxError(exhausted) when every
    id has been given."""
    given = last_id(state, counter)
    if given >= MAX_ID:
        raise TxError(exhausted, f"every {what} id has been used")
    state.set(counter, (given + 1).to_bytes(8, "big"))
    return given + 1


def restore_last_id(state: Overlay, counter: bytes, last: int) -> None:
    """Record ``last`` as the last id given under ``counter`` (genesis); 0 writes nothing, as
    a domain that gave no id has no counter."""
    if not 0 <= last <= MAX_ID:
        raise ValueError(f"a last id of {last} is not 0 to 2^64-1")
    if last:
        state.set(counter, last.to_bytes(8, "big"))
