"""Tree math of the compressed sparse Merkle tree: hashing, node encoding, batch update, proofs.

The tree covers 256-bit paths, ``path(key) = sha256(key)``, bits read most-significant first.
A leaf sits at the shallowest depth where it is alone in its subtree, a subtree without keys is
``EMPTY`` (32 zero bytes), and internal nodes are never compressed, so the tree has one shape
per key set and its root depends only on the (key, value) pairs, not on the order they came in.

Nothing here touches storage: nodes are read through a ``load`` callable and a batch update
returns the nodes it created and the nodes it replaced, for the store to write in one batch.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

EMPTY = bytes(32)
"""Hash of an empty subtree, and the root of an empty tree."""

HASH_SIZE = 32
MAX_DEPTH = 256
LEAF_PREFIX = b"\x00"
INTERNAL_PREFIX = b"\x01"
NODE_SIZE = 1 + 2 * HASH_SIZE

Node = tuple[bool, bytes, bytes]
"""A decoded node: ``(True, key_hash, value_hash)`` for a leaf, ``(False, left, right)`` else."""

Loader = Callable[[bytes], Node]
"""Returns the stored node with the given hash; raises ``CorruptStoreError`` if it is missing."""

Update = tuple[bytes, bytes | None]
"""``(key_hash, value_hash)``, or ``(key_hash, None)`` to delete the key."""


class CorruptStoreError(Exception):
    """A node the tree references is missing or malformed: the store is damaged."""


def sha256(data: bytes) -> bytes:
    """Return the SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    """Hash of a leaf: ``sha256(0x00 || sha256(key) || sha256(value))``."""
    return sha256(LEAF_PREFIX + key_hash + value_hash)


def internal_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an internal node: ``sha256(0x01 || left || right)``; empty children are EMPTY."""
    return sha256(INTERNAL_PREFIX + left + right)


def bit(path: bytes, depth: int) -> int:
    """Bit ``depth`` of a 256-bit path, most-significant first: 0 goes left, 1 goes right."""
    return (path[depth >> 3] >> (7 - (depth & 7))) & 1


def encode_node(node: Node) -> bytes:
    """Encode a node as 65 bytes: a tag byte (0 leaf, 1 internal) and its two hashes."""
    is_leaf, first, second = node
    return (LEAF_PREFIX if is_leaf else INTERNAL_PREFIX) + first + second


def decode_node(data: bytes) -> Node:
    """Decode what ``encode_node`` wrote.

    Raises
    ------
    CorruptStoreError
        If the bytes are not a node encoding.
    """
    if len(data) != NODE_SIZE or data[0] > 1:
        raise CorruptStoreError(f"malformed tree node ({len(data)} bytes)")
    return (data[0] == 0, data[1:33], data[33:65])


def node_hash(node: Node) -> bytes:
    """Hash of a decoded node."""
    is_leaf, first, second = node
    return leaf_hash(first, second) if is_leaf else internal_hash(first, second)


def _split(items: Sequence[tuple[bytes, object]], lo: int, hi: int, depth: int) -> int:
    """Index of the first item in ``items[lo:hi]`` whose path has bit ``depth`` set.

    The items are sorted by path and share their first ``depth`` bits, so the bits at ``depth``
    run 0...0 1...1 and a binary search finds the boundary.
    """
    return bisect_left(items, 1, lo, hi, key=lambda item: bit(item[0], depth))


@dataclass(frozen=True)
class TreeDiff:
    """The outcome of a batch update, relative to the tree it was applied to."""

    root: bytes
    written: tuple[tuple[bytes, bytes], ...]
    """``(hash, encoded node)`` of every new node, sorted by hash."""
    deleted: tuple[bytes, ...]
    """Hashes of the replaced nodes the new tree no longer contains, sorted."""
    key_delta: int
    """Keys inserted minus keys deleted."""


class _Updater:
    """One batch update: rebuilds each touched path once and records created/replaced nodes."""

    def __init__(self, load: Loader) -> None:
        self._load = load
        self.created: dict[bytes, Node] = {}
        self.removed: dict[bytes, None] = {}
        self.key_delta = 0

    def node(self, h: bytes) -> Node:
        """A node of the old tree or one created by this update."""
        created = self.created.get(h)
        return created if created is not None else self._load(h)

    def update(self, h: bytes, depth: int, ups: Sequence[Update], lo: int, hi: int) -> bytes:
        """Apply ``ups[lo:hi]`` (sorted, all under this subtree) to subtree ``h`` at ``depth``."""
        if lo == hi:
            return h
        if h == EMPTY:
            puts = [(kh, vh) for kh, vh in ups[lo:hi] if vh is not None]
            self.key_delta += len(puts)
            return self.build(puts, 0, len(puts), depth)
        is_leaf, first, second = self.node(h)
        self.removed[h] = None
        if is_leaf:
            items = self._merge_leaf(first, second, ups[lo:hi])
            return self.build(items, 0, len(items), depth)
        mid = _split(ups, lo, hi, depth)
        left = self.update(first, depth + 1, ups, lo, mid)
        right = self.update(second, depth + 1, ups, mid, hi)
        return self.join(left, right)

    def _merge_leaf(
        self, kh0: bytes, vh0: bytes, ups: Sequence[Update]
    ) -> list[tuple[bytes, bytes]]:
        """The sorted key set of a one-leaf subtree after the updates; counts inserts/deletes."""
        items: list[tuple[bytes, bytes]] = []
        found = False
        for kh, vh in ups:
            if kh == kh0:
                found = True
                if vh is None:
                    self.key_delta -= 1
            elif vh is not None:
                self.key_delta += 1
            if vh is not None:
                items.append((kh, vh))
        if not found:
            items.insert(bisect_left(items, kh0, key=lambda item: item[0]), (kh0, vh0))
        return items

    def build(self, items: Sequence[tuple[bytes, bytes]], lo: int, hi: int, depth: int) -> bytes:
        """Build the canonical subtree at ``depth`` holding ``items[lo:hi]`` (sorted by path)."""
        if lo == hi:
            return EMPTY
        if hi - lo == 1:
            kh, vh = items[lo]
            return self.add((True, kh, vh))
        if depth >= MAX_DEPTH:
            raise CorruptStoreError("two distinct keys share a 256-bit path")
        mid = _split(items, lo, hi, depth)
        return self.add(
            (False, self.build(items, lo, mid, depth + 1), self.build(items, mid, hi, depth + 1))
        )

    def join(self, left: bytes, right: bytes) -> bytes:
        """The node over two rebuilt children; a lone leaf moves up in place of its parent."""
        if right == EMPTY and (left == EMPTY or self.node(left)[0]):
            return left
        if left == EMPTY and self.node(right)[0]:
            return right
        return self.add((False, left, right))

    def add(self, node: Node) -> bytes:
        """Record a node of the new tree and return its hash."""
        h = node_hash(node)
        self.created[h] = node
        return h


def apply_updates(root: bytes, updates: Iterable[Update], load: Loader) -> TreeDiff:
    """Apply a batch of updates to the tree with root ``root``; pure apart from calling ``load``.

    Each key hash may appear once. Deleting an absent key is a no-op. The work is about
    ``len(updates) * depth`` node loads and hashes: paths shared by several updates are rebuilt
    once.

    Raises
    ------
    CorruptStoreError
        If a node of the tree is missing or malformed.
    ValueError
        If a key hash appears twice or is not 32 bytes.
    """
    ups = sorted(updates, key=lambda u: u[0])
    for i, (kh, _) in enumerate(ups):
        if len(kh) != HASH_SIZE:
            raise ValueError("key hash must be 32 bytes")
        if i and ups[i - 1][0] == kh:
            raise ValueError("duplicate key hash in one batch")
    updater = _Updater(load)
    new_root = updater.update(root, 0, ups, 0, len(ups))
    created, removed = updater.created, updater.removed
    written = tuple(sorted((h, encode_node(n)) for h, n in created.items() if h not in removed))
    deleted = tuple(sorted(h for h in removed if h not in created))
    return TreeDiff(new_root, written, deleted, updater.key_delta)


def build_root(items: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Root of the tree holding ``(key_hash, value_hash)`` pairs, computed from scratch."""
    return apply_updates(EMPTY, items, _no_nodes).root


