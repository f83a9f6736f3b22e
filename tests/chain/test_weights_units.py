"""The weights server's parts that need no chain: signatures, ranges, the verified store."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest

from app.core import crypto
from chain.weights.auth import AuthError, Verifier, authorization, signed_message
from chain.weights.digest import WeightsError
from chain.weights.server import _range
from chain.weights.store import BlobStore

KEY = hashlib.sha256(b"weights test key").digest()


def test_a_signed_request_verifies_once() -> None:
    verifier = Verifier()
    header = authorization(KEY, "GET", "/v1/blobs/x")
    signed = verifier.verify(header, "GET", "/v1/blobs/x")
    assert signed.address == crypto.address_of(crypto.public_key_of(KEY))
    with pytest.raises(AuthError, match="replayed"):
        verifier.verify(header, "GET", "/v1/blobs/x")


@pytest.mark.parametrize(
    ("method", "path", "reason"),
    [("PUT", "/v1/blobs/x", "does not match"), ("GET", "/v1/blobs/y", "does not match")],
)
def test_a_signature_covers_method_and_path(method: str, path: str, reason: str) -> None:
    header = authorization(KEY, "GET", "/v1/blobs/x")
    with pytest.raises(AuthError, match=reason):
        Verifier().verify(header, method, path)


def test_stale_and_malformed_headers_are_refused() -> None:
    when, nonce = int(time.time()) - 1000, "a" * 32
    signature = crypto.sign(KEY, signed_message("GET", "/p", when, nonce)).hex()
    pubkey = crypto.public_key_of(KEY).hex()
    stale = f"Modelgov-Signature pubkey={pubkey},time={when},nonce={nonce},signature={signature}"
    with pytest.raises(AuthError, match="more than"):
        Verifier().verify(stale, "GET", "/p")
    for header in (None, "Bearer x", "Modelgov-Signature pubkey=zz,time=1,nonce=x,signature=00"):
        with pytest.raises(AuthError):
            Verifier().verify(header, "GET", "/p")


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, (0, 10)),
        ("bytes=0-4", 10, (0, 5)),
        ("bytes=5-", 10, (5, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=8-100", 10, (8, 10)),
        ("bytes=10-", 10, None),
        ("bytes=-", 10, None),
        ("items=0-1", 10, None),
        ("bytes=0-1,3-4", 10, None),
    ],
)
def test_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert _range(header, size) == expected


def test_the_store_keeps_only_bytes_that_match_their_digest(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"weights" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert store.put(digest, io.BytesIO(data)) is True
    assert store.put(digest, io.BytesIO(data)) is False
    assert store.path(digest).read_bytes() == data
    wrong = "sha256:" + "0" * 64
    with pytest.raises(WeightsError, match="hash to"):
        store.put(wrong, io.BytesIO(data))
    assert not store.has(wrong) and list(store.tmp.iterdir()) == []
    assert list(store.digests()) == [digest]
