"""The asyncio ABCI socket server: framing, connection roles, per-connection order, dispatch,
failure policy.

The engine opens four connections (query, snapshot, mempool, consensus; CometBFT v0.38's
``proxy/multi_app_conn.go``) and pipelines requests on each, ending a batch with Flush. Each
connection is answered in order. A connection's role is learned from its first request that
belongs to one (Echo and Flush belong to all): consensus (InitChain, PrepareProposal,
ProcessProposal, ExtendVote, VerifyVoteExtension, FinalizeBlock, Commit), mempool (CheckTx),
query (Info, Query) or snapshot (the four snapshot methods); only one connection at a time holds
the consensus role.

Consensus and mempool requests run on the event loop, one at a time. Query requests run on one
worker thread against a snapshot of the last committed state, so a long query never holds up a
block; the worker's ``pause_point`` waits while a consensus request is being handled, so that
the two do not share the interpreter while consensus works. And since the loop thread, woken by
a request, waits for the interpreter lock up to the switch interval while the worker runs, the
server shortens that interval (5 ms by default) to SWITCH_INTERVAL.

Failure policy. The server never answers with an exception response (the engine would stop on
it). A request the engine never sends where it came (a method of another role, a second
consensus connection, Commit without a block, FinalizeBlock at another height, a second
InitChain) and bytes that are not ABCI frames close that connection, with an error logged: the
node goes on. A Query that does not decode is the exception: the engine passes an RPC
client's path through as any bytes, one that is not UTF-8 fails to parse, and the engine stops
itself when an ABCI connection closes in an error, so it is refused with bad_query and the
connection goes on. A failure while checking a tx or answering a query becomes an error code. A
failure of any other request is a real fault (storage, a broken invariant) and stops the node.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf.message import DecodeError, Message

from app.abci.application import BaseApplication, OutOfOrder
from app.abci.wire import FramingError, frame, split_frames
from app.core.errors import BAD_QUERY, INTERNAL
from app.core.pause import set_pause_hook
from app.pb.tendermint.abci import types_pb2 as abci

log = logging.getLogger("modelgov.abci")

CONSENSUS, MEMPOOL, QUERY, SNAPSHOT = "consensus", "mempool", "query", "snapshot"
ROLES: dict[str, str] = {
    "init_chain": CONSENSUS,
    "prepare_proposal": CONSENSUS,
    "process_proposal": CONSENSUS,
    "extend_vote": CONSENSUS,
    "verify_vote_extension": CONSENSUS,
    "finalize_block": CONSENSUS,
    "commit": CONSENSUS,
    "check_tx": MEMPOOL,
    "info": QUERY,
    "query": QUERY,
    "list_snapshots": SNAPSHOT,
    "offer_snapshot": SNAPSHOT,
    "load_snapshot_chunk": SNAPSHOT,
    "apply_snapshot_chunk": SNAPSHOT,
}
"""The connection each method belongs to; Echo and Flush belong to every connection."""
SURVIVABLE = {"check_tx", "query"}
QUERY_TAG = bytes([abci.Request.DESCRIPTOR.fields_by_name["query"].number << 3 | 2])
"""The first byte of a framed Query request (its oneof field, length-delimited)."""
READ_CHUNK = 1 << 16
SWITCH_INTERVAL = 0.0005
"""Seconds a thread waiting for the interpreter lock waits before the running one must yield."""


class Observer(Protocol):
    """What the server reports after each answered request (the app's metrics): the method,
    its wall seconds, its response, the CPU seconds of the thread that answered it, and whether
    it was a CheckTx the engine sent again after a block (a recheck)."""

    def __call__(
        self,
        method: str,
        seconds: float,
        response: Message,
        cpu_seconds: float = 0.0,
        recheck: bool = False,
    ) -> None: ...


class FatalError(RuntimeError):
    """A request on the consensus path failed: the node must stop instead of diverging."""


class Refused(Exception):
    """A request the engine never sends on this connection: the connection is closed."""


class QueryAborted(BaseException):
    """Raised at a pause point of the query worker when the server stops (a BaseException, so
    that no ``except Exception`` of the code being paused swallows it)."""


@dataclass
class Connection:
    """One accepted connection and the role its requests gave it (None until one did)."""

    number: int
    peer: str
    role: str | None = None


class AbciServer:
    """Serve one application over TCP (``tcp://host:port``) or a unix socket (``unix://path``).

    A unix socket is created owner-only (mode 0600); which TCP hosts are acceptable is the
    caller's policy (``python -m app`` binds loopback unless told otherwise).
    """

    def __init__(
        self,
        app: BaseApplication,
        address: str,
        observer: Observer | None = None,
    ) -> None:
        self.app = app
        self.address = address
        self.observer = observer
        self.failure: BaseException | None = None
        self._stopped = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._numbers = itertools.count(1)
        self._consensus: Connection | None = None
        self._consensus_idle = threading.Event()
        self._consensus_idle.set()
        self._aborting = threading.Event()
        self._worker = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="abci-query",
            initializer=set_pause_hook,
            initargs=(self._pause,),
        )

    async def start(self) -> None:
        """Listen; returns once the socket accepts connections."""
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        scheme, _, rest = self.address.partition("://")
        if scheme == "unix":
            self._server = await _owner_only_unix_server(self._serve_connection, rest)
        elif scheme == "tcp":
            host, _, port = rest.rpartition(":")
            self._server = await asyncio.start_server(
                self._serve_connection, host=host.strip("[]"), port=int(port)
            )
        else:
            raise ValueError(
                f"ABCI address {self.address!r} must be tcp://HOST:PORT or unix://PATH"
            )
        log.info("ABCI server listening on %s", self.address)

    async def serve_until_stopped(self) -> None:
        """Run until ``stop()`` or a fatal failure; raises FatalError after the latter.

        The query worker is stopped first (a query waiting at a pause point is aborted), so the
        caller may close the store once this returns.
        """
        await self._stopped.wait()
        if self._server is not None:
            self._server.close()
        self._aborting.set()
        self._consensus_idle.set()
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self.failure is not None:
            raise FatalError(str(self.failure)) from self.failure

    def stop(self) -> None:
        """Stop serving (a signal handler calls this)."""
        self._stopped.set()

    def _pause(self) -> None:
        """The query worker's pause point: wait while a consensus request runs; abort once the
        server stops."""
        self._consensus_idle.wait()
        if self._aborting.is_set():
            raise QueryAborted

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = Connection(next(self._numbers), str(writer.get_extra_info("peername") or "local"))
        buffer = bytearray()
        try:
            while not self._stopped.is_set():
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    return
                buffer.extend(chunk)
                for raw in split_frames(buffer):
                    if not await self._answer(conn, raw, writer):
                        return
        except (FramingError, DecodeError, Refused, OutOfOrder) as exc:
            log.error("closing ABCI connection %d (%s): %s", conn.number, conn.role, exc)
        except ConnectionError as exc:
            log.info("ABCI connection %d closed: %s", conn.number, exc)
        finally:
            self._release(conn)
            writer.close()

    def _release(self, conn: Connection) -> None:
        """Forget a closed connection; the consensus role is free again, and what the app held
        for the engine that had it (a finalized, uncommitted block) is dropped."""
        if self._consensus is conn:
            self._consensus = None
            log.info("ABCI consensus connection %d closed", conn.number)
            self.app.consensus_closed()

    async def _answer(self, conn: Connection, raw: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the node must stop (nothing is answered then)."""
        try:
            request = abci.Request.FromString(raw)
        except DecodeError:
            if not raw.startswith(QUERY_TAG):
                raise
            # a client's query whose text is not UTF-8 (the engine passes RPC bytes through)
            self._claim(conn, "query")
            response: abci.Response | None = _unreadable_query()
        else:
            kind = request.WhichOneof("value")
            if kind is None:
                raise DecodeError("empty ABCI request")
            if kind == "flush":
                response = abci.Response(flush=abci.ResponseFlush())
            else:
                role = self._claim(conn, kind)
                response = await self._respond(role, kind, getattr(request, kind))
        if response is None:
            return False
        writer.write(frame(response.SerializeToString()))
        await writer.drain()
        return True

    def _claim(self, conn: Connection, kind: str) -> str | None:
        """The role ``kind`` needs, given to ``conn`` if it had none; raises Refused when the
        connection has another role or another connection holds the consensus role."""
        role = ROLES.get(kind)
        if kind != "echo" and role is None:
            raise Refused(f"no ABCI method {kind}")
        if role is None or role == conn.role:
            return conn.role
        if conn.role is not None:
            raise Refused(f"{kind} on the {conn.role} connection")
        if role == CONSENSUS:
            if self._consensus is not None:
                raise Refused(f"{kind}: connection {self._consensus.number} is the consensus one")
            self._consensus = conn
        conn.role = role
        log.info("ABCI connection %d (%s) is the %s connection", conn.number, conn.peer, role)
        return role

    async def _respond(self, role: str | None, kind: str, body: Message) -> abci.Response | None:
        """Run the handler where its role runs: queries on the worker, the rest on the loop
        (consensus requests with the worker held)."""
        if role != QUERY:
            return self._dispatch(kind, body, consensus=role == CONSENSUS)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            result, cpu = await loop.run_in_executor(self._worker, self._timed_call, kind, body)
        except (Exception, QueryAborted) as exc:
            return self._failed(kind, exc)
        return self._answered(kind, body, started, result, cpu)

    def _dispatch(self, kind: str, body: Message, consensus: bool = False) -> abci.Response | None:
        """Answer a request on the calling thread; None when the node must stop. OutOfOrder
        propagates (the connection is closed)."""
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            result = self._consensus_call(kind, body) if consensus else self._call(kind, body)
        except OutOfOrder:
            raise
        except Exception as exc:
            return self._failed(kind, exc)
        return self._answered(kind, body, started, result, time.thread_time() - cpu)

    def _answered(
        self, kind: str, body: Message, started: float, result: Message, cpu: float
    ) -> abci.Response:
        """Report a handler's result to the observer and wrap it in a Response."""
        if self.observer is not None:
            recheck = isinstance(body, abci.RequestCheckTx) and body.type == abci.RECHECK
            self.observer(kind, time.perf_counter() - started, result, cpu, recheck)
        response = abci.Response()
        getattr(response, kind).CopyFrom(result)
        return response

    def _call(self, kind: str, body: Message) -> Message:
        handler: Callable[[Any], Message] = getattr(self.app, kind)
        return handler(body)

    def _timed_call(self, kind: str, body: Message) -> tuple[Message, float]:
        """``_call`` on the query worker, with the CPU seconds the worker thread spent on it."""
        cpu = time.thread_time()
        result = self._call(kind, body)
        return result, time.thread_time() - cpu

    def _consensus_call(self, kind: str, body: Message) -> Message:
        """A consensus request, with the query worker held at its next pause point."""
        self._consensus_idle.clear()
        try:
            return self._call(kind, body)
        finally:
            self._consensus_idle.set()

    def _failed(self, kind: str, exc: BaseException) -> abci.Response | None:
        """The answer to a failed request: an internal error code where that is survivable,
        else None after marking the node to stop."""
        if kind in SURVIVABLE:
            log.error("%s failed; answering with an internal error code", kind, exc_info=exc)
            return _internal_error(kind, exc)
        log.critical("%s failed: stopping the node so it cannot diverge", kind, exc_info=exc)
        self.failure = exc
        self._stopped.set()
        return None


async def _owner_only_unix_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any], path: str
) -> asyncio.AbstractServer:
    """A unix socket only its owner may connect to: created under umask 077 (so it is never
    open to others, not even between bind and chmod) and then set to 0600."""
    if os.path.exists(path):
        os.unlink(path)
    previous = os.umask(0o077)
    try:
        server = await asyncio.start_unix_server(handler, path=path)
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    return server


def _unreadable_query() -> abci.Response:
    """The answer to a Query that does not decode: CometBFT passes an RPC client's
    ``abci_query?path=0x..`` through as any bytes, and a path that is not UTF-8 fails to
    parse. Closing the connection would stop the node (the engine kills itself when an ABCI
    connection ends in an error), so anyone reaching RPC could stop it: refuse the query."""
    refusal = abci.ResponseQuery(
        code=BAD_QUERY.code,
        codespace=BAD_QUERY.codespace,
        log="bad_query: the query's path is not UTF-8",
    )
    return abci.Response(query=refusal)


def _internal_error(kind: str, exc: BaseException) -> abci.Response:
    log_text = f"internal error: {type(exc).__name__}: {exc}"
    if kind == "check_tx":
        return abci.Response(
            check_tx=abci.ResponseCheckTx(
                code=INTERNAL.code, codespace=INTERNAL.codespace, log=log_text
            )
        )
    return abci.Response(
        query=abci.ResponseQuery(code=INTERNAL.code, codespace=INTERNAL.codespace, log=log_text)
    )
