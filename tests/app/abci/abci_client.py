"""An ABCI client for the socket tests: frames requests as the engine does and reads answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

from app.abci.application import BaseApplication
from app.abci.server import AbciServer
from app.abci.wire import frame, split_frames
from app.pb.tendermint.abci import types_pb2 as abci

TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def request(**kwargs: object) -> bytes:
    """One framed request, e.g. ``request(echo=abci.RequestEcho(message="x"))``."""
    return frame(abci.Request(**kwargs).SerializeToString())  # type: ignore[arg-type]


FLUSH = request(flush=abci.RequestFlush())


class Client:
    """One ABCI connection, as the engine opens them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = bytearray()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, count: int, timeout: float = TIMEOUT) -> list[abci.Response]:
        """Exactly ``count`` responses (fails on EOF or timeout)."""
        frames: list[bytes] = []
        while len(frames) < count:
            chunk = await asyncio.wait_for(self.reader.read(4096), timeout)
            assert chunk, f"connection closed after {len(frames)} of {count} responses"
            self.buffer.extend(chunk)
            frames.extend(split_frames(self.buffer))
        assert len(frames) == count
        return [abci.Response.FromString(f) for f in frames]

    async def call(self, data: bytes) -> abci.Response:
        """Send one request and a Flush; the request's response."""
        await self.send(data + FLUSH)
        response, flush = await self.receive(2)
        assert flush.WhichOneof("value") == "flush"
        return response

    async def receive_until_closed(self) -> list[abci.Response]:
        frames: list[bytes] = []
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(self.reader.read(4096), TIMEOUT):
                self.buffer.extend(chunk)
                frames.extend(split_frames(self.buffer))
        return [abci.Response.FromString(f) for f in frames]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


Connect = Callable[[], Awaitable[Client]]
Scenario = Callable[[AbciServer, Connect], Awaitable[None]]


def serve(app: BaseApplication, scenario: Scenario, limit: float = 4 * TIMEOUT) -> None:
    """Run ``scenario`` against a server on a free port, then stop it cleanly."""

    async def main() -> None:
        port = free_port()
        server = AbciServer(app, f"tcp://127.0.0.1:{port}")
        await server.start()

        async def connect() -> Client:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            return Client(reader, writer)

        try:
            await scenario(server, connect)
        finally:
            server.stop()
            await server.serve_until_stopped()

    asyncio.run(asyncio.wait_for(main(), limit))
