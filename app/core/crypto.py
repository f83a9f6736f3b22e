"""secp256k1 keys, addresses and signatures over SHA-256, through libsecp256k1 (coincurve).

Signatures are 64 bytes (r || s) with s in the lower half of the group order, so each signed body
has exactly one valid signature per key and a transaction hash cannot be malleated.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import coincurve
from coincurve.ecdsa import cdata_to_der, deserialize_compact

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_ORDER = SECP256K1_ORDER // 2
PUBKEY_BYTES = 33
SIGNATURE_BYTES = 64


def address_of(pubkey: bytes) -> str:
    """An account's address: hex of the first 20 bytes of sha256(compressed public key)."""
    return hashlib.sha256(pubkey).digest()[:20].hex()


PARSED_KEYS = 4096
"""Parsed public keys kept (the most recently used): a consortium's senders, re-parsed on every
CheckTx, re-check and FinalizeBlock otherwise; a flood of fresh keys only evicts older ones."""


def is_valid_pubkey(pubkey: bytes) -> bool:
    """Whether ``pubkey`` is a compressed point on the curve."""
    if len(pubkey) != PUBKEY_BYTES or pubkey[0] not in (2, 3):
        return False
    return _parsed(bytes(pubkey)) is not None


@lru_cache(maxsize=PARSED_KEYS)
def _parsed(pubkey: bytes) -> coincurve.PublicKey | None:
    """The parsed point of a public key, or None when it is not one (a pure function of the
    bytes, so remembering it changes no answer)."""
    try:
        return coincurve.PublicKey(pubkey)
    except ValueError:
        return None


def is_low_s(signature: bytes) -> bool:
    """Whether the s half of a 64-byte signature is not in the upper half of the order (a zero
    s is "low" here and fails verification as a bad signature)."""
    return int.from_bytes(signature[32:], "big") <= HALF_ORDER


def verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """Check a 64-byte low-S signature of sha256(message); any malformed input is just False."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        der = cdata_to_der(deserialize_compact(signature))
        key = _parsed(bytes(pubkey))
        return key is not None and bool(key.verify(der, message, hasher=_sha256))
    except (ValueError, TypeError):
        return False


def sign(private_key: bytes, message: bytes) -> bytes:
    """Sign sha256(message) deterministically (RFC 6979); libsecp256k1 always yields low S."""
    recoverable = coincurve.PrivateKey(private_key).sign_recoverable(message, hasher=_sha256)
    return bytes(recoverable[:SIGNATURE_BYTES])


def public_key_of(private_key: bytes) -> bytes:
    """The compressed public key of a 32-byte private key."""
    return bytes(coincurve.PrivateKey(private_key).public_key.format(compressed=True))


def _sha256(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()
