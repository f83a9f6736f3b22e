"""Turning transaction bytes into a checked, signed body, without reading any state.

Everything here is a pure function of the bytes and the parameters, so a signature verified
once (in CheckTx) need not be verified again for the same bytes (in FinalizeBlock).

The checks come in order of cost, so that an outsider pays for everything the app does:
``decode_tx`` only parses the envelope (bounded by max_tx_bytes), looks at the body's shape and
verifies the signature; the messages' own stateless checks (``validate_messages``; a license
deploy parses and analyses its script) run only after the sender has been authenticated.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from app.core import crypto
from app.core.errors import (
    BAD_PUBKEY,
    BAD_SIGNATURE,
    HIGH_S,
    MEMO_TOO_LONG,
    NO_MESSAGES,
    OVERSIZE,
    TOO_MANY_MESSAGES,
    UNDECODABLE,
    TxError,
)
from app.core.routing import RoutedMsg, Routes, route
from app.pb.modelgov.v1 import state_pb2, tx_pb2

MAX_MEMO_BYTES = 256


@dataclass(frozen=True)
class DecodedTx:
    """A transaction whose encoding, body shape, message kinds and signature have been checked
    (not yet its messages' contents: see ``validate_messages``)."""

    hash: bytes  # sha256 of the raw bytes, as the engine names transactions
    body: tx_pb2.TxBody
    sender: str  # address of body.sender
    msgs: tuple[RoutedMsg, ...]


class SignatureCache:
    """Hashes of transactions whose encoding and signature verified, bounded, oldest forgotten
    first.

    Only transactions the mempool admitted (an authenticated sender, right nonce, valid
    messages) are added: anyone can make valid signatures with fresh keys, so remembering every
    verified signature would let an outsider flush the entries of members' transactions.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, tx_hash: bytes) -> None:
        """Remember an admitted transaction."""
        self._seen[tx_hash] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)


def decode_envelope(
    raw: bytes, max_tx_bytes: int, canonical: bool = False
) -> tuple[tx_pb2.Tx, tx_pb2.TxBody]:
    """Parse the envelope and body; raises TxError(oversize | undecodable), whichever
    protobuf implementation runs (a string that is not UTF-8 must be a refusal everywhere:
    ProcessProposal and FinalizeBlock stop the node on any other exception).

    Only the canonical encoding is accepted and the envelope may carry no unknown field, so one
    signed body has one transaction encoding and one hash. (Unknown fields inside the body are
    covered by the signature; an unknown message kind is refused later as unknown_message.)
    ``canonical``: these exact bytes passed that check before (it depends on nothing else), so
    it is not made again.
    """
    if len(raw) > max_tx_bytes:
        raise TxError(OVERSIZE, f"{len(raw)} bytes, the limit is {max_tx_bytes}")
    try:
        envelope = tx_pb2.Tx.FromString(raw)
        body = tx_pb2.TxBody.FromString(envelope.body)
    except (DecodeError, UnicodeDecodeError) as exc:  # the pure-Python protobuf raises the latter
        raise TxError(UNDECODABLE, f"not a protobuf modelgov.v1.Tx ({exc})") from None
    if canonical:
        return envelope, body
    if _known_fields_only(envelope) != raw or body.SerializeToString() != envelope.body:
        raise TxError(UNDECODABLE, "not the canonical protobuf encoding of a modelgov.v1.Tx")
    return envelope, body


def _known_fields_only(msg: Message) -> bytes:
    """The canonical encoding of ``msg`` without any field this app does not know."""
    copy = type(msg)()
    copy.CopyFrom(msg)
    copy.DiscardUnknownFields()
    return copy.SerializeToString()


def decode_tx(
    raw: bytes, params: state_pb2.Params, routes: Routes, cache: SignatureCache | None = None
) -> DecodedTx:
    """The cheap stateless checks of a transaction, its signature last (the encoding's and the
    signature's checks are skipped for the bytes ``cache`` holds: both passed for them when the
    mempool admitted them); raises TxError with the first failure. Nothing is remembered
    here."""
    tx_hash = hashlib.sha256(raw).digest()
    admitted = cache is not None and tx_hash in cache
    envelope, body = decode_envelope(raw, params.max_tx_bytes, canonical=admitted)
    msgs = _check_body(body, params, routes)
    if not admitted:
        _check_signature(envelope, body)
    return DecodedTx(tx_hash, body, crypto.address_of(body.sender), msgs)


def validate_messages(tx: DecodedTx, params: state_pb2.Params) -> None:
    """Each message's own stateless check, which may be costly (a license deploy parses and
    analyses its script): run it only for an authenticated sender. Raises TxError."""
    for msg in tx.msgs:
        msg.route.validate(msg.body, params)


def _check_body(
    body: tx_pb2.TxBody, params: state_pb2.Params, routes: Routes
) -> tuple[RoutedMsg, ...]:
    """The body's shape: sender key, message count, memo, known message kinds."""
    if not crypto.is_valid_pubkey(body.sender):
        raise TxError(BAD_PUBKEY, "sender must be a 33-byte compressed secp256k1 public key")
    if not body.messages:
        raise TxError(NO_MESSAGES)
    if len(body.messages) > params.max_messages_per_tx:
        limit = params.max_messages_per_tx
        raise TxError(TOO_MANY_MESSAGES, f"{len(body.messages)} messages, at most {limit}")
    if len(body.memo.encode()) > MAX_MEMO_BYTES:
        raise TxError(MEMO_TOO_LONG)
    return tuple(route(m, routes) for m in body.messages)


def _check_signature(envelope: tx_pb2.Tx, body: tx_pb2.TxBody) -> None:
    if len(envelope.signature) != crypto.SIGNATURE_BYTES:
        raise TxError(BAD_SIGNATURE, f"a signature is 64 bytes, got {len(envelope.signature)}")
    if not crypto.is_low_s(envelope.signature):
        raise TxError(HIGH_S, "s must be at most half the curve order (normalise the signature)")
    if not crypto.verify(body.sender, envelope.body, envelope.signature):
        raise TxError(BAD_SIGNATURE, "the signature does not match the body and sender key")


def encode_tx(body: tx_pb2.TxBody, private_key: bytes) -> bytes:
    """Sign a body and wrap it: the bytes a client broadcasts."""
    body_bytes = body.SerializeToString()
    signature = crypto.sign(private_key, body_bytes)
    return tx_pb2.Tx(body=body_bytes, signature=signature).SerializeToString()
