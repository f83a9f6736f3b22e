"""A write buffer over a readable state, nested once per block and once per transaction.

A transaction runs on an ``Overlay`` of the block's overlay; if it fails, the overlay is dropped
and nothing it wrote is seen, if it succeeds its writes are merged into the block's. The block's
writes go to the Merkle store at Commit. Deletions are recorded as ``None``.

Besides the writes themselves an overlay keeps their keys in order (``SortedKeys``), so a scan
costs a logarithmic seek plus the keys it visits: a block whose transactions all scan must not
cost the square of the block's writes. Keys are put in order only when a scan needs them: a
block whose transactions never scan (a block of uses) never pays for ordering its writes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Mapping
from itertools import takewhile
from typing import Protocol


class Reader(Protocol):
    """What execution needs from a state: point reads and ordered prefix scans."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]: ...


CHUNK = 512
"""Keys per chunk of a ``SortedKeys`` after a split; a chunk splits when it reaches twice that."""


HEAD = 2
"""Bytes of a key that name its domain and kind of record (``app/*/keys.py``: a domain's prefix
byte, then the record's): what an overlay remembers of every key it holds."""


class SortedKeys:
    """A growing set of distinct keys kept in order, in chunks: adding a key costs a seek and a
    copy of one chunk and of the chunk list (a few hundred pointers), scanning from a key costs
    a seek plus the keys scanned.

    A chunk is never changed in place once written, and the chunk list is copied before a change
    while a scan may still hold it, so a scan sees the keys there were when it started, exactly,
    whatever is added meanwhile.
    """

    def __init__(self) -> None:
        self._chunks: list[list[bytes]] = []
        self._maxes: list[bytes] = []  # the last key of each chunk
        self._shared = False  # whether a scan may hold the current lists

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._chunks)

    def add(self, key: bytes) -> None:
        """Insert a key that is not in the set yet."""
        if self._shared:
            self._chunks, self._maxes, self._shared = self._chunks[:], self._maxes[:], False
        if not self._chunks:
            self._chunks.append([key])
            self._maxes.append(key)
            return
        i = min(bisect_left(self._maxes, key), len(self._maxes) - 1)
        chunk = self._chunks[i][:]
        insort(chunk, key)
        if len(chunk) < 2 * CHUNK:
            self._chunks[i], self._maxes[i] = chunk, chunk[-1]
        else:
            self._chunks[i : i + 1] = [chunk[:CHUNK], chunk[CHUNK:]]
            self._maxes[i : i + 1] = [chunk[CHUNK - 1], chunk[-1]]

    def update(self, keys: list[bytes]) -> None:
        """Insert keys none of which is in the set yet. Many at once are sorted together and
        the chunks rebuilt (a block's thousands of writes, ordered for its first scan, cost one
        sort instead of an insertion each)."""
        if len(keys) < CHUNK:
            for key in keys:
                self.add(key)
            return
        merged = [key for chunk in self._chunks for key in chunk]
        merged.extend(keys)
        merged.sort()
        chunks = [merged[i : i + CHUNK] for i in range(0, len(merged), CHUNK)]
        self._chunks, self._maxes = chunks, [chunk[-1] for chunk in chunks]
        self._shared = False  # new lists: a scan still holding the old ones keeps them

    def scan(self, first: bytes, inclusive: bool) -> Iterator[bytes]:
        """The keys from ``first`` on (or strictly after it), ascending, as they were when the
        scan started (at its first ``next``)."""
        chunks, maxes = self._chunks, self._maxes
        self._shared = True
        seek = bisect_left if inclusive else bisect_right
        i = seek(maxes, first)
        if i == len(chunks):
            return
        chunk = chunks[i]
        for j in range(seek(chunk, first), len(chunk)):
            yield chunk[j]
        for later in range(i + 1, len(chunks)):
            yield from chunks[later]


class Overlay:
    """Buffered writes over ``base``; reads see the buffer first."""

    def __init__(self, base: Reader) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = {}
        self._keys = SortedKeys()
        self._unordered: list[bytes] = []  # written keys not yet in _keys (no scan since)
        self._heads: set[bytes] = set()  # the first HEAD bytes of every written key

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` as this overlay sees it."""
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        """Buffer a write; an empty value is refused because the tree stores only non-empty."""
        if not value:
            raise ValueError(f"empty value for key {key!r}: delete the key instead")
        self._record(key, value)

    def delete(self, key: bytes) -> None:
        """Buffer a deletion."""
        self._record(key, None)

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Keys under ``prefix`` in ascending order, merging buffered writes into the base.
        Where no buffered key can be under ``prefix`` (none shares its first HEAD bytes: its
        domain and kind of record), the base's scan is the answer and nothing is ordered."""
        if len(prefix) >= HEAD and prefix[:HEAD] not in self._heads:
            yield from self.base.iterate(prefix, start_after)
            return
        self._order()
        if start_after is None or start_after < prefix:
            mine = self._keys.scan(prefix, inclusive=True)
        else:
            mine = self._keys.scan(start_after, inclusive=False)
        base = self.base.iterate(prefix, start_after)
        yield from _merge(takewhile(lambda k: k.startswith(prefix), mine), self.writes, base)

    def merge_into(self, target: Overlay) -> None:
        """Hand this overlay's writes to ``target`` (a successful transaction's end)."""
        for key, value in self.writes.items():
            target._record(key, value)

    def pending(self) -> Mapping[bytes, bytes | None]:
        """The buffered writes, for the store to stage."""
        return self.writes

    def _record(self, key: bytes, value: bytes | None) -> None:
        if key not in self.writes:
            self._unordered.append(key)
            self._heads.add(key[:HEAD])
        self.writes[key] = value

    def _order(self) -> None:
        """Put the keys written since the last scan in order (as a scan starts: it sees the
        keys written before its first step, exactly, as it did when every write was ordered)."""
        if self._unordered:
            self._keys.update(self._unordered)
            self._unordered = []


def _merge(
    mine: Iterator[bytes], writes: dict[bytes, bytes | None], base: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes]]:
    """Merge ascending buffered keys with the base's ascending pairs; buffered writes win (a
    buffered None hides the base's pair)."""
    pending = next(mine, None)
    for key, value in base:
        while pending is not None and pending < key:
            written = writes[pending]
            if written is not None:
                yield pending, written
            pending = next(mine, None)
        if pending == key:
            written = writes[key]
            pending = next(mine, None)
            if written is not None:
                yield key, written
            continue
        yield key, value
    while pending is not None:
        written = writes[pending]
        if written is not None:
            yield pending, written
        pending = next(mine, None)
