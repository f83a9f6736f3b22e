"""The weights server against strangers who keep a connection and members who race uploads.

A stranger has no key the ledger knows, so all it can do is open connections: each must free
its worker within the header deadline, however it sends bytes. A member may upload bytes of a
digest it may not name; it must not be able to erase the record of the holder's own upload.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chain.keys import new_private_key
from chain.weights.access import Access
from chain.weights.auth import authorization
from chain.weights.quota import Quotas
from chain.weights.server import ServerConfig, WeightsServer
from chain.weights.store import BlobStore

HOLDER, SQUATTER = new_private_key(), new_private_key()
BLOB = b"weights only the holder may name" * 64
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


@dataclass
class OrgLedger:
    """Two orgs: ``uni`` holds DIGEST; ``acme`` may upload but not name it."""

    def org(self, address: str) -> str:
        from app.core.crypto import address_of, public_key_of

        return "uni" if address == address_of(public_key_of(HOLDER)) else "acme"

    def read(self, address: str, digest: str, path: str = "", uploader: str = "") -> Access:
        if uploader and uploader != "uni":
            return Access(False, 403, f"a copy {uploader} uploaded is not served")
        return Access(True, org=self.org(address), blob_holder="uni")

    def write(self, address: str, model: str) -> Access:
        return Access(True, org=self.org(address))


@dataclass
class Served:
    server: WeightsServer
    url: str
    store: BlobStore

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    store = BlobStore(tmp_path / "store")
    config = ServerConfig(["http://127.0.0.1:0"], workers=1, header_timeout=1.0)
    quotas = Quotas(store, default=1 << 20, min_free=0)
    server = WeightsServer(("127.0.0.1", 0), store, OrgLedger(), quotas, config)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.verifier.origins = [url]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Served(server, url, store)
    server.shutdown()
    server.server_close()


def _health_seconds(port: int) -> float:
    """How long an honest liveness request waits for its answer."""
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.request("GET", "/v1/health")
    assert connection.getresponse().status == 200
    connection.close()
    return time.monotonic() - began


def _hold(port: int, opening: bytes, then: bytes, every: float, lasting: float) -> None:
    """A stranger: send ``opening``, then ``then`` every ``every`` seconds for ``lasting``."""
    with socket.create_connection(("127.0.0.1", port)) as peer:
        peer.settimeout(0.05)
        peer.sendall(opening)
        stop = time.monotonic() + lasting
        while time.monotonic() < stop:
            time.sleep(every)
            try:
                peer.sendall(then)
                peer.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return


def _stranger(port: int, opening: bytes, then: bytes, every: float) -> threading.Thread:
    thread = threading.Thread(target=_hold, args=(port, opening, then, every, 5.0), daemon=True)
    thread.start()
    time.sleep(0.3)  # it has the only worker now
    return thread


def test_a_stranger_asking_again_and_again_frees_its_worker(served: Served) -> None:
    """Unsigned or unauthenticated requests on one kept-alive connection, each well inside the
    header deadline: every answer that is not a granted transfer closes the connection, so the
    stranger goes back to the end of the queue and honest requests are served meanwhile."""
    ask = f"GET /v1/blobs/{DIGEST} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    thread = _stranger(served.port, ask, ask, 0.2)
    assert _health_seconds(served.port) < 3.0
    thread.join()
    health = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
    thread = _stranger(served.port, health, health, 0.2)
    assert _health_seconds(served.port) < 3.0
    thread.join()


def _put(served: Served, key: bytes, body: bytes) -> int:
    path = f"/v1/blobs/{DIGEST}?model=uni/m"
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    headers = {"Authorization": authorization(key, "PUT", path, served.url)}
    connection.request("PUT", path, body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_an_upload_that_ends_after_the_holders_keeps_the_holder_an_uploader(
    tmp_path: Path,
) -> None:
    """acme starts an upload of the holder's bytes, uni uploads them whole, then acme's upload
    ends: acme's record used to replace uni's, so readers were asked about acme's copy only and
    refused. Now the later upload adds acme beside uni, and uni stays the one charged."""
    store = BlobStore(tmp_path / "store")
    config = ServerConfig(["http://127.0.0.1:0"], workers=4)
    quotas = Quotas(store, default=1 << 20, min_free=0)
    server = WeightsServer(("127.0.0.1", 0), store, OrgLedger(), quotas, config)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.verifier.origins = [url]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        running = Served(server, url, store)
        path = f"/v1/blobs/{DIGEST}?model=uni/m"
        slow = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        slow.putrequest("PUT", path)
        slow.putheader("Authorization", authorization(SQUATTER, "PUT", path, url))
        slow.putheader("Content-Length", str(len(BLOB)))
        slow.endheaders(BLOB[:100])
        time.sleep(0.3)  # acme's upload is under way, the store does not hold the blob
        assert _put(running, HOLDER, BLOB) == 201
        assert store.uploaders(DIGEST) == ["uni"]
        slow.send(BLOB[100:])
        assert slow.getresponse().status in (200, 201)
        slow.close()
        assert store.uploaders(DIGEST) == ["uni", "acme"]
        assert quotas.used("uni") == len(BLOB) and quotas.used("acme") == 0
    finally:
        server.shutdown()
        server.server_close()
