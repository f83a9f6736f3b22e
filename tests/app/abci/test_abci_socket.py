"""The ABCI server over a real TCP socket: pipelining, Flush, order, and the failure policy."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import pytest
from driver import Driver, register

from app.abci.server import AbciServer, FatalError
from app.abci.wire import frame, split_frames
from app.core import errors
from app.pb.tendermint.abci import types_pb2 as abci

TIMEOUT = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _request(**kwargs: object) -> bytes:
    return frame(abci.Request(**kwargs).SerializeToString())  # type: ignore[arg-type]


FLUSH = _request(flush=abci.RequestFlush())


class Client:
    """One ABCI connection, as the engine opens them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = bytearray()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, count: int) -> list[abci.Response]:
        """Exactly ``count`` responses (fails on EOF or timeout)."""
        frames: list[bytes] = []
        while len(frames) < count:
            chunk = await asyncio.wait_for(self.reader.read(4096), TIMEOUT)
            assert chunk, f"connection closed after {len(frames)} of {count} responses"
            self.buffer.extend(chunk)
            frames.extend(split_frames(self.buffer))
        assert len(frames) == count
        return [abci.Response.FromString(f) for f in frames]

    async def receive_until_closed(self) -> list[abci.Response]:
        frames: list[bytes] = []
        while chunk := await asyncio.wait_for(self.reader.read(4096), TIMEOUT):
            self.buffer.extend(chunk)
            frames.extend(split_frames(self.buffer))
        return [abci.Response.FromString(f) for f in frames]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


Scenario = Callable[[AbciServer, Callable[[], Awaitable[Client]]], Awaitable[None]]


def _serve(driver: Driver, scenario: Scenario) -> None:
    """Run ``scenario`` against a server on a free port, then stop it cleanly."""

    async def main() -> None:
        address = f"tcp://127.0.0.1:{_free_port()}"
        server = AbciServer(driver.app, address)
        await server.start()
        host, port = address.removeprefix("tcp://").split(":")

        async def connect() -> Client:
            reader, writer = await asyncio.open_connection(host, int(port))
            return Client(reader, writer)

        try:
            await scenario(server, connect)
        finally:
            server.stop()
            await server.serve_until_stopped()

    asyncio.run(asyncio.wait_for(main(), 4 * TIMEOUT))


def test_pipelined_requests_answered_in_order(chain: Driver) -> None:
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        client = await connect()
        await client.send(
            _request(echo=abci.RequestEcho(message="one"))
            + _request(info=abci.RequestInfo())
            + _request(check_tx=abci.RequestCheckTx(tx=tx))
            + _request(check_tx=abci.RequestCheckTx(tx=tx))
            + _request(query=abci.RequestQuery(path="/members/org", data=b'{"id": "uni"}'))
            + _request(echo=abci.RequestEcho(message="two"))
            + FLUSH
        )
        responses = await client.receive(7)
        kinds = [r.WhichOneof("value") for r in responses]
        assert kinds == ["echo", "info", "check_tx", "check_tx", "query", "echo", "flush"]
        assert responses[0].echo.message == "one"
        assert responses[1].info.last_block_height == chain.height
        assert responses[2].check_tx.code == 0
        assert responses[3].check_tx.code == errors.NONCE_REPLAYED.code
        assert responses[4].query.code == 0
        assert responses[5].echo.message == "two"
        await client.close()

    _serve(chain, scenario)


def test_request_split_across_writes(chain: Driver) -> None:
    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        client = await connect()
        data = _request(echo=abci.RequestEcho(message="x" * 300)) + FLUSH
        for i in range(0, len(data), 7):
            await client.send(data[i : i + 7])
            await asyncio.sleep(0)
        responses = await client.receive(2)
        assert responses[0].echo.message == "x" * 300
        assert responses[1].WhichOneof("value") == "flush"
        await client.close()

    _serve(chain, scenario)


def test_a_whole_block_over_the_consensus_connection(chain: Driver) -> None:
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        mempool, consensus = await connect(), await connect()
        await mempool.send(_request(check_tx=abci.RequestCheckTx(tx=tx)) + FLUSH)
        assert (await mempool.receive(2))[0].check_tx.code == 0
        await consensus.send(
            _request(process_proposal=abci.RequestProcessProposal(txs=[tx], height=2))
            + _request(finalize_block=abci.RequestFinalizeBlock(txs=[tx], height=2))
            + _request(commit=abci.RequestCommit())
            + FLUSH
        )
        responses = await consensus.receive(4)
        assert responses[0].process_proposal.status == abci.ResponseProcessProposal.ACCEPT
        assert [r.code for r in responses[1].finalize_block.tx_results] == [0]
        assert responses[2].WhichOneof("value") == "commit"
        assert chain.store.root == responses[1].finalize_block.app_hash
        await mempool.close()
        await consensus.close()

    _serve(chain, scenario)


def test_check_tx_failure_answers_internal_and_keeps_serving(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(req: abci.RequestCheckTx) -> abci.ResponseCheckTx:
        raise KeyError("boom")

    monkeypatch.setattr(chain.app, "check_tx", broken)

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        client = await connect()
        await client.send(
            _request(check_tx=abci.RequestCheckTx(tx=b"x"))
            + _request(echo=abci.RequestEcho(message="alive"))
            + FLUSH
        )
        responses = await client.receive(3)
        check = responses[0].check_tx
        assert (check.codespace, check.code) == ("tx", 16)
        assert (errors.INTERNAL.codespace, errors.INTERNAL.code) == ("tx", 16)
        assert "KeyError" in check.log
        assert responses[1].echo.message == "alive"
        assert not any(r.HasField("exception") for r in responses)
        await client.close()

    _serve(chain, scenario)


def test_query_failure_answers_internal(chain: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(req: abci.RequestQuery) -> abci.ResponseQuery:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(chain.app, "query", broken)

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        client = await connect()
        await client.send(_request(query=abci.RequestQuery(path="/x")) + FLUSH)
        responses = await client.receive(2)
        assert (responses[0].query.codespace, responses[0].query.code) == ("tx", 16)
        await client.close()

    _serve(chain, scenario)


def test_finalize_block_failure_stops_the_node(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(req: abci.RequestFinalizeBlock) -> abci.ResponseFinalizeBlock:
        raise ValueError("invariant broken")

    monkeypatch.setattr(chain.app, "finalize_block", broken)

    async def main() -> None:
        server = AbciServer(chain.app, f"tcp://127.0.0.1:{_free_port()}")
        await server.start()
        port = int(server.address.rpartition(":")[2])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = Client(reader, writer)
        await client.send(
            _request(echo=abci.RequestEcho(message="before"))
            + _request(finalize_block=abci.RequestFinalizeBlock(height=2))
            + _request(echo=abci.RequestEcho(message="after"))
            + FLUSH
        )
        responses = await client.receive_until_closed()
        assert [r.WhichOneof("value") for r in responses] == ["echo"]
        assert not any(r.HasField("exception") for r in responses)
        with pytest.raises(FatalError, match="invariant broken"):
            await asyncio.wait_for(server.serve_until_stopped(), TIMEOUT)
        assert isinstance(server.failure, ValueError)
        await client.close()

    asyncio.run(main())


def test_malformed_stream_closes_only_that_connection(chain: Driver) -> None:
    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        bad, good = await connect(), await connect()
        await bad.send(b"\xff" * 11)
        assert await bad.receive_until_closed() == []
        await good.send(_request(echo=abci.RequestEcho(message="still here")) + FLUSH)
        assert (await good.receive(2))[0].echo.message == "still here"
        await good.close()
        await bad.close()

    _serve(chain, scenario)
