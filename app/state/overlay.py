"""A write buffer over a readable state, nested once per block and once per transaction.

A transaction runs on an ``Overlay`` of the block's overlay; if it fails, the overlay is dropped
and nothing it wrote is seen, if it succeeds its writes are merged into the block's. The block's
writes go to the Merkle store at Commit. Deletions are recorded as ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol


class Reader(Protocol):
    """What execution needs from a state: point reads and ordered prefix scans."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]: ...


class Overlay:
    """Buffered writes over ``base``; reads see the buffer first."""

    def __init__(self, base: Reader) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` as this overlay sees it."""
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        """Buffer a write; an empty value is refused because the tree stores only non-empty."""
        if not value:
            raise ValueError(f"empty value for key {key!r}: delete the key instead")
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        """Buffer a deletion."""
        self.writes[key] = None

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Keys under ``prefix`` in ascending order, merging buffered writes into the base."""
        mine = sorted(
            k
            for k in self.writes
            if k.startswith(prefix) and (start_after is None or k > start_after)
        )
        base = self.base.iterate(prefix, start_after)
        yield from _merge(mine, self.writes, base)

    def merge_into(self, target: Overlay) -> None:
        """Hand this overlay's writes to ``target`` (a successful transaction's end)."""
        target.writes.update(self.writes)

    def pending(self) -> Mapping[bytes, bytes | None]:
        """The buffered writes, for the store to stage."""
        return self.writes


def _merge(
    mine: list[bytes], writes: dict[bytes, bytes | None], base: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes]]:
    """Merge sorted buffered keys with the base's sorted pairs; buffered writes win."""
    i = 0
    for key, value in base:
        while i < len(mine) and mine[i] < key:
            written = writes[mine[i]]
            if written is not None:
                yield mine[i], written
            i += 1
        if i < len(mine) and mine[i] == key:
            written = writes[key]
            i += 1
            if written is not None:
                yield key, written
            continue
        yield key, value
    for key in mine[i:]:
        written = writes[key]
        if written is not None:
            yield key, written