def _no_nodes(h: bytes) -> Node:
    raise CorruptStoreError(f"no stored nodes in a from-scratch build ({h.hex()})")


@dataclass(frozen=True)
class PathProof:
    """The siblings on the path to a key hash, from the root downward, and where it ends."""

    siblings: tuple[bytes, ...]
    terminal: Node | None
    """The leaf the path ends in (the key's own leaf or another), or None for an empty subtree."""


def prove_path(root: bytes, key_hash: bytes, load: Loader) -> PathProof:
    """Walk from ``root`` along ``key_hash`` until a leaf or an empty subtree.

    Raises
    ------
    CorruptStoreError
        If a node on the path is missing or malformed.
    """
    siblings: list[bytes] = []
    h = root
    depth = 0
    while h != EMPTY:
        node = load(h)
        is_leaf, first, second = node
        if is_leaf:
            return PathProof(tuple(siblings), node)
        if depth >= MAX_DEPTH:
            raise CorruptStoreError("tree deeper than 256 levels")
        if bit(key_hash, depth):
            siblings.append(first)
            h = second
        else:
            siblings.append(second)
            h = first
        depth += 1
    return PathProof(tuple(siblings), None)


def root_from_path(key_hash: bytes, terminal_hash: bytes, siblings: Sequence[bytes]) -> bytes:
    """Fold the siblings (root downward) over the terminal hash back up to a root."""
    h = terminal_hash
    for depth in range(len(siblings) - 1, -1, -1):
        sibling = siblings[depth]
        h = internal_hash(sibling, h) if bit(key_hash, depth) else internal_hash(h, sibling)
    return h


def shares_prefix(a: bytes, b: bytes, bits: int) -> bool:
    """Whether two paths agree on their first ``bits`` bits."""
    whole, rest = divmod(bits, 8)
    if a[:whole] != b[:whole]:
        return False
    return rest == 0 or (a[whole] >> (8 - rest)) == (b[whole] >> (8 - rest))
