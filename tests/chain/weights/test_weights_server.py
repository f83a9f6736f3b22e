"""The weights server under abuse, with a stand-in ledger: every request gets an answer (400,
401, 411, 413, 416, 429, 503, 507) instead of a dropped connection, a stalled peer frees its
worker, a full pool answers 503 at once, and only allowed requests spend memory on nonces."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chain.weights.access import Access, Ledger
from chain.weights.auth import authorization
from chain.weights.quota import Quotas
from chain.weights.server import ServerConfig, WeightsServer
from chain.weights.store import BlobStore

KEY = hashlib.sha256(b"server test key").digest()
DATA = b"the weights" * 100
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
FILE = b"a file of a directory"
FILE_DIGEST = "sha256:" + hashlib.sha256(FILE).hexdigest()
MANIFEST_DIGEST = "sha256:" + "ab" * 32


@dataclass
class FakeLedger:
    """Allows what ``allowed`` names; counts the questions."""

    allowed: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def read(self, address: str, digest: str, path: str = "", uploader: str = "") -> Access:
        self.asked.append(f"{digest}/{path}" + (f" from {uploader}" if uploader else ""))
        if digest not in self.allowed:
            return Access(False, 403, "the ledger says no", "obtain a receipt")
        if uploader and uploader != "uni":
            return Access(False, 403, f"this store's copy was uploaded by {uploader}")
        blob = FILE_DIGEST if path else ""
        return Access(True, org="acme", file_digest=blob, blob_holder="uni")

    def write(self, address: str, model: str) -> Access:
        self.asked.append(model)
        if model not in self.allowed:
            return Access(False, 403, "not a publisher of the owner")
        return Access(True, org="acme")


@dataclass
class Running:
    server: WeightsServer
    ledger: FakeLedger
    url: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        sign: bool = True,
        store: str = "",
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        all_headers = dict(headers or {})
        if sign:
            all_headers["Authorization"] = authorization(KEY, method, path, store or self.url)
        connection.request(method, path, body=body or None, headers=all_headers)
        reply = connection.getresponse()
        data = reply.read()
        connection.close()
        return reply.status, dict(reply.getheaders()), data


def start(tmp_path: Path, **bounds: Any) -> Running:
    store = BlobStore(tmp_path / "store")
    store.put(DIGEST, io.BytesIO(DATA))
    store.put(FILE_DIGEST, io.BytesIO(FILE))
    quotas_args = bounds.pop("quotas", {"default": 1 << 20, "min_free": 0})
    ledger = FakeLedger({DIGEST, MANIFEST_DIGEST, "acme/m"})
    config = ServerConfig(["http://127.0.0.1:0"], **bounds)
    server = WeightsServer(("127.0.0.1", 0), store, ledger, Quotas(store, **quotas_args), config)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.verifier.origins = [url]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Running(server, ledger, url)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    served = start(tmp_path, socket_timeout=2.0)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_a_granted_read_is_served_and_its_replay_refused(running: Running) -> None:
    path = f"/v1/blobs/{DIGEST}"
    header = {"Authorization": authorization(KEY, "GET", path, running.url)}
    status, _, body = running.request("GET", path, header, sign=False)
    assert (status, body) == (200, DATA)
    status, _, body = running.request("GET", path, header, sign=False)
    assert status == 401 and b"replayed" in body


def test_a_request_signed_for_another_store_is_refused(running: Running) -> None:
    status, _, body = running.request("GET", f"/v1/blobs/{DIGEST}", store="http://127.0.0.1:9")
    assert status == 401 and b"signed for store" in body
    assert running.ledger.asked == []  # refused before the ledger is asked


def test_refused_requests_spend_no_nonce_memory(running: Running) -> None:
    other = "sha256:" + "cd" * 32
    for _ in range(20):
        assert running.request("GET", f"/v1/blobs/{other}")[0] == 403
    assert len(running.server.verifier.nonces) == 0
    assert running.request("GET", f"/v1/blobs/{DIGEST}")[0] == 200
    assert len(running.server.verifier.nonces) == 1


def test_a_directory_file_is_the_blob_the_ledger_names(running: Running) -> None:
    status, _, body = running.request("GET", f"/v1/blobs/{MANIFEST_DIGEST}/shards/a%20b.bin")
    assert (status, body) == (200, FILE)
    assert running.ledger.asked[-1] == f"{MANIFEST_DIGEST}/shards/a b.bin"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Range": "bytes=0-3"}, 206),
        ({"Range": "bytes=5000-"}, 416),
        ({"Range": "bytes=abc"}, 400),
        ({"Range": "bytes=" + "9" * 5000 + "-"}, 400),
        ({"Range": "bytes=0-1,4-5"}, 400),
        ({"Range": "bytes=4-1"}, 400),
        ({"Content-Length": "5"}, 400),
        ({"Transfer-Encoding": "chunked"}, 400),
    ],
)
def test_read_headers_are_answered(running: Running, headers: dict[str, str], status: int) -> None:
    got, _, body = running.request("GET", f"/v1/blobs/{DIGEST}", headers)
    assert got == status, body
    if status == 400:
        assert json.loads(body)["error"] == "Bad Request"


def raw(running: Running, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def signed_put(running: Running, path: str, length: str, extra: str = "") -> bytes:
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{extra}"
        f"Authorization: {authorization(KEY, 'PUT', path, running.url)}\r\n\r\n"
    )
    return head.encode()


@pytest.mark.parametrize(
    ("length", "status"),
    [("abc", 400), ("9" * 5000, 400), ("-1", 400), ("1 2", 400), (str(1 << 41), 413)],
)
def test_a_malformed_or_huge_content_length_is_answered(
    running: Running, length: str, status: int
) -> None:
    path = f"/v1/blobs/{'sha256:' + 'ef' * 32}?model=acme/m"
    answer = raw(running, signed_put(running, path, length))
    assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer[:200]


def test_uploads_need_a_length_and_a_writer(running: Running) -> None:
    fresh = b"fresh weights"
    digest = "sha256:" + hashlib.sha256(fresh).hexdigest()
    assert (
        running.request(
            "PUT", f"/v1/blobs/{digest}?model=acme/m", {"Transfer-Encoding": "chunked"}
        )[0]
        == 411
    )
    status, _, body = running.request("PUT", f"/v1/blobs/{digest}?model=uni/x", body=fresh)
    assert status == 403 and b"not a publisher" in body
    status, _, _ = running.request("PUT", f"/v1/blobs/{digest}?model=acme/m", body=fresh)
    assert status == 201 and running.server.quotas.used("acme") == len(fresh)
    status, _, _ = running.request("PUT", f"/v1/blobs/{digest}?model=acme/m", body=fresh)
    assert status == 200 and running.server.quotas.used("acme") == len(fresh)  # charged once
    status, _, body = running.request(
        "PUT", f"/v1/blobs/{'sha256:' + '0' * 64}?model=acme/m", body=fresh
    )
    assert status == 422 and b"hash to" in body


def test_quotas_are_413_and_507_with_what_to_do(tmp_path: Path) -> None:
    served = start(tmp_path, quotas={"default": 10, "min_free": 0})
    try:
        big = b"x" * 11
        digest = "sha256:" + hashlib.sha256(big).hexdigest()
        status, _, body = served.request("GET", f"/v1/uploads/{digest}?model=acme/m&size=11")
        assert status == 413 and "weights gc" in json.loads(body)["hint"]
        status, _, body = served.request("PUT", f"/v1/blobs/{digest}?model=acme/m", body=big)
        assert status == 413
        held = served.request("GET", f"/v1/uploads/{DIGEST}?model=acme/m&size=99999")
        assert held[0] == 200 and json.loads(held[2])["held"] is True
        served.server.quotas.min_free = 1 << 62
        status, _, body = served.request("GET", f"/v1/uploads/{digest}?model=acme/m&size=1")
        assert status == 507 and "another store" in json.loads(body)["hint"]
    finally:
        served.server.shutdown()
        served.server.server_close()


def test_a_stalled_peer_is_dropped_after_the_socket_timeout(tmp_path: Path) -> None:
    served = start(tmp_path, socket_timeout=0.5, workers=1)
    try:
        began = time.monotonic()
        assert raw(served, b"GET /v1/health HTTP/1.1\r\n", timeout=10) == b""
        assert time.monotonic() - began < 5
        assert served.request("GET", "/v1/health", sign=False)[0] == 200  # the worker is free
    finally:
        served.server.shutdown()
        served.server.server_close()


def test_a_full_pool_answers_503_at_once(tmp_path: Path) -> None:
    served = start(tmp_path, socket_timeout=5, workers=1, backlog=1)
    idle = []
    try:
        for _ in range(2):  # one holds the worker, then one waits in the queue
            idle.append(socket.create_connection(("127.0.0.1", served.port)))
            time.sleep(0.3)
        began = time.monotonic()
        answer = raw(served, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503") and time.monotonic() - began < 2
    finally:
        for sock in idle:
            sock.close()
        served.server.shutdown()
        served.server.server_close()


def test_an_unreachable_ledger_is_503_at_once() -> None:
    ledger = Ledger("http://127.0.0.1:9", rpc_timeout=1.0)
    began = time.monotonic()
    answer = ledger.read("addr", DIGEST)
    assert answer.status == 503 and time.monotonic() - began < 3


def test_a_copy_uploaded_by_another_org_than_the_holder_is_checked(running: Running) -> None:
    store = running.server.store
    store.set_owner(DIGEST, "uni")  # the holder's own upload: one question
    assert running.request("GET", f"/v1/blobs/{DIGEST}")[0] == 200
    assert running.ledger.asked == [f"{DIGEST}/"]
    store.set_owner(DIGEST, "squatter")  # another org's copy: asked again, naming it
    status, _, body = running.request("GET", f"/v1/blobs/{DIGEST}")
    assert status == 403 and b"uploaded by squatter" in body
    assert running.ledger.asked[-1] == f"{DIGEST}/ from squatter"


def test_a_peer_trickling_its_headers_is_cut_off(tmp_path: Path) -> None:
    served = start(tmp_path, socket_timeout=5, header_timeout=1, workers=1)
    try:
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            closed = False
            for byte in b"GET /v1/health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.1)
                if time.monotonic() - began > 4:
                    break
            if not closed:
                sock.settimeout(3)
                closed = sock.recv(100) == b""
        assert closed and time.monotonic() - began < 5
        assert served.request("GET", "/v1/health", sign=False)[0] == 200
    finally:
        served.server.shutdown()
        served.server.server_close()


@dataclass
class WriterLedger(FakeLedger):
    """A FakeLedger whose writer belongs to ``writer_org`` (the org an upload is charged to)."""

    writer_org: str = "acme"

    def write(self, address: str, model: str) -> Access:
        found = super().write(address, model)
        return Access(True, org=self.writer_org) if found.allowed else found


def test_an_earlier_upload_by_another_org_does_not_lock_the_holder_out(tmp_path: Path) -> None:
    """Squatting a store copy: an org that has the bytes of a blob it may not name (a file many
    directories share, a licensee's copy) uploads them to a store before the holder does. That
    copy is refused to everyone (right); the holder's own upload of the same bytes must then
    make the blob servable, not be drained and ignored while the squatter's copy stays."""
    served = start(tmp_path)
    ledger = WriterLedger(set(served.ledger.allowed))
    served.server.ledger = ledger  # type: ignore[assignment]
    shared = b"a tokenizer file that many directories list"
    digest = "sha256:" + hashlib.sha256(shared).hexdigest()
    ledger.allowed.add(digest)
    try:
        ledger.writer_org = "squatter"
        assert served.request("PUT", f"/v1/blobs/{digest}?model=acme/m", body=shared)[0] == 201
        status, _, body = served.request("GET", f"/v1/blobs/{digest}")
        assert status == 403 and b"uploaded by squatter" in body
        ledger.writer_org = "uni"  # the holder's push is told to send the bytes, and does
        asked = served.request("GET", f"/v1/uploads/{digest}?model=acme/m&size={len(shared)}")
        assert asked[0] == 200 and json.loads(asked[2])["held"] is False
        assert served.request("PUT", f"/v1/blobs/{digest}?model=acme/m", body=shared)[0] == 200
        assert served.request("GET", f"/v1/blobs/{digest}")[:3:2] == (200, shared)
        assert served.server.quotas.used("squatter") == len(shared)  # charged once, to the first
        ledger.writer_org = "thief"  # a re-upload that is not the bytes proves nothing
        wrong = served.request("PUT", f"/v1/blobs/{digest}?model=acme/m", body=b"x" * len(shared))
        assert wrong[0] == 422
        assert served.server.store.uploaders(digest) == ["squatter", "uni"]
        asked = served.request("GET", f"/v1/uploads/{digest}?model=acme/m&size={len(shared)}")
        assert json.loads(asked[2])["held"] is False  # thief is no uploader
        ledger.writer_org = "uni"
        asked = served.request("GET", f"/v1/uploads/{digest}?model=acme/m&size={len(shared)}")
        assert json.loads(asked[2])["held"] is True
    finally:
        served.server.shutdown()
        served.server.server_close()


def test_one_org_cannot_hold_every_worker_with_slow_transfers(tmp_path: Path) -> None:
    """A member trickling upload bodies (or reading downloads slowly) keeps each worker it gets
    as long as every read or write makes a little progress: the socket timeout alone lets one
    org hold the whole pool. Transfers at once are bounded per organisation, so its further
    requests are 429 while other orgs are still served."""
    served = start(tmp_path, socket_timeout=5, workers=4, per_org_transfers=2)
    slow: list[socket.socket] = []
    try:
        for i in range(2):
            path = f"/v1/blobs/{'sha256:' + str(i) * 64}?model=acme/m"
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(signed_put(served, path, "1000") + b"x")  # then nothing more
            slow.append(sock)
        time.sleep(0.5)
        status, _, body = served.request("GET", f"/v1/blobs/{DIGEST}")
        assert status == 429 and b"transfers at once" in body, body
        assert served.request("GET", "/v1/health", sign=False)[0] == 200
    finally:
        for sock in slow:
            sock.close()
        served.server.shutdown()
        served.server.server_close()


def test_an_upload_of_a_blob_the_operator_placed_changes_nothing(running: Running) -> None:
    """A blob the operator put in the store has no uploader and is served as the ledger allows;
    an org that later uploads the same bytes neither becomes its uploader (which would subject
    it to the copy check) nor is charged for it."""
    assert running.server.store.uploaders(DIGEST) == []
    assert running.request("PUT", f"/v1/blobs/{DIGEST}?model=acme/m", body=DATA)[0] == 200
    assert running.server.store.uploaders(DIGEST) == []
    assert running.server.quotas.used("acme") == 0
    assert running.request("GET", f"/v1/blobs/{DIGEST}")[:3:2] == (200, DATA)
