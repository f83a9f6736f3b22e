"""The weights server: a node's blobs over HTTP, for the members the ledger allows.

    GET|HEAD /v1/blobs/<digest>          a file's bytes, or a directory's manifest
    GET|HEAD /v1/blobs/<digest>/<path>   one file of the directory whose manifest is <digest>
    PUT      /v1/blobs/<digest>?model=M  upload; kept only if the bytes hash to <digest>
    GET      /v1/health                  unauthenticated liveness
    GET      /metrics                    Prometheus: requests by outcome, bytes served

Every blob request is signed (``chain.weights.auth``); 401 says what is wrong with the
signature, 403 and 404 say why the ledger refuses and what to do. Ranges (``bytes=a-b``) make
downloads resumable.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from chain.client import Node
from chain.rpc import RpcError
from chain.weights.access import Access, Gate
from chain.weights.auth import AuthError, Verifier
from chain.weights.digest import WeightsError
from chain.weights.store import BlobStore, Readable

log = logging.getLogger("modelgov.weights")
BLOB_PATH = re.compile(r"^/v1/blobs/(sha256:[0-9a-f]{64})(?:/(.+))?$")
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 1024 * 1024
MAX_UPLOAD = 1 << 40


class WeightsServer(ThreadingHTTPServer):
    """The HTTP server, holding the store, the gate and the signature verifier."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: BlobStore, gate: Gate) -> None:
        super().__init__(address, Handler)
        self.store = store
        self.gate = gate
        self.verifier = Verifier()
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelgov_weights_requests",
            "Blob requests by method and outcome (served, uploaded, refused_<HTTP status>)",
            ["method", "result"],
            registry=self.registry,
        )
        self.served_bytes = Counter(
            "modelgov_weights_served_bytes", "Blob bytes sent to members", registry=self.registry
        )
        for method, result in (("GET", "served"), ("GET", "refused_403"), ("PUT", "uploaded")):
            self.requests.labels(method, result)

    def count(self, outcome: str, method: str = "GET") -> None:
        """Tally served and refused requests (shown by /v1/health and /metrics)."""
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.requests.labels(method, outcome).inc()


class Handler(BaseHTTPRequestHandler):
    """One request."""

    server: WeightsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._read(send_body=True)

    def do_HEAD(self) -> None:
        self._read(send_body=False)

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        match = BLOB_PATH.match(url.path)
        model = parse_qs(url.query).get("model", [""])[0]
        if match is None or match.group(2) or not model:
            self._refuse(Access(False, 400, "upload to /v1/blobs/<digest>?model=<org/name>"))
            return
        signer = self._signer()
        if signer is None:
            return
        access = self.server.gate.write(signer, model)
        if not access.allowed:
            self._refuse(access)
            return
        self._receive(match.group(1), model)

    def _receive(self, digest: str, model: str) -> None:
        length = int(self.headers.get("Content-Length") or -1)
        if not 0 <= length <= MAX_UPLOAD:
            self._refuse(Access(False, 411, "send Content-Length (at most 1 TiB)"))
            return
        try:
            created = self.server.store.put(digest, _Limited(self.rfile, length))
        except WeightsError as exc:
            self._refuse(Access(False, 422, f"upload refused: {exc}"))
            return
        self.server.store.mark_pending(digest, model)
        self.server.count("uploaded", "PUT")
        self._json(201 if created else 200, {"digest": digest, "stored": True})

    def _read(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        if url.path == "/v1/health":
            self._json(200, {"ok": True, "counts": self.server.counts})
            return
        if url.path == "/metrics":
            self._metrics()
            return
        match = BLOB_PATH.match(url.path)
        if match is None:
            self._refuse(Access(False, 404, "no such endpoint; see GET /v1/blobs/<digest>"))
            return
        signer = self._signer()
        if signer is None:
            return
        digest, inner = match.group(1), match.group(2)
        try:
            access = self.server.gate.read(signer, digest)
        except RpcError as exc:
            access = Access(False, 503, f"the ledger is unreachable: {exc}", "retry later")
        if not access.allowed:
            self._refuse(access)
            return
        target = self._locate(digest, unquote(inner) if inner else None)
        if target is not None:
            self._send_file(target, digest, send_body)

    def _locate(self, digest: str, inner: str | None) -> Path | None:
        store = self.server.store
        if inner is None:
            if store.has(digest):
                return store.path(digest)
        else:
            entries = store.manifest(digest) or ()
            entry = next((e for e in entries if e.path == inner), None)
            if entry is not None and store.has("sha256:" + entry.sha256):
                return store.path("sha256:" + entry.sha256)
        self._refuse(
            Access(
                False,
                404,
                f"this store does not hold {digest}{'/' + inner if inner else ''}",
                "try another provider (modelgov query providers)",
            )
        )
        return None

    def _send_file(self, path: Path, digest: str, send_body: bool) -> None:
        size = path.stat().st_size
        span = _range(self.headers.get("Range"), size)
        if span is None:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = span
        partial = self.headers.get("Range") is not None
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{digest}"')
        self.send_header("Content-Length", str(end - start))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if send_body:
            with path.open("rb") as blob:
                for chunk in _chunks(blob, start, end):
                    self.wfile.write(chunk)
            self.server.served_bytes.inc(end - start)
        self.server.count("served", self.command)

    def _metrics(self) -> None:
        body = generate_latest(self.server.registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _signer(self) -> str | None:
        try:
            signed = self.server.verifier.verify(
                self.headers.get("Authorization"), self.command, self.path
            )
        except AuthError as exc:
            self._refuse(Access(False, 401, str(exc), "sign requests with your account key"))
            return None
        return signed.address

    def _refuse(self, access: Access) -> None:
        self.server.count(f"refused_{access.status}", self.command)
        body = {"error": HTTPStatus(access.status).phrase, "reason": access.reason}
        if access.hint:
            body["hint"] = access.hint
        self._json(access.status, body)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        raw = (json.dumps(body, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)


class _Limited:
    """Read at most ``length`` bytes of the request body."""

    def __init__(self, stream: Readable, length: int) -> None:
        self.stream = stream
        self.left = length

    def read(self, size: int = -1, /) -> bytes:
        if self.left <= 0:
            return b""
        want = self.left if size < 0 else min(size, self.left)
        data = self.stream.read(want)
        self.left -= len(data)
        return data


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single bytes range; the whole blob without a header; None if invalid."""
    if header is None:
        return 0, size
    match = RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    return (start, end) if start < end or (start == end == size == 0) else None


def _chunks(blob: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    blob.seek(start)
    left = end - start
    while left > 0:
        chunk = blob.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def serve(store_dir: Path, listen: str, node_url: str) -> WeightsServer:
    """A server bound to ``listen`` (HOST:PORT), not yet serving."""
    host, _, port = listen.rpartition(":")
    store = BlobStore(store_dir)
    store.clean_tmp()
    return WeightsServer((host or "127.0.0.1", int(port)), store, Gate(Node(node_url)))


def main(argv: list[str] | None = None) -> int:
    """``python -m chain.weights.server``: run a node's weights server until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m chain.weights.server", description=__doc__)
    parser.add_argument("--store", type=Path, required=True, help="the node's weights directory")
    parser.add_argument("--listen", default="127.0.0.1:26662", help="HOST:PORT")
    parser.add_argument("--node", default="http://127.0.0.1:26657", help="the node's RPC")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = serve(args.store, args.listen, args.node)
    log.info("serving %s on %s (ledger: %s)", args.store, args.listen, args.node)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
