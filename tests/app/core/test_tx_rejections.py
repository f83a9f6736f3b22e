"""Every transaction-level rejection has its own stable (codespace, code), in CheckTx and in
FinalizeBlock alike (a proposer may include txs our mempool never saw), and changes no state."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from driver import Driver, app_state, make_account, publish, register, timestamp

from app.core import crypto, errors
from app.core.errors import ErrorCode
from app.core.gas import base_gas
from app.models import errors as model_errors
from app.models.validation import publish_gas
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci


def _high_s(raw: bytes) -> bytes:
    envelope = tx_pb2.Tx.FromString(raw)
    s = int.from_bytes(envelope.signature[32:], "big")
    high = envelope.signature[:32] + (crypto.SECP256K1_ORDER - s).to_bytes(32, "big")
    return tx_pb2.Tx(body=envelope.body, signature=high).SerializeToString()


def _signed(body: tx_pb2.TxBody, key: bytes) -> bytes:
    body_bytes = body.SerializeToString()
    return tx_pb2.Tx(body=body_bytes, signature=crypto.sign(key, body_bytes)).SerializeToString()


def _undecodable(d: Driver) -> bytes:
    return b"\xff\xfe not a protobuf"


def _non_canonical(d: Driver) -> bytes:
    # The same fields, the signature written before the body: decodes, but is not canonical.
    envelope = tx_pb2.Tx.FromString(d.sign("uni-pub", [register("uni", "m")], nonce=0))
    sig = tx_pb2.Tx(signature=envelope.signature).SerializeToString()
    return sig + tx_pb2.Tx(body=envelope.body).SerializeToString()


def _oversize(d: Driver) -> bytes:
    return d.sign("uni-pub", [register("uni", "m", "x" * 70_000)], nonce=0)


def _bad_signature(d: Driver) -> bytes:
    body = tx_pb2.TxBody(
        chain_id=d.chain_id, sender=d["uni-pub"].pubkey, nonce=0, messages=[register("uni", "m")]
    )
    return _signed(body, d["acme-pub"].private_key)


def _short_signature(d: Driver) -> bytes:
    envelope = tx_pb2.Tx.FromString(d.sign("uni-pub", [register("uni", "m")], nonce=0))
    return tx_pb2.Tx(body=envelope.body, signature=envelope.signature[:63]).SerializeToString()


def _high_s_signature(d: Driver) -> bytes:
    return _high_s(d.sign("uni-pub", [register("uni", "m")], nonce=0))


def _wrong_chain(d: Driver) -> bytes:
    return d.sign("uni-pub", [register("uni", "m")], nonce=0, chain_id="other-chain")


def _replayed_nonce(d: Driver) -> bytes:
    d.ok("uni-pub", register("uni", "first"))
    return d.sign("uni-pub", [register("uni", "m")], nonce=0)


def _nonce_gap(d: Driver) -> bytes:
    return d.sign("uni-pub", [register("uni", "m")], nonce=1)


def _unknown_sender(d: Driver) -> bytes:
    return d.sign(make_account("stranger", "uni", "publisher"), [register("uni", "m")], nonce=0)


def _missing_role(d: Driver) -> bytes:
    return d.sign("acme-user", [register("acme", "m")], nonce=0)


def _missing_role_second_msg(d: Driver) -> bytes:
    # A publisher without admin may register but not transfer: one bad message refuses all.
    transfer = tx_pb2.Msg(transfer_model=tx_pb2.TransferModel(model="uni/m", new_owner_org="acme"))
    return d.sign("uni-pub", [register("uni", "m"), transfer], nonce=0)


def _no_messages(d: Driver) -> bytes:
    return d.sign("uni-pub", [], nonce=0)


def _too_many_messages(d: Driver) -> bytes:
    return d.sign("uni-pub", [register("uni", f"m{i}") for i in range(17)], nonce=0)


def _bad_pubkey(d: Driver) -> bytes:
    body = tx_pb2.TxBody(
        chain_id=d.chain_id, sender=b"\x02" + bytes(32), nonce=0, messages=[register("uni", "m")]
    )
    return _signed(body, d["uni-pub"].private_key)


def _uncompressed_pubkey(d: Driver) -> bytes:
    import ecdsa

    key = ecdsa.SigningKey.from_string(d["uni-pub"].private_key, curve=ecdsa.SECP256k1)
    pub = key.get_verifying_key().to_string("uncompressed")
    body = tx_pb2.TxBody(chain_id=d.chain_id, sender=pub, nonce=0, messages=[register("uni", "m")])
    return _signed(body, d["uni-pub"].private_key)


def _memo_too_long(d: Driver) -> bytes:
    return d.sign("uni-pub", [register("uni", "m")], nonce=0, memo="é" * 129)


def _empty_message(d: Driver) -> bytes:
    return d.sign("uni-pub", [tx_pb2.Msg()], nonce=0)


def _unknown_message(d: Driver) -> bytes:
    # A Msg whose oneof field (number 99, length-delimited) this app does not know.
    unknown = tx_pb2.Msg.FromString(b"\x9a\x06\x02hi")
    assert unknown.WhichOneof("sum") is None
    return d.sign("uni-pub", [register("uni", "m"), unknown], nonce=0)


def _invalid_message(d: Driver) -> bytes:
    return d.sign("uni-pub", [publish("uni/m", "1.0", weights_digest="md5:00")], nonce=0)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Driver], bytes]
    error: ErrorCode


CASES = [
    Case("undecodable", _undecodable, errors.UNDECODABLE),
    Case("non_canonical", _non_canonical, errors.UNDECODABLE),
    Case("oversize", _oversize, errors.OVERSIZE),
    Case("bad_signature", _bad_signature, errors.BAD_SIGNATURE),
    Case("short_signature", _short_signature, errors.BAD_SIGNATURE),
    Case("high_s", _high_s_signature, errors.HIGH_S),
    Case("wrong_chain", _wrong_chain, errors.WRONG_CHAIN),
    Case("replayed_nonce", _replayed_nonce, errors.NONCE_REPLAYED),
    Case("nonce_gap", _nonce_gap, errors.NONCE_GAP),
    Case("unknown_sender", _unknown_sender, errors.UNKNOWN_SENDER),
    Case("missing_role", _missing_role, errors.MISSING_ROLE),
    Case("missing_role_second_msg", _missing_role_second_msg, errors.MISSING_ROLE),
    Case("no_messages", _no_messages, errors.NO_MESSAGES),
    Case("too_many_messages", _too_many_messages, errors.TOO_MANY_MESSAGES),
    Case("bad_pubkey", _bad_pubkey, errors.BAD_PUBKEY),
    Case("uncompressed_pubkey", _uncompressed_pubkey, errors.BAD_PUBKEY),
    Case("memo_too_long", _memo_too_long, errors.MEMO_TOO_LONG),
    Case("empty_message", _empty_message, errors.UNKNOWN_MESSAGE),
    Case("unknown_message", _unknown_message, errors.UNKNOWN_MESSAGE),
    Case("invalid_message", _invalid_message, model_errors.INVALID_DIGEST),
]
IDS = [c.name for c in CASES]


def test_codes_are_distinct_and_stable() -> None:
    pairs = [(e.codespace, e.code) for e in errors.registered()]
    assert len(pairs) == len(set(pairs))
    tx_codes = {e.name: e.code for e in errors.registered() if e.codespace == "tx"}
    assert tx_codes == {
        "undecodable": 1,
        "oversize": 2,
        "bad_signature": 3,
        "high_s_signature": 4,
        "wrong_chain_id": 5,
        "nonce_replayed": 6,
        "nonce_out_of_order": 7,
        "unknown_sender": 8,
        "missing_role": 9,
        "no_messages": 10,
        "too_many_messages": 11,
        "bad_pubkey": 12,
        "memo_too_long": 13,
        "unknown_message": 14,
        "sender_disabled": 15,
        "internal": 16,
        "too_many_pending": 17,
        "block_gas_exhausted": 18,
        "nonce_exhausted": 19,
    }


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_tx_rejects(chain: Driver, case: Case) -> None:
    raw = case.make(chain)
    response = chain.check(raw)
    assert (response.codespace, response.code) == (case.error.codespace, case.error.code)
    assert response.log.startswith(case.error.name + ": ")
    # Nothing was consumed in the mempool's view: the account's next nonce is still admitted.
    next_ok = chain.sign("uni-pub", [register("uni", "ok")], nonce=chain.committed_nonce("uni-pub"))
    assert chain.check(next_ok).code == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finalize_block_rejects_without_changing_state(chain: Driver, case: Case) -> None:
    raw = case.make(chain)
    before = chain.store.root
    nonces = {name: chain.committed_nonce(name) for name in chain.accounts}
    response = chain.block([raw, raw], check_proposal=False)
    for result in response.tx_results:
        assert (result.codespace, result.code) == (case.error.codespace, case.error.code)
        assert result.log.startswith(case.error.name + ": ")
        assert not result.events
    assert response.app_hash == before
    assert {name: chain.committed_nonce(name) for name in chain.accounts} == nonces


def test_signature_cache_does_not_admit_a_malleated_tx(chain: Driver) -> None:
    raw = chain.sign("uni-pub", [register("uni", "m")], nonce=0)
    assert chain.check(raw).code == 0
    response = chain.block([_high_s(raw)], check_proposal=False)
    assert response.tx_results[0].code == errors.HIGH_S.code


def test_failed_message_consumes_the_nonce(chain: Driver) -> None:
    before = chain.store.root
    msg = publish("uni/missing", "1.0")
    missing = chain.sign("uni-pub", [msg])
    result = chain.block([missing]).tx_results[0]
    assert (result.codespace, result.code) == ("models", model_errors.MODEL_NOT_FOUND.code)
    assert result.gas_wanted == result.gas_used == base_gas(1) + publish_gas(msg.publish_version)
    assert chain.committed_nonce("uni-pub") == 1
    assert chain.store.root != before  # the account record changed, nothing else
    replay = chain.sign("uni-pub", [register("uni", "m")], nonce=0)
    assert chain.check(replay).code == errors.NONCE_REPLAYED.code
    assert chain.block([replay]).tx_results[0].code == errors.NONCE_REPLAYED.code
    assert chain.run("uni-pub", register("uni", "m")).code == 0
    assert chain.committed_nonce("uni-pub") == 2


def test_failed_message_drops_the_writes_of_earlier_messages(chain: Driver) -> None:
    result = chain.run("uni-pub", register("uni", "a"), publish("uni/nope", "1.0"))
    assert result.code == model_errors.MODEL_NOT_FOUND.code
    assert chain.query("/models/model", {"id": "uni/a"}).code == errors.NOT_FOUND.code


def test_one_sender_several_txs_in_one_block(chain: Driver) -> None:
    txs = [chain.sign("uni-pub", [register("uni", f"m{i}")]) for i in range(3)]
    assert [chain.check(tx).code for tx in txs] == [0, 0, 0]
    # Out of order in the block: the later nonces are refused, the first succeeds.
    response = chain.block([txs[0], txs[2], txs[1]])
    codes = [r.code for r in response.tx_results]
    assert codes == [0, errors.NONCE_GAP.code, 0]


def test_check_tx_mempool_view_advances_nonce(chain: Driver) -> None:
    first = chain.sign("uni-pub", [register("uni", "a")], nonce=0)
    second = chain.sign("uni-pub", [register("uni", "b")], nonce=1)
    assert chain.check(second).code == errors.NONCE_GAP.code
    assert chain.check(first).code == 0
    assert chain.check(first).code == errors.NONCE_REPLAYED.code
    assert chain.check(second).code == 0


@pytest.mark.parametrize("extra", [b"\x1a\x00", b"\x18\x05"], ids=["unknown-bytes", "unknown-int"])
def test_unknown_envelope_fields_are_refused(chain: Driver, extra: bytes) -> None:
    raw = chain.sign("uni-pub", [register("uni", "m")], nonce=0)
    malleated = raw + extra  # same body, same signature, another hash
    response = chain.check(malleated)
    assert (response.codespace, response.code) == ("tx", errors.UNDECODABLE.code), response.log


MAX_U64 = 2**64 - 1


@pytest.mark.parametrize("nonce", [MAX_U64, MAX_U64 - 1])
def test_an_account_at_the_last_nonce_is_refused_not_a_halt(tmp_path: Path, nonce: int) -> None:
    """Genesis admits any uint64 nonce (an exported chain carries them). An account at
    2^64 - 1 could still sign a transaction with it, and consuming that nonce overflowed the
    account's uint64 field inside FinalizeBlock: every validator stopped, on every replay. The
    last nonce is refused instead, with a code of its own; the one before it still works."""
    d = Driver(tmp_path)
    state = app_state(d.accounts.values(), {}, d.credits)
    for account in state["accounts"]:
        if account["name"] == "uni-pub":
            account["nonce"] = nonce
    d.app.init_chain(
        abci.RequestInitChain(
            chain_id=d.chain_id,
            app_state_bytes=json.dumps(state).encode(),
            time=timestamp(d.time),
            initial_height=1,
        )
    )
    d.block([])
    d["uni-pub"].nonce = nonce
    tx = d.sign("uni-pub", [register("uni", "m")])
    result = d.block([tx]).tx_results[0]
    if nonce == MAX_U64:
        assert (result.codespace, result.code) == ("tx", errors.NONCE_EXHAUSTED.code)
        assert d.check(tx).code == errors.NONCE_EXHAUSTED.code
    else:
        assert result.code == 0, result.log
    d.close()
