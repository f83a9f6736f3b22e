"""The ABCI server over a real TCP socket: pipelining, Flush, order, and the failure policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from abci_client import FLUSH, TIMEOUT, Client, Scenario, free_port, request, serve
from driver import Driver, register

from app.abci.server import AbciServer, FatalError
from app.core import errors
from app.pb.tendermint.abci import types_pb2 as abci

_request = request


def _serve(driver: Driver, scenario: Scenario) -> None:
    serve(driver.app, scenario)


def test_pipelined_requests_answered_in_order(chain: Driver) -> None:
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        query, mempool = await connect(), await connect()
        await query.send(
            _request(echo=abci.RequestEcho(message="one"))
            + _request(info=abci.RequestInfo())
            + _request(query=abci.RequestQuery(path="/members/org", data=b'{"id": "uni"}'))
            + _request(echo=abci.RequestEcho(message="two"))
            + FLUSH
        )
        await mempool.send(
            _request(check_tx=abci.RequestCheckTx(tx=tx))
            + _request(echo=abci.RequestEcho(message="three"))
            + _request(check_tx=abci.RequestCheckTx(tx=tx))
            + FLUSH
        )
        responses = await query.receive(5)
        kinds = [r.WhichOneof("value") for r in responses]
        assert kinds == ["echo", "info", "query", "echo", "flush"]
        assert responses[0].echo.message == "one"
        assert responses[1].info.last_block_height == chain.height
        assert responses[2].query.code == 0
        assert responses[3].echo.message == "two"
        responses = await mempool.receive(4)
        assert [r.WhichOneof("value") for r in responses] == [
            "check_tx",
            "echo",
            "check_tx",
            "flush",
        ]
        assert responses[0].check_tx.code == 0
        assert responses[1].echo.message == "three"
        assert responses[2].check_tx.code == errors.NONCE_REPLAYED.code
        await query.close()
        await mempool.close()

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
        server = AbciServer(chain.app, f"tcp://127.0.0.1:{free_port()}")
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
