"""Membership and non-membership proofs: verification, tampering, codec."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store import EMPTY_ROOT, MerkleStore, Proof, ProofError, verify_proof
from app.store.smt import sha256


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MerkleStore]:
    rng = random.Random(5)
    with MerkleStore(tmp_path_factory.mktemp("proofs") / "db") as merkle:
        writes: dict[bytes, bytes | None] = {
            b"k%d" % i: rng.randbytes(rng.randint(1, 30)) for i in range(500)
        }
        merkle.commit(merkle.stage(writes), 1)
        yield merkle


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def test_membership_proofs(store: MerkleStore) -> None:
    for i in range(0, 500, 7):
        key = b"k%d" % i
        proof = store.prove(key)
        assert proof.value is not None
        assert proof.value == store.get(key)
        assert proof.leaf is None
        assert verify_proof(store.root, key, proof.value, proof)
        assert not verify_proof(store.root, key, None, proof)
        assert not verify_proof(store.root, key, proof.value + b"x", proof)


def test_non_membership_proofs_of_both_kinds(store: MerkleStore) -> None:
    kinds = set()
    for i in range(300):
        key = b"absent%d" % i
        proof = store.prove(key)
        assert proof.value is None
        kinds.add(proof.leaf is None)
        assert verify_proof(store.root, key, None, proof)
        assert not verify_proof(store.root, key, b"v", proof)
    assert kinds == {True, False}


def test_proofs_on_empty_and_single_leaf_trees(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as merkle:
        proof = merkle.prove(b"x")
        assert proof == Proof(b"x", None, (), None)
        assert verify_proof(EMPTY_ROOT, b"x", None, proof)
        merkle.commit(merkle.stage({b"only": b"1"}), 1)
        assert verify_proof(merkle.root, b"only", b"1", merkle.prove(b"only"))
        other = merkle.prove(b"x")
        assert other.leaf == (sha256(b"only"), sha256(b"1")) and other.siblings == ()
        assert verify_proof(merkle.root, b"x", None, other)
        assert not verify_proof(EMPTY_ROOT, b"x", None, other)


def tampered(proof: Proof) -> Iterator[Proof]:
    """Every single-field corruption of a valid proof."""
    for i, sibling in enumerate(proof.siblings):
        changed = flip(sibling) if sibling != bytes(32) else b"\x01" * 32
        yield dataclasses.replace(
            proof, siblings=(*proof.siblings[:i], changed, *proof.siblings[i + 1 :])
        )
    if proof.siblings:
        yield dataclasses.replace(proof, siblings=proof.siblings[:-1])
        yield dataclasses.replace(proof, siblings=proof.siblings[1:])
    yield dataclasses.replace(proof, siblings=(*proof.siblings, bytes(32)))
    yield dataclasses.replace(proof, siblings=(*proof.siblings, b"\x02" * 32))
    if proof.leaf is not None:
        yield dataclasses.replace(proof, leaf=(flip(proof.leaf[0], 31), proof.leaf[1]))
        yield dataclasses.replace(proof, leaf=(proof.leaf[0], flip(proof.leaf[1])))
        yield dataclasses.replace(proof, leaf=None)
    elif proof.value is None:
        yield dataclasses.replace(proof, leaf=(b"\x03" * 32, b"\x04" * 32))


def test_every_tampering_is_rejected(store: MerkleStore) -> None:
    keys = [b"k1", b"k250", b"k499"] + [b"absent%d" % i for i in range(40)]
    checked = 0
    for key in keys:
        proof = store.prove(key)
        for bad in tampered(proof):
            assert not verify_proof(store.root, key, proof.value, bad), (key, bad)
            checked += 1
        assert not verify_proof(flip(store.root), key, proof.value, proof)
        assert not verify_proof(store.root, key + b"!", proof.value, proof)
        assert not verify_proof(
            store.root, key + b"!", proof.value, dataclasses.replace(proof, key=key + b"!")
        )
    assert checked > 100


def test_non_membership_with_own_key_hash_is_rejected(store: MerkleStore) -> None:
    proof = store.prove(b"k3")
    assert proof.value is not None
    # Claim absence by presenting the key's own leaf as "another key's leaf".
    forged = Proof(b"k3", None, proof.siblings, (sha256(b"k3"), sha256(proof.value)))
    assert not verify_proof(store.root, b"k3", None, forged)


def test_too_many_siblings_rejected() -> None:
    proof = Proof(b"k", None, (b"\x05" * 32,) * 257, None)
    assert not verify_proof(EMPTY_ROOT, b"k", None, proof)
    with pytest.raises(ProofError):
        proof.encode()
    raw = bytes([0]) + (1).to_bytes(4, "big") + b"k" + (257).to_bytes(2, "big") + bytes(33)
    with pytest.raises(ProofError):
        Proof.decode(raw)


def test_malformed_proof_objects_are_rejected_not_raised() -> None:
    bad = [
        Proof(b"k", None, (b"short",), None),
        Proof(b"k", b"", (), None),
        Proof(b"k", b"v", (), (bytes(32), bytes(32))),
        Proof(b"k", None, (), (bytes(31), bytes(32))),
    ]
    for proof in bad:
        assert not verify_proof(EMPTY_ROOT, b"k", proof.value, proof)


def test_encode_decode_round_trip(store: MerkleStore) -> None:
    for key in [b"k0", b"k77", b"absent1", b"absent2", b"absent3", b""]:
        proof = store.prove(key)
        data = proof.encode()
        assert Proof.decode(data) == proof
        assert Proof.decode(data).encode() == data
        # EMPTY siblings are in the bitmap only.
        stored = sum(1 for s in proof.siblings if s != bytes(32))
        assert len(data) < 100 + len(key) + len(proof.value or b"") + 32 * stored


def test_decode_rejects_truncation_and_trailing_bytes(store: MerkleStore) -> None:
    data = store.prove(b"k10").encode()
    for cut in range(len(data)):
        with pytest.raises(ProofError):
            Proof.decode(data[:cut])
    with pytest.raises(ProofError):
        Proof.decode(data + b"\x00")


@given(st.binary(max_size=400))
def test_decode_garbage_raises_only_proof_error(data: bytes) -> None:
    try:
        proof = Proof.decode(data)
    except ProofError:
        return
    assert proof.encode() == data
    assert isinstance(verify_proof(EMPTY_ROOT, proof.key, proof.value, proof), bool)


@given(
    st.builds(
        Proof,
        key=st.binary(max_size=40),
        value=st.none() | st.binary(min_size=1, max_size=40),
        siblings=st.lists(
            st.sampled_from([bytes(32), b"\x07" * 32]) | st.binary(min_size=32, max_size=32),
            max_size=256,
        ).map(tuple),
        leaf=st.none(),
    )
)
def test_round_trip_of_arbitrary_proofs(proof: Proof) -> None:
    data = proof.encode()
    assert Proof.decode(data) == proof
    # Flipping any single byte never raises anything but ProofError.
    for i in range(0, len(data), max(1, len(data) // 16)):
        with contextlib.suppress(ProofError):
            Proof.decode(flip(data, i))
