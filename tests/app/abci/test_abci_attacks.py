"""Attacks on the consensus-facing surface by whoever reaches a node's RPC port or runs a
modified node: each test is an input that once stopped, stalled or split the nodes, or one
that could and must keep failing to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from abci_client import FLUSH, Client, request, serve
from driver import Driver

from app.abci.server import AbciServer
from app.abci.wire import frame
from app.core import errors
from app.pb.tendermint.abci import types_pb2 as abci


def _query_frame(path: bytes, data: bytes = b"") -> bytes:
    """A Query request whose path is ``path`` as raw bytes: CometBFT's RPC passes
    ``/abci_query?path=0x..`` through as any bytes (a Go string is not checked for UTF-8)."""
    placeholder = "P" * len(path)
    raw = abci.Request(query=abci.RequestQuery(path=placeholder, data=data)).SerializeToString()
    return frame(raw.replace(placeholder.encode(), path))


def test_a_query_path_that_is_not_utf8_is_refused_and_the_connection_stays(
    chain: Driver,
) -> None:
    """An RPC user's ``abci_query`` with a path of bytes that are not UTF-8 did not decode as
    an ABCI request, so the server closed the query connection, and CometBFT kills itself
    when any of its ABCI connections ends in an error: anyone reaching the RPC port could
    stop every node. It is answered as a bad query instead, in order, and the connection
    goes on serving."""

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        query = await connect()
        await query.send(
            request(info=abci.RequestInfo())
            + _query_frame(b"/members/org\xff\xfe", b'{"id": "uni"}')
            + request(query=abci.RequestQuery(path="/members/org", data=b'{"id": "uni"}'))
            + FLUSH
        )
        info, refused, answered, flush = await query.receive(4)
        assert info.info.last_block_height == chain.height
        assert refused.WhichOneof("value") == "query"
        bad = (refused.query.codespace, refused.query.code)
        assert bad == (errors.BAD_QUERY.codespace, errors.BAD_QUERY.code), refused.query.log
        assert answered.query.code == 0
        assert flush.WhichOneof("value") == "flush"
        assert server.failure is None
        await query.close()

    serve(chain.app, scenario)


def test_garbage_that_is_no_query_still_closes_its_connection(chain: Driver) -> None:
    """Only a query's text is forgiven: other undecodable frames still close the connection
    (the engine never sends them), as before."""

    async def scenario(server: AbciServer, connect: Callable[[], Awaitable[Client]]) -> None:
        bad = await connect()
        raw = abci.Request(echo=abci.RequestEcho(message="EE")).SerializeToString()
        await bad.send(frame(raw.replace(b"EE", b"\xff\xfe")) + FLUSH)
        assert await bad.receive_until_closed() == []
        await bad.close()

    serve(chain.app, scenario)
