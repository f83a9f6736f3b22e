"""The weights server: a node's blobs over HTTP, for the members the ledger allows.

    GET|HEAD /v1/blobs/<digest>           a version's bytes, or a directory's manifest
    GET|HEAD /v1/blobs/<digest>/<path>    one file the chain lists in the directory <digest>
    GET      /v1/uploads/<digest>?model=M&size=N
                                          may I upload N bytes for M? (and does the store hold it)
    PUT      /v1/blobs/<digest>?model=M   upload; kept only if the bytes hash to <digest>
    GET      /v1/health                   unauthenticated liveness and counts
    GET      /metrics                     Prometheus: requests by outcome, bytes served

Every blob request is signed for this store (``chain.weights.auth``: 401 says what is wrong) and
decided by one ledger query (``chain.weights.access``: 403 and 404 say why and what to do). The
server survives abuse by bounds: a fixed pool of worker threads behind a bounded queue (a
connection beyond it gets 503 at once), a timeout on every socket operation, a bound on the
transfers one organisation runs at once (429: a slow one holds a worker), headers parsed
strictly (a malformed Range or Content-Length is 400), blobs streamed in chunks, an upload sized
up front and charged to its organisation's quota on this store (413, 507), and refusals that never
wait for the ledger beyond a short RPC timeout. A refused body is read for at most the header
deadline, and only a request the ledger granted keeps its connection open, so a stranger holds a
worker for the header deadline at most, however it sends its bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import queue
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from chain.plan import NodePorts
from chain.rpc import default_node
from chain.weights.access import Access, Ledger
from chain.weights.auth import AuthError, BusyError, SignedBy, Verifier
from chain.weights.digest import WeightsError
from chain.weights.follow import Follower
from chain.weights.quota import DEFAULT_MIN_FREE, DEFAULT_QUOTA, QuotaError, Quotas, parse_size
from chain.weights.store import BlobStore, Readable

log = logging.getLogger("modelgov.weights")
BLOB_PATH = re.compile(r"^/v1/blobs/(sha256:[0-9a-f]{64})(?:/(.+))?$")
UPLOAD_PATH = re.compile(r"^/v1/uploads/(sha256:[0-9a-f]{64})$")
RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")
LENGTH = re.compile(r"[0-9]{1,19}")
CHUNK = 1024 * 1024
DRAIN_ON_REFUSAL = 64 * 1024
MAX_COPY_QUESTIONS = 4
"""Uploaders of a copy (none of them its holder) the ledger is asked about, per read: each
question is a whole read decision, licenses included."""


@dataclass(frozen=True)
class ServerConfig:
    """The bounds of one server: who it is, how many it serves at once, how long it waits."""

    origins: list[str]
    workers: int = 16
    backlog: int = 64
    socket_timeout: float = 20.0
    header_timeout: float = 10.0
    max_upload: int = 1 << 40
    per_address_connections: int = 8
    """Connections one client address may have open or queued at once (beyond: 503): each
    holds a worker or a queue slot until its header deadline even when it sends nothing, so
    without this bound one address could take them all, again every deadline."""
    per_org_transfers: int = 4
    """Downloads and uploads one organisation may have in progress at once: a transfer holds
    a worker as long as each read or write makes some progress, so without this bound one
    member trickling bodies or reading slowly could hold the whole pool."""


class BadRequest(Exception):
    """A request the server cannot parse (HTTP 400)."""


class WeightsServer(HTTPServer):
    """The HTTP server: the store, the ledger, the verifier, quotas and the worker pool."""

    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        store: BlobStore,
        ledger: Ledger,
        quotas: Quotas,
        config: ServerConfig,
    ) -> None:
        super().__init__(address, Handler)
        self.store = store
        self.ledger = ledger
        self.quotas = quotas
        self.config = config
        self.verifier = Verifier(config.origins)
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
        self._pending: queue.Queue[tuple[socket.socket, Any] | None] = queue.Queue(config.backlog)
        self._workers = [
            threading.Thread(target=self._work, name=f"weights-{i}", daemon=True)
            for i in range(config.workers)
        ]
        for worker in self._workers:
            worker.start()
        self._transfers: dict[str, int] = {}
        self._connections: dict[str, int] = {}
        self._deadlines: dict[socket.socket, float] = {}
        self._deadlines_lock = threading.Lock()
        self._closing = threading.Event()
        threading.Thread(target=self._reap, name="weights-reaper", daemon=True).start()

    def watch(self, connection: socket.socket) -> None:
        """Start the header deadline of a connection's next request."""
        with self._deadlines_lock:
            self._deadlines[connection] = time.monotonic() + self.config.header_timeout

    def unwatch(self, connection: socket.socket) -> None:
        """The request's headers are in (or the connection is done)."""
        with self._deadlines_lock:
            self._deadlines.pop(connection, None)

    def _reap(self) -> None:
        """Shut connections whose request line and headers took longer than header_timeout
        (a peer trickling bytes resets the per-read timeout but not this deadline)."""
        while not self._closing.wait(0.25):
            now = time.monotonic()
            with self._deadlines_lock:
                late = [c for c, deadline in self._deadlines.items() if deadline < now]
                for connection in late:
                    del self._deadlines[connection]
            for connection in late:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    @contextlib.contextmanager
    def transfer(self, org: str) -> Iterator[bool]:
        """A transfer slot of ``org`` for the duration: yields False when the org already has
        ``per_org_transfers`` in progress."""
        with self._lock:
            busy = self._transfers.get(org, 0) >= self.config.per_org_transfers
            if not busy:
                self._transfers[org] = self._transfers.get(org, 0) + 1
        try:
            yield not busy
        finally:
            if not busy:
                with self._lock:
                    self._transfers[org] -= 1
                    if not self._transfers[org]:
                        del self._transfers[org]

    def count(self, outcome: str, method: str = "GET") -> None:
        """Tally served and refused requests (shown by /v1/health and /metrics)."""
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.requests.labels(method, outcome).inc()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand a connection to the pool; when the queue is full, or its address has
        ``per_address_connections`` already, answer 503 and close."""
        address = str(client_address[0])
        with self._lock:
            held = self._connections.get(address, 0)
            if held < self.config.per_address_connections:
                self._connections[address] = held + 1
        if held >= self.config.per_address_connections:
            self._turn_away(request)
            return
        try:
            self._pending.put_nowait((request, client_address))
        except queue.Full:
            self._release(address)
            self._turn_away(request)

    def _turn_away(self, request: Any) -> None:
        self.count("refused_503", "-")
        _busy(request)
        self.shutdown_request(request)

    def _release(self, address: str) -> None:
        """A connection of ``address`` is closed."""
        with self._lock:
            self._connections[address] -= 1
            if not self._connections[address]:
                del self._connections[address]

    def _work(self) -> None:
        """One worker: serve queued connections until told to stop."""
        while True:
            item = self._pending.get()
            if item is None:
                return
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                self._release(str(client_address[0]))

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()
        for _ in self._workers:
            try:
                self._pending.put_nowait(None)
            except queue.Full:
                break


def _too_many(org: str, limit: int) -> Access:
    """The refusal of a transfer beyond an organisation's bound."""
    reason = f"{org} has {limit} transfers at once in progress on this store"
    return Access(False, 429, reason, "wait for one to finish, or use another provider")


