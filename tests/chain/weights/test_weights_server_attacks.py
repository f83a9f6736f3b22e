"""The weights server against anonymous peers and members probing its edges: no request may hold
a worker beyond its deadlines, and no request body may be read as a further request."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_weights_server import Running, raw, start


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[Running]:
    served = start(tmp_path, socket_timeout=2.0, header_timeout=1.0, workers=1)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_a_refused_upload_trickling_its_body_does_not_hold_a_worker(one_worker: Running) -> None:
    """An unsigned PUT of 64 KiB is refused (401) and its body drained so a small client sees
    the answer; a peer that sends that body a byte at a time, each within the socket timeout,
    kept the worker for days: anyone who reaches the port held the whole pool with a few
    connections. The drain runs under the header deadline."""
    path = f"/v1/blobs/{'sha256:' + 'ef' * 32}?model=acme/m"
    head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n".encode()
    done = threading.Event()

    def trickle(sock: socket.socket) -> None:
        while not done.wait(0.3):
            try:
                sock.sendall(b"x")
            except OSError:
                return

    with socket.create_connection(("127.0.0.1", one_worker.port), timeout=10) as slow:
        slow.sendall(head)
        trickler = threading.Thread(target=trickle, args=(slow,), daemon=True)
        trickler.start()
        try:
            time.sleep(0.5)
            health = http.client.HTTPConnection("127.0.0.1", one_worker.port, timeout=4)
            health.request("GET", "/v1/health")
            status = health.getresponse().status
            health.close()
        finally:
            done.set()
            trickler.join()
    assert status == 200


@pytest.mark.parametrize("endpoint", ["/v1/health", "/metrics"])
def test_a_body_on_an_open_endpoint_is_not_read_as_another_request(
    one_worker: Running, endpoint: str
) -> None:
    """The unauthenticated endpoints left a GET's body unread, so on a kept-alive connection
    the body was parsed as the next request: a request hidden inside another, which a proxy in
    front of the store would attribute to the outer one's sender."""
    inner = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    outer = f"GET {endpoint} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(inner)}\r\n\r\n"
    answer = raw(one_worker, outer.encode() + inner)
    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1 ") == 1, answer[:300]


def test_one_address_cannot_take_every_worker_and_queue_slot(tmp_path: Path) -> None:
    """Connections that send nothing each hold a worker (or a queue slot) until the header
    deadline; one address opening workers + backlog of them, again every deadline, left every
    other client a 503. Connections at once are bounded per client address."""
    served = start(
        tmp_path,
        socket_timeout=5,
        header_timeout=5,
        workers=3,
        backlog=4,
        per_address_connections=2,
    )
    idle: list[socket.socket] = []
    try:
        for _ in range(7):  # workers + backlog
            idle.append(socket.create_connection(("127.0.0.1", served.port), timeout=5))
        time.sleep(0.5)
        with socket.create_connection(
            ("127.0.0.1", served.port), timeout=4, source_address=("127.0.0.2", 0)
        ) as other:
            other.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = other.recv(100)
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        for sock in idle:
            sock.close()
        served.server.shutdown()
        served.server.server_close()
