"""The Merkle-committed state store: flat state, tree nodes and meta in one LevelDB database.

Layout of the database (one-byte prefixes)::

    b"s" + key            -> value                    flat state: fast reads and ordered scans
    b"n" + node_hash      -> 65-byte node encoding    tree nodes of the latest version only
    b"m" + b"height"      -> u64 big-endian           last committed height
    b"m" + b"root"        -> 32 bytes                 last committed root (the app hash)
    b"m" + b"keys"        -> u64 big-endian           number of keys in the flat state
    b"m" + b"nodes"       -> u64 big-endian           number of stored tree nodes

``stage`` computes a new root without writing; ``commit`` is the only writer and puts the flat
writes, the new nodes, the deletion of replaced nodes and the new meta in one synced write
batch, so a process killed at any instant reopens at its last full commit.

``view`` opens a ``CommittedView``: a LevelDB snapshot whose state, height and root belong to
one commit (they are read from the snapshot itself, and a commit is one batch). It shares no
mutable structure with the store, so queries read it on another thread while blocks commit.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import plyvel

from app.store.proof import Proof
from app.store.smt import (
    EMPTY,
    CorruptStoreError,
    Node,
    Update,
    apply_updates,
    build_root,
    decode_node,
    node_hash,
    prove_path,
    sha256,
)

EMPTY_ROOT = EMPTY
"""Root of a store holding no keys."""

STATE_PREFIX = b"s"
NODE_PREFIX = b"n"
META_PREFIX = b"m"
_META_HEIGHT = META_PREFIX + b"height"
_META_ROOT = META_PREFIX + b"root"
_META_KEYS = META_PREFIX + b"keys"
_META_NODES = META_PREFIX + b"nodes"


@dataclass(frozen=True)
class StagedCommit:
    """A computed but unwritten change of the store, valid only against ``base_root``."""

    base_root: bytes
    root: bytes
    writes: tuple[tuple[bytes, bytes | None], ...]
    """Flat writes sorted by key; None deletes."""
    new_nodes: tuple[tuple[bytes, bytes], ...]
    """``(hash, encoded node)`` to store, sorted by hash."""
    deleted_nodes: tuple[bytes, ...]
    """Hashes of replaced nodes the new tree no longer contains, sorted."""
    key_delta: int
    """Keys inserted minus keys deleted."""


class _NodeCache:
    """A bounded LRU of decoded nodes, keyed by hash (content-addressed, so never stale)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._nodes: OrderedDict[bytes, Node] = OrderedDict()

    def get(self, h: bytes) -> Node | None:
        node = self._nodes.get(h)
        if node is not None:
            self._nodes.move_to_end(h)
        return node

    def put(self, h: bytes, node: Node) -> None:
        if self.capacity <= 0:
            return
        self._nodes[h] = node
        self._nodes.move_to_end(h)
        while len(self._nodes) > self.capacity:
            self._nodes.popitem(last=False)

    def discard(self, h: bytes) -> None:
        self._nodes.pop(h, None)


VALUE_CACHE_BYTES = 32 * 1024 * 1024
"""Keys and values of committed reads the store remembers (``_ValueCache``)."""


