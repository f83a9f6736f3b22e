"""Node.send against a node whose account answer lags its mempool: a ``nonce_replayed``
refusal, or the engine's "tx already exists in cache" (the same messages at a stale nonce sign
to the very bytes it has seen), is signed again at the next nonce; any other refusal is not."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import chain.client
from app.core.errors import NONCE_REPLAYED
from app.core.tx import decode_envelope
from app.pb.modelgov.v1 import tx_pb2
from chain.client import ClientError, Node, TxOutcome
from chain.keys import Key, new_private_key
from chain.rpc import RpcError

MSG = tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org="uni", name="m"))


class LaggingNode(Node):
    """Answers the account at ``answered`` nonces in turn; its mempool knows ``next_nonce``."""

    def __init__(
        self, answered: list[int], next_nonce: int, refusal: tuple[str, int] | str
    ) -> None:
        super().__init__("http://127.0.0.1:1", chain_id="test")
        self.answered = answered
        self.next_nonce = next_nonce
        self.refusal = refusal
        self.signed: list[int] = []

    def account(self, address: str) -> Any:
        nonce = self.answered.pop(0) if len(self.answered) > 1 else self.answered[0]
        return SimpleNamespace(nonce=nonce)

    def broadcast(self, tx: bytes) -> str:
        nonce = decode_envelope(tx, 1 << 20)[1].nonce
        self.signed.append(nonce)
        if nonce != self.next_nonce:
            if isinstance(self.refusal, str):  # the engine's JSON-RPC error
                raise RpcError(f"broadcast_tx_sync: Internal error {self.refusal}")
            codespace, code = self.refusal
            raise ClientError("refused", code, codespace, "ab")
        return "ab"

    def wait_for_tx(self, tx_hash: str, timeout: float = 30.0) -> TxOutcome:
        return TxOutcome(hash=tx_hash, height=5, code=0, codespace="", log="", events=[])


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain.client, "NONCE_RETRY_SECONDS", 0)


REPLAYED = (NONCE_REPLAYED.codespace, NONCE_REPLAYED.code)


def test_a_stale_account_answer_is_signed_again_at_the_next_nonce() -> None:
    node = LaggingNode(answered=[2, 2, 3], next_nonce=3, refusal=REPLAYED)
    assert node.send(Key("k", new_private_key()), [MSG]).height == 5
    assert node.signed == [2, 2, 3]


def test_it_gives_up_after_its_retries() -> None:
    node = LaggingNode(answered=[2], next_nonce=3, refusal=REPLAYED)
    with pytest.raises(ClientError, match="refused"):
        node.send(Key("k", new_private_key()), [MSG])
    assert node.signed == [2] * (chain.client.NONCE_RETRIES + 1)


def test_other_refusals_are_not_sent_again() -> None:
    node = LaggingNode(answered=[2], next_nonce=3, refusal=("tx", NONCE_REPLAYED.code + 1))
    with pytest.raises(ClientError):
        node.send(Key("k", new_private_key()), [MSG])
    assert node.signed == [2]


SEEN = "tx already exists in cache"


def test_bytes_the_engine_has_seen_are_signed_again_at_the_next_nonce() -> None:
    node = LaggingNode(answered=[2, 2, 3], next_nonce=3, refusal=SEEN)
    assert node.send(Key("k", new_private_key()), [MSG]).height == 5
    assert node.signed == [2, 2, 3]


def test_a_node_that_stays_behind_is_named_after_the_retries() -> None:
    node = LaggingNode(answered=[2], next_nonce=3, refusal=SEEN)
    with pytest.raises(ClientError, match="the node is behind"):
        node.send(Key("k", new_private_key()), [MSG])
    assert node.signed == [2] * (chain.client.NONCE_RETRIES + 1)


def test_other_engine_errors_are_not_sent_again() -> None:
    node = LaggingNode(answered=[2], next_nonce=3, refusal="mempool is full")
    with pytest.raises(RpcError, match="mempool is full"):
        node.send(Key("k", new_private_key()), [MSG])
    assert node.signed == [2]
