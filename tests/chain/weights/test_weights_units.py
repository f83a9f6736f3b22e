"""The weights server's parts that need no chain: store-bound signatures, the nonce book,
ranges, quotas and the verified store."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest

from app.core import crypto
from chain.weights import store as store_module
from chain.weights.auth import (
    AuthError,
    BusyError,
    NonceBook,
    Verifier,
    authorization,
    origin,
    signed_message,
)
from chain.weights.digest import WeightsError
from chain.weights.quota import QuotaError, Quotas, parse_size
from chain.weights.server import BadRequest, parse_range, resolve_range
from chain.weights.store import BlobStore

KEY = hashlib.sha256(b"weights test key").digest()
HERE = "http://127.0.0.1:18662"
THERE = "http://127.0.0.1:18762"


def test_a_signed_request_verifies_and_its_nonce_is_spent_once() -> None:
    verifier = Verifier([HERE])
    header = authorization(KEY, "GET", "/v1/blobs/x", HERE)
    signed = verifier.verify(header, "GET", "/v1/blobs/x")
    assert signed.address == crypto.address_of(crypto.public_key_of(KEY))
    verifier.accept(signed)
    with pytest.raises(AuthError, match="replayed"):
        verifier.verify(header, "GET", "/v1/blobs/x")
    with pytest.raises(AuthError, match="replayed"):
        verifier.accept(signed)  # two requests racing with one nonce: the second loses


def test_a_request_signed_for_another_store_is_refused() -> None:
    header = authorization(KEY, "GET", "/v1/blobs/x", THERE)
    with pytest.raises(AuthError, match="signed for store"):
        Verifier([HERE]).verify(header, "GET", "/v1/blobs/x")
    forged = header.replace(f"store={origin(THERE)}", f"store={origin(HERE)}")
    with pytest.raises(AuthError, match="does not match"):
        Verifier([HERE]).verify(forged, "GET", "/v1/blobs/x")
    assert Verifier([HERE, THERE]).verify(header, "GET", "/v1/blobs/x")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:26662", "http://127.0.0.1:26662"),
        ("HTTP://Store.Example.ORG/", "http://store.example.org:80"),
        ("https://store.example.org/v1/blobs/x", "https://store.example.org:443"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_a_store_is_named_by_its_origin(url: str, expected: str) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/v1/blobs/x"), ("GET", "/v1/blobs/y"), ("HEAD", "/v1/blobs/x")]
)
def test_a_signature_covers_method_and_path(method: str, path: str) -> None:
    header = authorization(KEY, "GET", "/v1/blobs/x", HERE)
    with pytest.raises(AuthError, match="does not match"):
        Verifier([HERE]).verify(header, method, path)


def _header(**fields: str) -> str:
    when, nonce = str(int(time.time())), "a" * 32
    message = signed_message(origin(HERE), "GET", "/p", int(when), nonce)
    values = {
        "store": origin(HERE),
        "pubkey": crypto.public_key_of(KEY).hex(),
        "time": when,
        "nonce": nonce,
        "signature": crypto.sign(KEY, message).hex(),
    }
    values.update(fields)
    return "Modelgov-Signature " + ",".join(f"{k}={v}" for k, v in values.items())


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "sign the request"),
        ("Bearer x", "sign the request"),
        (_header(time=str(int(time.time()) - 1000)), "more than"),
        (_header(time="9" * 13), "unix seconds"),
        (_header(time="9" * 5000), "over 1024"),
        (_header(time="-5"), "unix seconds"),
        (_header(pubkey="zz"), "66 hex"),
        (_header(signature="00"), "128"),
        (_header(nonce="short"), "nonce"),
        (_header(nonce="a" * 65), "nonce"),
        (_header(nonce="ünïcödé-nonce-ünïcödé"), "nonce"),
        (_header(store=""), "signed for store"),
        ("Modelgov-Signature " + "x=1," * 400, "over 1024"),
    ],
)
def test_malformed_and_stale_headers_are_refused(header: str | None, reason: str) -> None:
    assert _header() and Verifier([HERE]).verify(_header(), "GET", "/p")
    with pytest.raises(AuthError, match=reason):
        Verifier([HERE]).verify(header, "GET", "/p")


def test_nonces_expire_and_are_bounded_per_key_and_in_keys() -> None:
    book = NonceBook(keep=10, per_key=3, keys=2)
    for i in range(3):
        book.remember(b"k1", f"n{i}", now=100)
    with pytest.raises(BusyError, match="over 3 requests"):
        book.remember(b"k1", "n3", now=101)
    book.remember(b"k1", "n3", now=111)  # the first three expired at 110
    assert len(book) == 1
    book.remember(b"k2", "n0", now=111)
    with pytest.raises(BusyError, match="too many signing keys"):
        book.remember(b"k3", "n0", now=112)
    book.remember(b"k3", "n0", now=122)  # k1 and k2 have nothing left: forgotten
    with pytest.raises(AuthError, match="replayed"):
        book.remember(b"k3", "n0", now=123)
    book.remember(b"k1", "n0", now=123)  # the same nonce under another key is another request


def test_the_nonce_book_costs_the_same_per_request_however_full() -> None:
    book = NonceBook(keep=1000, per_key=200_000, keys=10)

    def timed(count: int, start: int) -> float:
        began = time.perf_counter()
        for i in range(start, start + count):
            book.remember(b"k", f"nonce-{i}", now=1.0)
        return time.perf_counter() - began

    first = timed(2000, 0)
    timed(100_000, 2000)
    later = timed(2000, 200_000)
    assert later < first * 5 + 0.05


@pytest.mark.parametrize(
    ("values", "size", "expected"),
    [
        (None, 10, (0, 10)),
        (["bytes=0-4"], 10, (0, 5)),
        (["bytes=5-"], 10, (5, 10)),
        (["bytes=-3"], 10, (7, 10)),
        (["bytes=-30"], 10, (0, 10)),
        (["bytes=8-100"], 10, (8, 10)),
        (["bytes=10-"], 10, None),
        (["bytes=-0"], 10, None),
        (["bytes=0-0"], 0, None),
        ([" bytes=1-2 "], 10, (1, 3)),
    ],
)
def test_ranges(values: list[str] | None, size: int, expected: tuple[int, int] | None) -> None:
    assert resolve_range(parse_range(values), size) == expected


@pytest.mark.parametrize(
    "values",
    [
        ["bytes=-"],
        ["items=0-1"],
        ["bytes=0-1,3-4"],
        ["bytes=abc-"],
        ["bytes=" + "9" * 20 + "-"],
        ["bytes=" + "9" * 5000 + "-"],
        ["bytes=5-1"],
        ["bytes=0-1", "bytes=2-3"],
        ["bytes=\u0661-2"],
    ],
)
def test_malformed_ranges_are_bad_requests(values: list[str]) -> None:
    with pytest.raises(BadRequest):
        parse_range(values)


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


def test_a_manifest_blob_is_parsed_only_up_to_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path)
    manifest = b"modelgov-manifest-v1\n" + f"{'a' * 64} 1 x\n".encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    store.put(digest, io.BytesIO(manifest))
    assert store.manifest(digest) is not None
    monkeypatch.setattr(store_module, "MAX_MANIFEST_BYTES", len(manifest) - 1)
    assert store.manifest(digest) is None  # a huge blob that starts like one is not read


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("512M", 512 << 20), ("64G", 64 << 30), ("1TiB", 1 << 40), ("2k", 2048)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "-1", "1.5G", "1P", "9" * 30])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_quotas_charge_the_uploading_org_and_say_what_to_do(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    quotas = Quotas(store, default=100, per_org={"big": 1000}, min_free=0)
    first = quotas.reserve("acme", 60)
    with pytest.raises(QuotaError) as over:
        quotas.reserve("acme", 50)  # 60 reserved + 50 > 100
    assert over.value.status == 413 and "weights gc" in over.value.hint
    data = b"x" * 60
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    store.put(digest, io.BytesIO(data))
    store.set_owner(digest, "acme")
    quotas.settle(first, 60)
    assert quotas.used("acme") == 60
    quotas.settle(quotas.reserve("big", 900), 0)
    assert Quotas(store, default=100).used("acme") == 60  # counted again from owner records
    store.remove(digest)
    assert Quotas(store, default=100).used("acme") == 0


def test_a_full_disk_is_507(tmp_path: Path) -> None:
    quotas = Quotas(BlobStore(tmp_path), default=1 << 62, min_free=1 << 61)
    with pytest.raises(QuotaError) as full:
        quotas.reserve("acme", 1)
    assert full.value.status == 507 and "another store" in full.value.hint


def test_a_wildcard_listener_answers_to_its_loopback_names() -> None:
    from chain.weights.server import default_origins

    assert default_origins("127.0.0.1", 18662) == ["http://127.0.0.1:18662"]
    wildcard = default_origins("0.0.0.0", 18662)
    assert wildcard[:2] == ["http://127.0.0.1:18662", "http://localhost:18662"]
    assert all(origin(url) for url in wildcard)
