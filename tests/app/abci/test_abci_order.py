"""Requests out of the engine's order, on a real socket, while the engine's own connections keep
working: each closes only the connection that sent it, changes nothing, and never stops the node.

What the engine does (CometBFT v0.38): ``proxy/multi_app_conn.go`` opens the query, snapshot,
mempool and consensus connections; ``proxy/app_conn.go`` says which methods go on which;
``consensus/replay.go`` asks Info on the query connection, sends InitChain only while the app
reports height 0, and replays FinalizeBlock + Commit from the height after the app's, also after
the engine restarts while the app keeps running (new connections).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from abci_client import FLUSH, Client, Connect, request, serve
from driver import Driver, app_state, register, timestamp

from app.abci.server import AbciServer
from app.abci.wire import MAX_MESSAGE_BYTES, encode_uvarint, frame
from app.pb.tendermint.abci import types_pb2 as abci


def _finalize(height: int, txs: tuple[bytes, ...] = ()) -> bytes:
    return request(finalize_block=abci.RequestFinalizeBlock(height=height, txs=list(txs)))


COMMIT = request(commit=abci.RequestCommit())


async def _block(consensus: Client, height: int, txs: tuple[bytes, ...] = ()) -> bytes:
    """FinalizeBlock + Commit at ``height`` on the consensus connection; the app hash."""
    await consensus.send(_finalize(height, txs) + COMMIT + FLUSH)
    finalized, committed, _ = await consensus.receive(3)
    assert committed.WhichOneof("value") == "commit"
    assert [r.code for r in finalized.finalize_block.tx_results] == [0] * len(txs)
    return bytes(finalized.finalize_block.app_hash)


async def _refused(client: Client, data: bytes) -> None:
    """``data`` gets no answer and the connection is closed."""
    await client.send(data + FLUSH)
    assert await client.receive_until_closed() == []


async def _alive(server: AbciServer, connect: Connect, chain: Driver) -> None:
    """The node still serves: a query answers and nothing stopped it."""
    query = await connect()
    response = await query.call(
        request(query=abci.RequestQuery(path="/members/org", data=b'{"id": "uni"}'))
    )
    assert response.query.code == 0
    assert response.query.height == chain.store.height
    assert server.failure is None
    await query.close()


STRAYS: dict[str, Callable[[Driver], bytes]] = {
    "lone_commit": lambda d: COMMIT,
    "finalize_next_height": lambda d: _finalize(d.store.height + 1),
    "init_chain": lambda d: request(init_chain=abci.RequestInitChain(chain_id="x")),
    "process_proposal": lambda d: request(
        process_proposal=abci.RequestProcessProposal(height=d.store.height + 1)
    ),
}


@pytest.mark.parametrize("stray", STRAYS.values(), ids=list(STRAYS))
def test_a_second_connection_never_gets_the_consensus_role(
    chain: Driver, stray: Callable[[Driver], bytes]
) -> None:
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Connect) -> None:
        consensus = await connect()
        await _block(consensus, chain.store.height + 1)
        intruder = await connect()
        await _refused(intruder, stray(chain))
        before = chain.store.height
        await _block(consensus, before + 1, (tx,))
        assert chain.store.height == before + 1
        await _alive(server, connect, chain)
        await consensus.close()

    serve(chain.app, scenario)


OUT_OF_ORDER: dict[str, Callable[[Driver], bytes]] = {
    "lone_commit": lambda d: COMMIT,
    "finalize_next_plus_one": lambda d: _finalize(d.store.height + 2),
    "finalize_committed_height": lambda d: _finalize(d.store.height),
    "finalize_zero": lambda d: _finalize(0),
    "finalize_negative": lambda d: _finalize(-5),
    "finalize_huge": lambda d: _finalize(2**63 - 1),
    "init_chain_after_blocks": lambda d: request(
        init_chain=abci.RequestInitChain(chain_id="modelgov-test", app_state_bytes=b"{}")
    ),
    "finalize_then_wrong_height": lambda d: (
        _finalize(d.store.height + 1) + _finalize(d.store.height + 3)
    ),
}


@pytest.mark.parametrize("bad", OUT_OF_ORDER.values(), ids=list(OUT_OF_ORDER))
def test_out_of_order_consensus_requests_close_only_their_connection(
    chain: Driver, bad: Callable[[Driver], bytes]
) -> None:
    """Whether the connection already was the consensus one or claims the role with the bad
    request: closed, nothing committed, and a new consensus connection carries on."""
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Connect) -> None:
        height, root = chain.store.height, chain.store.root
        for warm in (False, True):
            first = await connect()
            if warm:
                height = chain.store.height
                await _block(first, height + 1)
                height, root = chain.store.height, chain.store.root
            await first.send(bad(chain) + FLUSH)
            answered = await first.receive_until_closed()
            assert all(r.WhichOneof("value") == "finalize_block" for r in answered)
            assert (chain.store.height, chain.store.root) == (height, root)
            assert chain.app.staged is None
        replacement = await connect()
        await _block(replacement, height + 1, (tx,))
        assert chain.store.height == height + 1
        await _alive(server, connect, chain)
        await replacement.close()

    serve(chain.app, scenario)


ROLE_MISMATCH: dict[str, tuple[bytes, bytes]] = {
    "finalize_on_mempool": (
        request(check_tx=abci.RequestCheckTx(tx=b"x")),
        _finalize(2),
    ),
    "commit_on_query": (request(info=abci.RequestInfo()), COMMIT),
    "check_tx_on_query": (
        request(query=abci.RequestQuery(path="/members/params")),
        request(check_tx=abci.RequestCheckTx(tx=b"x")),
    ),
    "query_on_mempool": (
        request(check_tx=abci.RequestCheckTx(tx=b"x")),
        request(query=abci.RequestQuery(path="/members/params")),
    ),
    "info_on_consensus": (
        request(process_proposal=abci.RequestProcessProposal(height=2)),
        request(info=abci.RequestInfo()),
    ),
    "snapshot_on_mempool": (
        request(check_tx=abci.RequestCheckTx(tx=b"x")),
        request(list_snapshots=abci.RequestListSnapshots()),
    ),
}


@pytest.mark.parametrize(("first", "second"), ROLE_MISMATCH.values(), ids=list(ROLE_MISMATCH))
def test_a_method_of_another_role_closes_the_connection(
    chain: Driver, first: bytes, second: bytes
) -> None:
    async def scenario(server: AbciServer, connect: Connect) -> None:
        client = await connect()
        await client.send(first + request(echo=abci.RequestEcho(message="e")) + FLUSH)
        assert len(await client.receive(3)) == 3
        await _refused(client, second)
        consensus = await connect()
        await _block(consensus, chain.store.height + 1)
        await _alive(server, connect, chain)
        await consensus.close()

    serve(chain.app, scenario)


GARBAGE: dict[str, bytes] = {
    "random_bytes": bytes(range(256)) * 4,
    "eleven_byte_varint": b"\xff" * 11,
    "oversize_length": encode_uvarint(MAX_MESSAGE_BYTES + 1) + b"\x00" * 16,
    "huge_varint": encode_uvarint(2**63) + b"\x00",
    "empty_request": frame(b""),
    "not_a_request": frame(b"\xff\xff\xff\xff"),
    "unknown_field_only": frame(b"\xf8\x07\x01"),
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=list(GARBAGE))
def test_garbage_closes_only_that_connection(chain: Driver, data: bytes) -> None:
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Connect) -> None:
        consensus, mempool = await connect(), await connect()
        response = await mempool.call(request(check_tx=abci.RequestCheckTx(tx=tx)))
        assert response.check_tx.code == 0
        await _block(consensus, chain.store.height + 1)
        stray = await connect()
        await stray.send(data)
        assert await stray.receive_until_closed() == []
        await _block(consensus, chain.store.height + 1, (tx,))
        await _alive(server, connect, chain)
        await consensus.close()
        await mempool.close()

    serve(chain.app, scenario)


def test_an_engine_restart_replays_the_uncommitted_block(chain: Driver) -> None:
    """The engine dies between FinalizeBlock and Commit while the app lives: its new consensus
    connection sends FinalizeBlock for the same height again, then Commit."""
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Connect) -> None:
        height = chain.store.height
        dying = await connect()
        await dying.send(_finalize(height + 1, (tx,)) + FLUSH)
        first = (await dying.receive(2))[0].finalize_block.app_hash
        await dying.close()
        await asyncio.sleep(0.05)  # the server sees the close
        assert chain.app.staged is None
        restarted = await connect()
        assert await _block(restarted, height + 1, (tx,)) == first
        assert chain.store.height == height + 1
        await restarted.close()

    serve(chain.app, scenario)


def test_init_chain_again_after_an_engine_restart_before_block_one(fresh: Driver) -> None:
    """At height 0 the engine sends InitChain on each new consensus connection; on one
    connection a second InitChain is refused."""
    body = json.dumps(app_state(fresh.accounts.values())).encode()
    init_chain = request(
        init_chain=abci.RequestInitChain(
            chain_id=fresh.chain_id,
            app_state_bytes=body,
            time=timestamp(fresh.time),
            initial_height=1,
        )
    )

    async def scenario(server: AbciServer, connect: Connect) -> None:
        first = await connect()
        genesis = (await first.call(init_chain)).init_chain.app_hash
        await _refused(first, init_chain)
        second = await connect()
        assert (await second.call(init_chain)).init_chain.app_hash == genesis
        await _block(second, 1)
        assert fresh.store.height == 1
        await _refused(second, init_chain)
        await _alive(server, connect, fresh)

    serve(fresh.app, scenario)
