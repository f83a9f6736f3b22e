"""secp256k1 over SHA-256: our signatures against an independent implementation (ecdsa)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import ecdsa
import pytest
from ecdsa.util import sigdecode_string, sigencode_string_canonize
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import crypto

KEYS = [hashlib.sha256(f"key-{i}".encode()).digest() for i in range(4)]


def _ecdsa_key(private_key: bytes) -> ecdsa.SigningKey:
    return ecdsa.SigningKey.from_string(private_key, curve=ecdsa.SECP256k1, hashfunc=hashlib.sha256)


def _ecdsa_verifier(pubkey: bytes) -> ecdsa.VerifyingKey:
    return ecdsa.VerifyingKey.from_string(pubkey, curve=ecdsa.SECP256k1, hashfunc=hashlib.sha256)


def _high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + (crypto.SECP256K1_ORDER - s).to_bytes(32, "big")


@settings(max_examples=25, deadline=None)
@given(key=st.sampled_from(KEYS), body=st.binary(max_size=300))
def test_our_signature_verifies_with_ecdsa(key: bytes, body: bytes) -> None:
    signature = crypto.sign(key, body)
    assert len(signature) == crypto.SIGNATURE_BYTES
    assert crypto.is_low_s(signature)
    verifier = _ecdsa_verifier(crypto.public_key_of(key))
    assert verifier.verify(signature, body, sigdecode=sigdecode_string)


@settings(max_examples=25, deadline=None)
@given(key=st.sampled_from(KEYS), body=st.binary(max_size=300))
def test_ecdsa_signature_verifies_with_ours(key: bytes, body: bytes) -> None:
    signature = _ecdsa_key(key).sign_deterministic(
        body, hashfunc=hashlib.sha256, sigencode=sigencode_string_canonize
    )
    assert crypto.is_low_s(signature)
    assert crypto.verify(crypto.public_key_of(key), body, signature)
    # RFC 6979 on both sides: the very same bytes.
    assert signature == crypto.sign(key, body)


@pytest.mark.parametrize("key", KEYS)
def test_high_s_variant_is_refused(key: bytes) -> None:
    body = b"a transaction body"
    signature = crypto.sign(key, body)
    malleated = _high_s(signature)
    assert not crypto.is_low_s(malleated)
    assert not crypto.verify(crypto.public_key_of(key), body, malleated)
    # The malleated signature is mathematically valid: only the low-S rule refuses it.
    assert _ecdsa_verifier(crypto.public_key_of(key)).verify(
        malleated, body, sigdecode=sigdecode_string
    )


def test_is_low_s_bounds() -> None:
    r = (1).to_bytes(32, "big")
    assert crypto.is_low_s(r + crypto.HALF_ORDER.to_bytes(32, "big"))
    assert not crypto.is_low_s(r + (crypto.HALF_ORDER + 1).to_bytes(32, "big"))
    zero_s = r + bytes(32)
    assert crypto.is_low_s(zero_s)  # not high; it fails verification as a bad signature
    assert not crypto.verify(crypto.public_key_of(b"\x01" * 32), b"msg", zero_s)


Mutation = Callable[[bytes, bytes, bytes], tuple[bytes, bytes, bytes]]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda sig, pub, body: (sig, pub, body + b"x"),
        lambda sig, pub, body: (bytes([sig[0] ^ 1]) + sig[1:], pub, body),
        lambda sig, pub, body: (sig[:63], pub, body),
        lambda sig, pub, body: (sig + b"\x00", pub, body),
        lambda sig, pub, body: (sig, crypto.public_key_of(KEYS[1]), body),
        lambda sig, pub, body: (sig, b"\x02" + bytes(32), body),
        lambda sig, pub, body: (sig, pub[1:], body),
        lambda sig, pub, body: (b"\xff" * 64, pub, body),
    ],
    ids=[
        "other-body",
        "flipped-r",
        "short-sig",
        "long-sig",
        "other-key",
        "key-off-curve",
        "short-key",
        "r-over-order",
    ],
)
def test_verify_refuses_without_raising(mutate: Mutation) -> None:
    body = b"body"
    pub = crypto.public_key_of(KEYS[0])
    sig = crypto.sign(KEYS[0], body)
    bad_sig, bad_pub, bad_body = mutate(sig, pub, body)
    assert crypto.verify(bad_pub, bad_body, bad_sig) is False


def test_address_of_format() -> None:
    pub = crypto.public_key_of(KEYS[0])
    address = crypto.address_of(pub)
    assert len(address) == 40
    assert address == address.lower()
    assert bytes.fromhex(address) == hashlib.sha256(pub).digest()[:20]
    assert _ecdsa_key(KEYS[0]).get_verifying_key().to_string("compressed") == pub


def test_is_valid_pubkey() -> None:
    pub = crypto.public_key_of(KEYS[0])
    assert crypto.is_valid_pubkey(pub)
    uncompressed = _ecdsa_key(KEYS[0]).get_verifying_key().to_string("uncompressed")
    assert not crypto.is_valid_pubkey(uncompressed)
    assert not crypto.is_valid_pubkey(b"\x04" + pub[1:])
    assert not crypto.is_valid_pubkey(b"\x02" + bytes(32))
    assert not crypto.is_valid_pubkey(b"")


def test_parsed_keys_are_remembered_bounded_and_give_the_same_answers() -> None:
    """Public keys are parsed once while they stay among the PARSED_KEYS most recent; an
    invalid key is remembered as invalid; answers are those of a fresh parse."""
    crypto._parsed.cache_clear()
    key = hashlib.sha256(b"cached").digest()
    pub = crypto.public_key_of(key)
    signature = crypto.sign(key, b"body")
    for _ in range(3):
        assert crypto.is_valid_pubkey(pub)
        assert crypto.verify(pub, b"body", signature)
        assert not crypto.verify(pub, b"other", signature)
    off_curve = b"\x02" + b"\x00" * 32
    assert not crypto.is_valid_pubkey(off_curve) and not crypto.is_valid_pubkey(off_curve)
    assert not crypto.verify(off_curve, b"body", signature)
    info = crypto._parsed.cache_info()
    assert (info.misses, info.maxsize) == (2, crypto.PARSED_KEYS) and info.hits >= 8
    for i in range(crypto.PARSED_KEYS + 10):
        crypto._parsed(crypto.public_key_of(hashlib.sha256(b"%d" % i).digest()))
    assert crypto._parsed.cache_info().currsize == crypto.PARSED_KEYS
    assert crypto.verify(pub, b"body", signature)  # evicted, parsed again: same answer
