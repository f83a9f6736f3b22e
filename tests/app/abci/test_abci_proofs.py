"""Proofs through ABCI Query: each proven answer verifies against the committed app hash."""

from __future__ import annotations

import pytest
from driver import Driver, publish, register

from app.abci.modelgov_app import PROOF_OP_TYPE
from app.core.meta import CHAIN_ID_KEY
from app.pb.tendermint.abci import types_pb2 as abci
from app.store import Proof, verify_proof


@pytest.fixture
def published(chain: Driver) -> Driver:
    chain.ok("uni-pub", register("uni", "m"), publish("uni/m", "1.0"))
    return chain


def _proof(response: abci.ResponseQuery) -> Proof:
    assert response.code == 0, response.log
    (op,) = response.proof_ops.ops
    assert op.type == PROOF_OP_TYPE == "modelgov/smt"
    assert op.key == response.key
    return Proof.decode(op.data)


def test_version_proof_verifies_against_app_hash(published: Driver) -> None:
    app_hash = published.app_hashes[-1]
    response = published.query("/models/version", {"model": "uni/m", "version": "1.0"}, prove=True)
    proof = _proof(response)
    assert response.key == b"\x02vuni/m\x001.0"
    assert proof.value == response.value
    assert verify_proof(app_hash, response.key, response.value, proof)
    assert verify_proof(published.info().last_block_app_hash, response.key, response.value, proof)
    assert not verify_proof(app_hash, response.key, response.value + b"x", proof)
    assert not verify_proof(app_hash, response.key, None, proof)
    assert not verify_proof(published.genesis_app_hash, response.key, response.value, proof)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/models/model", {"id": "uni/m"}),
        ("/members/org", {"id": "uni"}),
        ("/members/params", {}),
    ],
)
def test_record_proofs(published: Driver, path: str, params: dict[str, str]) -> None:
    response = published.query(path, params, prove=True)
    assert verify_proof(published.store.root, response.key, response.value, _proof(response))


def test_account_proof_follows_nonce(published: Driver) -> None:
    address = published["uni-pub"].address
    response = published.query("/members/account", {"address": address}, prove=True)
    proof = _proof(response)
    root = published.store.root
    assert verify_proof(root, response.key, response.value, proof)
    published.ok("uni-pub", register("uni", "other"))
    assert published.store.root != root
    assert not verify_proof(published.store.root, response.key, response.value, proof)
    newer = published.query("/members/account", {"address": address}, prove=True)
    assert verify_proof(published.store.root, newer.key, newer.value, _proof(newer))


def test_store_membership(published: Driver) -> None:
    response = published.query("/store", data=CHAIN_ID_KEY, prove=True)
    assert response.value == b"modelgov-test"
    assert response.key == CHAIN_ID_KEY
    proof = _proof(response)
    assert verify_proof(published.store.root, CHAIN_ID_KEY, b"modelgov-test", proof)


@pytest.mark.parametrize("key", [b"\x02mnobody/none", b"\x7f", b"\x02vuni/m\x001.1"])
def test_store_non_membership(published: Driver, key: bytes) -> None:
    response = published.query("/store", data=key, prove=True)
    assert (response.code, response.value, response.key) == (0, b"", key)
    proof = _proof(response)
    assert proof.value is None
    assert verify_proof(published.store.root, key, None, proof)
    assert not verify_proof(published.store.root, key, b"something", proof)


def test_no_proof_unless_asked_or_for_pages(published: Driver) -> None:
    plain = published.query("/models/version", {"model": "uni/m", "version": "1.0"})
    assert plain.code == 0 and not plain.proof_ops.ops
    page = published.query("/models/versions", {"model": "uni/m"}, prove=True)
    assert page.code == 0 and page.key == b"" and not page.proof_ops.ops
    missing = published.query("/models/model", {"id": "uni/none"}, prove=True)
    assert missing.code != 0 and not missing.proof_ops.ops


def test_receipt_indexes_are_stored_but_not_proven(published: Driver) -> None:
    """The receipt indexes live outside the Merkle tree (machine.UNHASHED): a /store read answers
    their value, a proof is refused rather than given as a false proof of absence."""
    from app import machine
    from app.usage import keys as usage_keys

    key = usage_keys.index_prefix(usage_keys.BY_MODEL, "uni/m") + usage_keys.u64(1)
    assert key.startswith(machine.UNHASHED)
    assert published.store.stage({key: b"\x01"}, machine.UNHASHED).root == published.store.root
    plain = published.query("/store", data=key)
    assert plain.code == 0 and not plain.proof_ops.ops
    proven = published.query("/store", data=key, prove=True)
    assert proven.code != 0 and "no proof" in proven.log and not proven.proof_ops.ops
