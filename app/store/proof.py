"""Membership and non-membership proofs against a store root, their codec and their check.

Encoding of a proof (all integers big-endian, nothing optional is implicit)::

    flags        u8     bit 0: value present (membership), bit 1: terminal leaf present
    key_len      u32    then the key bytes
    value_len    u32    then the value bytes            (only if flag bit 0)
    leaf         64 B   key_hash || value_hash           (only if flag bit 1)
    depth        u16    number of siblings, 0..256
    bitmap       ceil(depth / 8) bytes; bit i (MSB first) set = sibling i is not EMPTY
    siblings     32 B each, for the set bits only, root downward

The encoding is canonical: ``decode`` refuses anything ``encode`` would not have written
(unused flag or bitmap bits, a stored sibling equal to EMPTY, trailing bytes), so
``encode(decode(b)) == b`` for every accepted ``b``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store.smt import (
    EMPTY,
    HASH_SIZE,
    MAX_DEPTH,
    leaf_hash,
    root_from_path,
    sha256,
    shares_prefix,
)

_FLAG_VALUE = 1
_FLAG_LEAF = 2
_MAX_FIELD = 0xFFFFFFFF


class ProofError(ValueError):
    """A proof's bytes are malformed or not canonical."""


@dataclass(frozen=True)
class Proof:
    """Evidence that ``key`` maps to ``value`` (or, with ``value`` None, is absent) under a root.

    ``siblings`` are the sibling hashes along ``sha256(key)`` from the root downward: entry ``i``
    is the sibling at depth ``i + 1``. ``leaf`` is set only for a non-membership proof whose path
    ends in another key's leaf: ``(its key_hash, its value_hash)``; it is None when the path ends
    in an empty subtree or for a membership proof.
    """

    key: bytes
    value: bytes | None
    siblings: tuple[bytes, ...]
    leaf: tuple[bytes, bytes] | None

    def encode(self) -> bytes:
        """Compact deterministic encoding (see the module docstring).

        Raises
        ------
        ProofError
            If the proof cannot be encoded (oversized fields, wrong hash sizes).
        """
        _check_shape(self)
        flags = (_FLAG_VALUE if self.value is not None else 0) | (
            _FLAG_LEAF if self.leaf is not None else 0
        )
        out = bytearray([flags])
        out += len(self.key).to_bytes(4, "big") + self.key
        if self.value is not None:
            out += len(self.value).to_bytes(4, "big") + self.value
        if self.leaf is not None:
            out += self.leaf[0] + self.leaf[1]
        depth = len(self.siblings)
        bitmap = 0
        for sibling in self.siblings:
            bitmap = (bitmap << 1) | (sibling != EMPTY)
        nbytes = (depth + 7) // 8
        out += depth.to_bytes(2, "big") + (bitmap << (nbytes * 8 - depth)).to_bytes(nbytes, "big")
        for sibling in self.siblings:
            if sibling != EMPTY:
                out += sibling
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Proof:
        """Decode what ``encode`` wrote.

        Raises
        ------
        ProofError
            On any malformed, truncated, oversized or non-canonical input.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProofError("proof must be bytes")
        reader = _Reader(bytes(data))
        flags = reader.take(1)[0]
        if flags & ~(_FLAG_VALUE | _FLAG_LEAF) or flags == _FLAG_VALUE | _FLAG_LEAF:
            raise ProofError(f"invalid proof flags {flags:#x}")
        key = reader.take(reader.u32())
        value = reader.take(reader.u32()) if flags & _FLAG_VALUE else None
        if value == b"":
            raise ProofError("empty value in a membership proof")
        leaf = None
        if flags & _FLAG_LEAF:
            leaf = (reader.take(HASH_SIZE), reader.take(HASH_SIZE))
        siblings = _decode_siblings(reader)
        reader.finish()
        return cls(key, value, siblings, leaf)


def _decode_siblings(reader: _Reader) -> tuple[bytes, ...]:
    """Read depth, bitmap and the non-empty siblings."""
    depth = int.from_bytes(reader.take(2), "big")
    if depth > MAX_DEPTH:
        raise ProofError(f"proof has {depth} siblings, more than {MAX_DEPTH}")
    nbytes = (depth + 7) // 8
    bitmap = int.from_bytes(reader.take(nbytes), "big")
    padding = nbytes * 8 - depth
    if bitmap & ((1 << padding) - 1):
        raise ProofError("unused bitmap bits are set")
    bitmap >>= padding
    siblings = []
    for i in range(depth):
        if (bitmap >> (depth - 1 - i)) & 1:
            sibling = reader.take(HASH_SIZE)
            if sibling == EMPTY:
                raise ProofError("EMPTY sibling stored explicitly")
            siblings.append(sibling)
        else:
            siblings.append(EMPTY)
    return tuple(siblings)


class _Reader:
    """Bounds-checked cursor over the proof bytes; every shortfall is a ProofError."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n > len(self._data) - self._pos:
            raise ProofError("proof is truncated")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def finish(self) -> None:
        if self._pos != len(self._data):
            raise ProofError("trailing bytes after the proof")


def _check_shape(proof: Proof) -> None:
    """Raise ProofError unless the fields have the types and sizes a proof can carry."""
    if not isinstance(proof.key, bytes) or len(proof.key) > _MAX_FIELD:
        raise ProofError("key must be bytes")
    if proof.value is not None and (
        not isinstance(proof.value, bytes) or not proof.value or len(proof.value) > _MAX_FIELD
    ):
        raise ProofError("value must be non-empty bytes or None")
    if proof.leaf is not None and (
        proof.value is not None
        or len(proof.leaf) != 2
        or not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in proof.leaf)
    ):
        raise ProofError("leaf must be two 32-byte hashes, and only in a non-membership proof")
    if len(proof.siblings) > MAX_DEPTH or not all(
        isinstance(s, bytes) and len(s) == HASH_SIZE for s in proof.siblings
    ):
        raise ProofError("siblings must be at most 256 hashes of 32 bytes")


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: Proof) -> bool:
    """True iff ``proof`` shows that under ``root`` the key maps to ``value`` (None: absent).

    Beyond folding the siblings up to ``root``, the check refuses proofs an honest tree cannot
    produce: a terminal leaf for a different key that is not on the key's path or that has the
    key's own hash, and a terminal below the root whose last sibling is EMPTY (that subtree would
    have been collapsed into its parent).
    """
    try:
        _check_shape(proof)
    except ProofError:
        return False
    if proof.key != key or proof.value != value:
        return False
    key_hash = sha256(key)
    depth = len(proof.siblings)
    if value is not None:
        terminal = leaf_hash(key_hash, sha256(value))
    elif proof.leaf is not None:
        other_key_hash, other_value_hash = proof.leaf
        if other_key_hash == key_hash or not shares_prefix(other_key_hash, key_hash, depth):
            return False
        terminal = leaf_hash(other_key_hash, other_value_hash)
    else:
        terminal = EMPTY
    if depth and proof.siblings[-1] == EMPTY:
        return False
    return root_from_path(key_hash, terminal, proof.siblings) == root