class _ValueCache:
    """Committed values by key (None: absent), so that a block reading the same parameters,
    accounts, licenses and counters for each of its thousands of transactions asks LevelDB
    once. Bounded by the bytes it holds; when full it starts over. ``commit`` puts each
    written key's new value here after its batch is written, so a cached value is always the
    committed one (the store has one writer and is read on that thread only)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._values: dict[bytes, bytes | None] = {}

    def find(self, key: bytes) -> bytes | _Missing | None:
        return self._values.get(key, MISSING)

    def remember(self, key: bytes, value: bytes | None) -> None:
        size = _entry_size(key, value)
        if self.used + size > self.capacity:
            self._values.clear()
            self.used = 0
        old = self._values.get(key, MISSING)
        if not isinstance(old, _Missing):
            self.used -= _entry_size(key, old)
        self._values[key] = value
        self.used += size

    def committed(self, writes: tuple[tuple[bytes, bytes | None], ...]) -> None:
        """The committed values of the keys a commit wrote."""
        for key, value in writes:
            if key in self._values:
                self.remember(key, value)


ENTRY_OVERHEAD = 100
"""Bytes a cached entry costs the process beyond its key and value (the dict slot, two bytes
objects): counted so that many tiny entries (reads of absent keys) stay within the budget."""


def _entry_size(key: bytes, value: bytes | None) -> int:
    return ENTRY_OVERHEAD + len(key) + (0 if value is None else len(value))


class _Missing:
    """Not in the value cache (None means a key known to be absent)."""


MISSING = _Missing()


class MerkleStore:
    """Committed application state with a sparse-Merkle root over all of it.

    Not thread-safe: one ABCI connection drives it (stage in FinalizeBlock, commit in Commit);
    other threads read a ``view()``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        node_cache_size: int = 100_000,
        value_cache_bytes: int = VALUE_CACHE_BYTES,
    ) -> None:
        self._db: Any = plyvel.DB(os.fspath(path), create_if_missing=True)
        self._cache = _NodeCache(node_cache_size)
        self._values = _ValueCache(value_cache_bytes)
        self._height = _read_u64(self._db.get(_META_HEIGHT))
        self._root: bytes = self._db.get(_META_ROOT) or EMPTY_ROOT
        self._keys = _read_u64(self._db.get(_META_KEYS))
        self._nodes = _read_u64(self._db.get(_META_NODES))

    def close(self) -> None:
        """Close the database; the store is unusable afterwards."""
        self._db.close()

    def __enter__(self) -> MerkleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def height(self) -> int:
        """Last committed height; 0 for a new store."""
        return self._height

    @property
    def root(self) -> bytes:
        """Last committed root (the app hash); EMPTY_ROOT for a new store."""
        return self._root

    def get(self, key: bytes) -> bytes | None:
        """The committed value of ``key``, or None."""
        found = self._values.find(key)
        if not isinstance(found, _Missing):
            return found
        value: bytes | None = self._db.get(STATE_PREFIX + key)
        self._values.remember(key, value)
        return value

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Committed pairs whose key starts with ``prefix``, ascending, strictly after
        ``start_after`` when given. Reads a snapshot taken when iteration starts."""
        return _iterate(self._db, prefix, start_after)

    def view(self) -> CommittedView:
        """A consistent read-only view of the last commit, safe to read from another thread
        while this store commits; close it when done."""
        return CommittedView(self._db.snapshot())

    def stage(
        self, writes: Mapping[bytes, bytes | None], unhashed: tuple[bytes, ...] = ()
    ) -> StagedCommit:
        """Compute the change ``writes`` makes to the committed state, without writing it.

        Keys under an ``unhashed`` prefix are stored (and committed in the same batch) but kept
        out of the Merkle tree: indexes the app can rebuild from committed records, which need
        no proof and should not cost tree writes (as CometBFT keeps its tx index apart).

        Raises
        ------
        TypeError
            If a key or value is not bytes.
        ValueError
            If a value is empty (write None to delete).
        """
        flat = tuple(sorted(writes.items()))
        updates: list[Update] = []
        for key, value in flat:
            if not isinstance(key, bytes) or not isinstance(value, bytes | None):
                raise TypeError("store keys and values must be bytes")
            if value == b"":
                raise ValueError(f"empty value for key {key!r}; write None to delete")
            if unhashed and key.startswith(unhashed):
                continue
            updates.append((sha256(key), None if value is None else sha256(value)))
        diff = apply_updates(self._root, updates, self._load)
        return StagedCommit(self._root, diff.root, flat, diff.written, diff.deleted, diff.key_delta)

    def commit(self, staged: StagedCommit, height: int) -> None:
        """Write a staged change and the new (height, root) in one synced batch.

        Raises
        ------
        ValueError
            If ``staged`` was computed against another root or ``height`` does not increase.
        """
        if staged.base_root != self._root:
            raise ValueError("staged commit was computed against a stale root")
        if height <= self._height:
            raise ValueError(f"height {height} is not above the committed {self._height}")
        keys = self._keys + staged.key_delta
        nodes = self._nodes + len(staged.new_nodes) - len(staged.deleted_nodes)
        with self._db.write_batch(sync=True) as batch:
            for key, value in staged.writes:
                if value is None:
                    batch.delete(STATE_PREFIX + key)
                else:
                    batch.put(STATE_PREFIX + key, value)
            for h in staged.deleted_nodes:
                batch.delete(NODE_PREFIX + h)
            for h, encoded in staged.new_nodes:
                batch.put(NODE_PREFIX + h, encoded)
            batch.put(_META_HEIGHT, height.to_bytes(8, "big"))
            batch.put(_META_ROOT, staged.root)
            batch.put(_META_KEYS, keys.to_bytes(8, "big"))
            batch.put(_META_NODES, nodes.to_bytes(8, "big"))
        self._height, self._root, self._keys, self._nodes = height, staged.root, keys, nodes
        self._values.committed(staged.writes)
        self._refresh_cache(staged)

    def prove(self, key: bytes) -> Proof:
        """A proof of the committed value of ``key`` (or of its absence) against ``root``."""
        return _prove(self._root, key, self._load, self.get)

    def stats(self) -> dict[str, int]:
        """Cheap counters kept in meta: committed height, keys and stored tree nodes."""
        return {"height": self._height, "keys": self._keys, "nodes": self._nodes}

    def recompute_root(self, unhashed: tuple[bytes, ...] = ()) -> bytes:
        """Rebuild the root from the flat state alone (a full scan; for checks, not blocks),
        leaving out keys under the ``unhashed`` prefixes the commits left out."""
        return build_root(
            (sha256(k), sha256(v))
            for k, v in self.iterate(b"")
            if not (unhashed and k.startswith(unhashed))
        )

    def verify(self, unhashed: tuple[bytes, ...] = ()) -> dict[str, int]:
        """Check the whole store: the root matches the flat state, every node reachable from
        the root is stored and well formed, no other node is stored, the counters are right.

        Raises
        ------
        CorruptStoreError
            On the first inconsistency found.
        """
        if self.recompute_root(unhashed) != self._root:
            raise CorruptStoreError("root does not match the flat state")
        reachable = self._walk()
        stored = sum(1 for _ in self._db.iterator(prefix=NODE_PREFIX, include_value=False))
        keys = sum(
            1
            for k in self._db.iterator(prefix=STATE_PREFIX, include_value=False)
            if not (unhashed and k[len(STATE_PREFIX) :].startswith(unhashed))
        )
        if stored != reachable or stored != self._nodes or keys != self._keys:
            raise CorruptStoreError(
                f"counts differ: {stored} stored nodes, {reachable} reachable, "
                f"{self._nodes} counted; {keys} keys, {self._keys} counted"
            )
        return {"keys": keys, "nodes": stored}

    def _walk(self) -> int:
        """Number of nodes reachable from the root, loading (and so checking) each one."""
        count, stack = 0, [self._root]
        while stack:
            h = stack.pop()
            if h == EMPTY:
                continue
            node = self._load(h)
            if node_hash(node) != h:
                raise CorruptStoreError(f"node {h.hex()} does not hash to its key")
            count += 1
            if not node[0]:
                stack += (node[1], node[2])
        return count

    def _load(self, h: bytes) -> Node:
        """A committed tree node by hash, through the cache."""
        node = self._cache.get(h)
        if node is None:
            raw = self._db.get(NODE_PREFIX + h)
            if raw is None:
                raise CorruptStoreError(f"tree node {h.hex()} is missing")
            node = decode_node(raw)
            self._cache.put(h, node)
        return node

    def _refresh_cache(self, staged: StagedCommit) -> None:
        """Drop deleted nodes; keep a small commit's new nodes (the hot paths) in the cache."""
        for h in staged.deleted_nodes:
            self._cache.discard(h)
        if len(staged.new_nodes) <= self._cache.capacity // 4:
            for h, encoded in staged.new_nodes:
                self._cache.put(h, decode_node(encoded))


