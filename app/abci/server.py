"""The asyncio ABCI socket server: framing, per-connection order, dispatch, failure policy.

The engine opens four connections (consensus, mempool, query, snapshot) and pipelines requests
on each, ending a batch with Flush. Each connection is served in order; all share one
application, and since handlers are synchronous, one request runs at a time. The server never
answers with an exception response (the engine would stop on it): a failure while checking a tx
or answering a query becomes an error code, and a failure on the consensus path stops the node.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message

from app.abci.application import BaseApplication
from app.abci.wire import FramingError, frame, split_frames
from app.core.errors import INTERNAL
from app.pb.tendermint.abci import types_pb2 as abci

log = logging.getLogger("modelgov.abci")

SURVIVABLE = {"check_tx", "query"}
READ_CHUNK = 1 << 16


class FatalError(RuntimeError):
    """A request on the consensus path failed: the node must stop instead of diverging."""


class AbciServer:
    """Serve one application over TCP (``tcp://host:port``) or a unix socket (``unix://path``)."""

    def __init__(
        self,
        app: BaseApplication,
        address: str,
        observer: Callable[[str, float, Message], None] | None = None,
    ) -> None:
        self.app = app
        self.address = address
        self.observer = observer
        self.failure: BaseException | None = None
        self._stopped = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen; returns once the socket accepts connections."""
        scheme, _, rest = self.address.partition("://")
        if scheme == "unix":
            if os.path.exists(rest):
                os.unlink(rest)
            self._server = await asyncio.start_unix_server(self._serve_connection, path=rest)
        elif scheme == "tcp":
            host, _, port = rest.rpartition(":")
            self._server = await asyncio.start_server(
                self._serve_connection, host=host, port=int(port)
            )
        else:
            raise ValueError(
                f"ABCI address {self.address!r} must be tcp://HOST:PORT or unix://PATH"
            )
        log.info("ABCI server listening on %s", self.address)

    async def serve_until_stopped(self) -> None:
        """Run until ``stop()`` or a fatal failure; raises FatalError after the latter."""
        await self._stopped.wait()
        if self._server is not None:
            self._server.close()
        if self.failure is not None:
            raise FatalError(str(self.failure)) from self.failure

    def stop(self) -> None:
        """Stop serving (a signal handler calls this)."""
        self._stopped.set()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        buffer = bytearray()
        try:
            while not self._stopped.is_set():
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    return
                buffer.extend(chunk)
                for raw in split_frames(buffer):
                    if not await self._answer(raw, writer):
                        return
        except (FramingError, DecodeError) as exc:
            log.error("closing an ABCI connection that sent malformed data: %s", exc)
        except ConnectionError as exc:
            log.info("ABCI connection closed: %s", exc)
        finally:
            writer.close()

    async def _answer(self, raw: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the node must stop (nothing is answered then)."""
        request = abci.Request.FromString(raw)
        kind = request.WhichOneof("value")
        if kind == "flush":
            writer.write(frame(abci.Response(flush=abci.ResponseFlush()).SerializeToString()))
            await writer.drain()
            return True
        if kind is None:
            raise DecodeError("empty ABCI request")
        response = self._dispatch(kind, getattr(request, kind))
        if response is None:
            return False
        writer.write(frame(response.SerializeToString()))
        return True

    def _dispatch(self, kind: str, body: Message) -> abci.Response | None:
        handler: Callable[[Any], Message] = getattr(self.app, kind)
        started = time.perf_counter()
        try:
            result = handler(body)
        except Exception as exc:
            if kind in SURVIVABLE:
                log.exception("%s failed; answering with an internal error code", kind)
                return _internal_error(kind, exc)
            log.critical("%s failed: stopping the node so it cannot diverge", kind, exc_info=True)
            self.failure = exc
            self._stopped.set()
            return None
        if self.observer is not None:
            self.observer(kind, time.perf_counter() - started, result)
        response = abci.Response()
        getattr(response, kind).CopyFrom(result)
        return response


def _internal_error(kind: str, exc: Exception) -> abci.Response:
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