def _busy(request: socket.socket) -> None:
    body = b'{"error": "Service Unavailable", "reason": "the store is busy; retry shortly"}\n'
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    try:
        request.settimeout(2)
        request.sendall(head.encode() + body)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    """One connection (one or more requests, kept alive)."""

    server: WeightsServer
    protocol_version = "HTTP/1.1"
    keep_alive = False

    def setup(self) -> None:
        """Every read and write of this connection times out (a stalled peer frees its worker)."""
        super().setup()
        self.connection.settimeout(self.server.config.socket_timeout)

    def handle_one_request(self) -> None:
        """One request, its line and headers under the header deadline."""
        self.server.watch(self.connection)
        try:
            super().handle_one_request()
        finally:
            self.server.unwatch(self.connection)

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.server.unwatch(self.connection)
        return parsed

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch(self._read_or_ask, send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(self._read_or_ask, send_body=False)

    def do_PUT(self) -> None:
        self._dispatch(self._write, send_body=True)

    def _dispatch(self, route: Any, send_body: bool) -> None:
        """Run a route; a BadRequest becomes 400 and closes the connection. Only a request the
        ledger granted keeps the connection open for another (``_granted``): every other answer
        (health, metrics, any refusal) closes it, so a stranger repeating cheap requests on one
        connection goes back to the end of the queue instead of keeping a worker for good."""
        self.keep_alive = not self.close_connection  # what the client asked for
        self.close_connection = True
        try:
            route(send_body)
        except BadRequest as exc:
            self.close_connection = True
            self._refuse(Access(False, 400, str(exc)))

    # --- reads ------------------------------------------------------------------------------

    def _read_or_ask(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        # before any route: an unread body would be parsed as the connection's next request
        _no_body(self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding"))
        if url.path == "/v1/health":
            self._json(200, {"ok": True, "counts": dict(self.server.counts)})
            return
        if url.path == "/metrics":
            self._metrics()
            return
        if UPLOAD_PATH.match(url.path):
            self._may_upload(url.path.rsplit("/", 1)[1], url.query)
            return
        match = BLOB_PATH.match(url.path)
        if match is None:
            self._refuse(Access(False, 404, "no such endpoint; see GET /v1/blobs/<digest>"))
            return
        wanted = parse_range(self.headers.get_all("Range"))
        digest, inner = match.group(1), _inner_path(match.group(2))
        signed = self._signer()
        if signed is None:
            return
        access = self._read_decision(signed.address, digest, inner)
        if self._granted(signed, access):
            name = f"{digest}/{inner}" if inner else digest
            with self.server.transfer(access.org) as free:
                if free:
                    self._serve(access.file_digest or digest, name, wanted, send_body)
                else:
                    self._answer(_too_many(access.org, self.server.config.per_org_transfers))

    def _read_decision(self, address: str, digest: str, inner: str) -> Access:
        """The ledger's answer for this store's copy: when the org that uploaded the copy is
        not the blob's holder, ask again naming it (a copy it may not name is refused)."""
        ledger = self.server.ledger
        access = ledger.read(address, digest, inner)
        if not access.allowed:
            return access
        uploaders = self.server.store.uploaders(access.file_digest or digest)
        if not uploaders or access.blob_holder in uploaders:
            return access
        refusal = access
        for uploader in uploaders[:MAX_COPY_QUESTIONS]:  # orgs that sent these bytes
            answer = ledger.read(address, digest, inner, uploader)
            if answer.allowed:
                return answer
            refusal = answer if refusal.allowed else refusal
        return refusal

    def _serve(
        self, blob: str, name: str, wanted: tuple[int | None, int | None] | None, send_body: bool
    ) -> None:
        store = self.server.store
        size = store.size(blob)
        if size is None:
            hint = "try another provider (modelgov query providers)"
            self._refuse(Access(False, 404, f"this store does not hold {name}", hint))
            return
        span = resolve_range(wanted, size)
        if span is None:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.server.count("refused_416", self.command)
            return
        self._send_file(store.path(blob), blob, span, wanted is not None, send_body)

    def _send_file(
        self, path: Path, digest: str, span: tuple[int, int], partial: bool, send_body: bool
    ) -> None:
        start, end = span
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{digest}"')
        self.send_header("Content-Length", str(end - start))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{path.stat().st_size}")
        self.end_headers()
        if send_body:
            with path.open("rb") as blob:
                for chunk in _chunks(blob, start, end):
                    self.wfile.write(chunk)
            self.server.served_bytes.inc(end - start)
        self.server.count("served", self.command)

    def _may_upload(self, digest: str, query: str) -> None:
        """GET /v1/uploads/<digest>?model=M&size=N: would an upload be taken, before sending
        it (a refused PUT closes the connection before its body)."""
        model, size_text = _one(query, "model"), _one(query, "size")
        if not LENGTH.fullmatch(size_text):
            raise BadRequest("ask /v1/uploads/<digest>?model=<org/name>&size=<bytes>")
        signed = self._signer()
        if signed is None:
            return
        access = self.server.ledger.write(signed.address, model)
        if not self._granted(signed, access):
            return
        store = self.server.store
        uploaders = store.uploaders(digest)
        # held for this org only if its upload would add nothing: a copy another org brought
        # in may be refused to readers until an org that may name it sends the bytes too
        held = store.has(digest) and (not uploaders or access.org in uploaders)
        if not store.has(digest):
            try:
                reservation = self.server.quotas.reserve(access.org, int(size_text))
            except QuotaError as exc:
                self._refuse(Access(False, exc.status, exc.reason, exc.hint))
                return
            self.server.quotas.settle(reservation, 0)
        self._json(200, {"digest": digest, "held": held, "org": access.org})

    # --- uploads ----------------------------------------------------------------------------

    def _write(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        match = BLOB_PATH.match(url.path)
        if match is None or match.group(2):
            self.close_connection = True
            raise BadRequest("upload to /v1/blobs/<digest>?model=<org/name>")
        model = _one(url.query, "model")
        length = self._length()
        if length is None:
            return
        signed = self._signer()
        if signed is None:
            return
        access = self.server.ledger.write(signed.address, model)
        if self._granted(signed, access):
            with self.server.transfer(access.org) as free:
                if free:
                    self._receive(match.group(1), model, access.org, length)
                else:
                    self._answer(_too_many(access.org, self.server.config.per_org_transfers))

    def _length(self) -> int | None:
        """The upload's Content-Length; None after refusing it (411, 413)."""
        if self.headers.get("Transfer-Encoding"):
            self._refuse_upload(Access(False, 411, "send Content-Length, not a chunked body"))
            return None
        values = self.headers.get_all("Content-Length") or []
        if not values:
            self._refuse_upload(Access(False, 411, "send Content-Length"))
            return None
        if len(values) > 1 or not LENGTH.fullmatch(values[0].strip()):
            self.close_connection = True
            raise BadRequest("Content-Length is one decimal number of bytes")
        length = int(values[0])
        if length > self.server.config.max_upload:
            limit = self.server.config.max_upload
            self._refuse_upload(Access(False, 413, f"a blob is at most {limit} bytes here"))
            return None
        return length

    def _receive(self, digest: str, model: str, org: str, length: int) -> None:
        store, quotas = self.server.store, self.server.quotas
        if store.has(digest):
            self._held(digest, model, org, length)
            return
        try:
            reservation = quotas.reserve(org, length)
        except QuotaError as exc:
            self._refuse_upload(Access(False, exc.status, exc.reason, exc.hint))
            return
        body = _Limited(self.rfile, length)
        stored = 0
        try:
            created = store.put(digest, body)
            if created:
                store.set_owner(digest, org)
                stored = length
            elif body.left == 0:  # its bytes were verified, but another upload ended first
                store.add_uploader(digest, org)
        except WeightsError as exc:
            self.close_connection = body.left > 0
            self._refuse(Access(False, 422, f"upload refused: {exc}"))
            return
        finally:
            quotas.settle(reservation, stored)
        self._drain(body.left)
        store.mark_pending(digest, model)
        self.server.count("uploaded", "PUT")
        self._json(201 if created else 200, {"digest": digest, "stored": True})

    def _held(self, digest: str, model: str, org: str, length: int) -> None:
        """An upload of a blob the store holds. From an org that has not uploaded it yet, the
        bytes are hashed as they are read: if they are the blob, that org counts as an uploader
        too, so an org that sent a blob first (one it may not name) cannot keep the holder's
        own upload from making the store's copy servable. A blob the operator placed (no
        uploader) stays the operator's: an upload never subjects it to the copy check."""
        store = self.server.store
        uploaders = store.uploaders(digest)
        if not uploaders or org in uploaders:  # placed by the operator, or already this org's
            self._drain(length)
        else:
            got = self._drain(length, hashlib.sha256())
            if got != digest:
                self._refuse(Access(False, 422, f"upload refused: the bytes hash to {got}"))
                return
            store.add_uploader(digest, org)
        store.mark_pending(digest, model)
        self._json(200, {"digest": digest, "stored": True})

    def _drain(self, length: int, hasher: Any = None) -> str | None:
        """Read and drop a body the server does not keep, so the connection stays usable;
        with ``hasher``, the digest of what was read (all of it, else ""); None when the body
        ended early (the connection is closed)."""
        left = length
        while left > 0:
            chunk = self.rfile.read(min(CHUNK, left))
            if not chunk:
                self.close_connection = True
                return None
            if hasher is not None:
                hasher.update(chunk)
            left -= len(chunk)
        return "sha256:" + hasher.hexdigest() if hasher is not None else ""

    def _refuse_upload(self, access: Access) -> None:
        """Refuse before reading the body: read a little of it (so a small client sees the
        answer) and close the connection."""
        self.close_connection = True
        length = self.headers.get("Content-Length", "")
        if LENGTH.fullmatch(length.strip()) and int(length) <= DRAIN_ON_REFUSAL:
            # under the header deadline: a refused peer (anyone, unsigned) trickling this body
            # a byte per socket timeout would otherwise hold the worker for days
            self.server.watch(self.connection)
            try:
                drained = self._drain(int(length))
            except OSError:
                return
            finally:
                self.server.unwatch(self.connection)
            self.close_connection = True
            if drained is None:  # cut off at the deadline, or the peer left: nobody to answer
                return
        self._refuse(access)

    # --- shared -----------------------------------------------------------------------------

    def _metrics(self) -> None:
        body = generate_latest(self.server.registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _signer(self) -> SignedBy | None:
        """The verified signer, or None after answering 401."""
        try:
            return self.server.verifier.verify(
                self.headers.get("Authorization"), self.command, self.path
            )
        except AuthError as exc:
            self._answer(Access(False, 401, str(exc), "sign requests with your account key"))
            return None

    def _granted(self, signed: SignedBy, access: Access) -> bool:
        """Whether the ledger allowed the request and its nonce is fresh; False after answering
        the refusal (403/404 from the ledger, 401 for a replay, 429 when the key is too busy)."""
        if not access.allowed:
            self._answer(access)
            return False
        try:
            self.server.verifier.accept(signed)
        except AuthError as exc:
            self._answer(Access(False, 401, str(exc), "sign every request afresh"))
            return False
        except BusyError as exc:
            self._answer(Access(False, 429, str(exc), "slow down and retry"))
            return False
        self.close_connection = not self.keep_alive
        return True

    def _answer(self, access: Access) -> None:
        """Refuse; an upload's body is not read, so its connection closes."""
        if self.command == "PUT":
            self._refuse_upload(access)
        else:
            self._refuse(access)

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
        if self.close_connection:
            self.send_header("Connection", "close")
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


def parse_range(values: list[str] | None) -> tuple[int | None, int | None] | None:
    """The (first, last) of a single ``bytes=`` range, either open; None without a Range header.

    Raises BadRequest for anything else: several Range headers or ranges, another unit, digits
    beyond 19, an empty range, last before first.
    """
    if not values:
        return None
    match = RANGE.fullmatch(values[0].strip()) if len(values) == 1 else None
    if match is None or match.group(1) == match.group(2) == "":
        raise BadRequest("Range is one of bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX")
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    if first is not None and last is not None and last < first:
        raise BadRequest("a Range's last byte comes before its first")
    return first, last


def resolve_range(
    wanted: tuple[int | None, int | None] | None, size: int
) -> tuple[int, int] | None:
    """[start, end) of a parsed range within ``size`` bytes; None when it is unsatisfiable."""
    if wanted is None:
        return 0, size
    first, last = wanted
    if first is None:
        start, end = max(0, size - (last or 0)), size
        return (start, end) if end > start else None
    if first >= size:
        return None
    return first, size if last is None else min(size, last + 1)


def _no_body(length: str | None, encoding: str | None) -> None:
    """A read carries no body (one would desynchronise the kept-alive connection)."""
    if encoding or (length is not None and length.strip() != "0"):
        raise BadRequest("a GET or HEAD carries no body")


def _inner_path(raw: str | None) -> str:
    """The file path of a directory request, percent-decoded as UTF-8."""
    if raw is None:
        return ""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the file path is not UTF-8") from None


def _one(query: str, name: str) -> str:
    """The single value of a query parameter; raises BadRequest when missing or repeated."""
    try:
        values = parse_qs(query, strict_parsing=False, errors="strict").get(name, [])
    except UnicodeDecodeError:
        raise BadRequest("the query is not UTF-8") from None
    if len(values) != 1 or not values[0]:
        raise BadRequest(f"give ?{name}= once")
    return values[0]


def _chunks(blob: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    blob.seek(start)
    left = end - start
    while left > 0:
        chunk = blob.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def serve(
    store_dir: Path,
    listen: str,
    node_url: str,
    origins: list[str] | None = None,
    quotas: dict[str, Any] | None = None,
    **bounds: Any,
) -> WeightsServer:
    """A server bound to ``listen`` (HOST:PORT), not yet serving. ``origins`` are the URLs
    requests are signed for (default: http://HOST:PORT); ``quotas`` the keyword arguments of
    ``Quotas``; ``bounds`` override ``ServerConfig`` (workers, backlog, socket_timeout...)."""
    host, _, port = listen.rpartition(":")
    store = BlobStore(store_dir)
    store.clean_tmp()
    config = ServerConfig(origins or default_origins(host, int(port)), **bounds)
    return WeightsServer(
        (host or "127.0.0.1", int(port)),
        store,
        Ledger(node_url),
        Quotas(store, **(quotas or {})),
        config,
    )


def default_origins(host: str, port: int) -> list[str]:
    """What clients sign for when no --url is given: the listen address; for a wildcard one
    (a container's 0.0.0.0) the loopback names and this host's name on that port."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        names = ["127.0.0.1", "localhost", socket.gethostname()]
        return [f"http://{name}:{port}" for name in dict.fromkeys(names)]
    return [f"http://{host}:{port}"]


def main(argv: list[str] | None = None) -> int:
    """``python -m chain.weights.server``: run a node's weights server until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m chain.weights.server", description=__doc__)
    parser.add_argument("--store", type=Path, required=True, help="the node's weights directory")
    listen = f"127.0.0.1:{NodePorts.of(0).weights}"
    parser.add_argument("--listen", default=listen, help="HOST:PORT (default: node 0's)")
    parser.add_argument("--node", default=default_node(), help="the node's RPC")
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        help="a public URL of this store, as clients sign for it (repeat; default the listen one)",
    )
    parser.add_argument("--workers", type=int, default=16, help="requests served at once")
    parser.add_argument(
        "--per-org-transfers", type=int, default=4, help="transfers one org may run at once"
    )
    parser.add_argument(
        "--per-address-connections",
        type=int,
        default=8,
        help="connections one client address may hold at once; then 503",
    )
    parser.add_argument("--backlog", type=int, default=64, help="connections waiting; then 503")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per socket read/write")
    parser.add_argument(
        "--header-timeout", type=float, default=10.0, help="seconds for a request's headers"
    )
    parser.add_argument("--quota", default=str(DEFAULT_QUOTA), help="bytes per org (64G, 512M...)")
    parser.add_argument(
        "--org-quota", action="append", default=[], metavar="ORG=SIZE", help="one org's quota"
    )
    parser.add_argument("--min-free", default=str(DEFAULT_MIN_FREE), help="disk kept free")
    parser.add_argument(
        "--follow-interval",
        type=float,
        default=5.0,
        help="seconds between passes over the followed models (chain.weights.follow); a new "
        "version of a followed model starts one at once",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    per_org = {}
    for item in args.org_quota:
        org, sep, size = item.partition("=")
        if not sep:
            parser.error(f"--org-quota takes ORG=SIZE, not {item!r}")
        per_org[org] = parse_size(size)
    server = serve(
        args.store,
        args.listen,
        args.node,
        origins=args.url or None,
        quotas={
            "default": parse_size(args.quota),
            "per_org": per_org,
            "min_free": parse_size(args.min_free),
        },
        workers=args.workers,
        per_org_transfers=args.per_org_transfers,
        per_address_connections=args.per_address_connections,
        backlog=args.backlog,
        socket_timeout=args.timeout,
        header_timeout=args.header_timeout,
    )
    origins = ", ".join(server.config.origins)
    log.info("serving %s on %s as %s (ledger: %s)", args.store, args.listen, origins, args.node)
    Follower(args.store, args.node, args.follow_interval).start()  # see `weights follow`
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