class CommittedView:
    """One committed version of the store, read through a LevelDB snapshot: its state, height
    and root agree whatever commits meanwhile. It loads tree nodes itself, without the store's
    cache, so it may be read on another thread than the one committing."""

    def __init__(self, snapshot: Any) -> None:
        self._snapshot = snapshot
        self.height = _read_u64(snapshot.get(_META_HEIGHT))
        self.root: bytes = snapshot.get(_META_ROOT) or EMPTY_ROOT

    def close(self) -> None:
        """Release the snapshot; the view is unusable afterwards."""
        self._snapshot.close()

    def __enter__(self) -> CommittedView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` in this commit, or None."""
        value: bytes | None = self._snapshot.get(STATE_PREFIX + key)
        return value

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """This commit's pairs under ``prefix``, ascending, strictly after ``start_after``."""
        return _iterate(self._snapshot, prefix, start_after)

    def prove(self, key: bytes) -> Proof:
        """A proof of ``key``'s value (or absence) in this commit, against ``root``."""
        return _prove(self.root, key, self._load, self.get)

    def _load(self, h: bytes) -> Node:
        raw = self._snapshot.get(NODE_PREFIX + h)
        if raw is None:
            raise CorruptStoreError(f"tree node {h.hex()} is missing")
        return decode_node(raw)


def _iterate(
    source: Any, prefix: bytes, start_after: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    """State pairs of a database or snapshot under ``prefix``, after ``start_after``."""
    start, include_start = STATE_PREFIX + prefix, True
    if start_after is not None and start_after >= prefix:
        start, include_start = STATE_PREFIX + start_after, False
    stop = _prefix_end(STATE_PREFIX + prefix)
    iterator = source.iterator(start=start, stop=stop, include_start=include_start)
    with iterator:
        for raw_key, value in iterator:
            yield raw_key[1:], value


def _prove(
    root: bytes, key: bytes, load: Callable[[bytes], Node], get: Callable[[bytes], bytes | None]
) -> Proof:
    """A membership or non-membership proof of ``key`` in the tree with ``root``."""
    path = prove_path(root, sha256(key), load)
    if path.terminal is None:
        return Proof(key, None, path.siblings, None)
    _, key_hash, value_hash = path.terminal
    if key_hash == sha256(key):
        return Proof(key, get(key), path.siblings, None)
    return Proof(key, None, path.siblings, (key_hash, value_hash))


def _read_u64(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def _prefix_end(prefix: bytes) -> bytes:
    """The smallest key above every key that starts with ``prefix`` (which must not be all
    0xff bytes; state keys start with b"s", so they never are)."""
    trimmed = prefix.rstrip(b"\xff")
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
