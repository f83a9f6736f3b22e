"""Queries run on their own thread against one committed version and never hold up consensus."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from abci_client import FLUSH, Client, Connect, request, serve
from driver import Driver, register

from app import machine as query_routes
from app.abci.server import AbciServer
from app.core.pause import pause_point
from app.core.query import QueryAnswer
from app.models import keys
from app.pb.modelgov.v1 import state_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.state import Reader

BLOCKS = 6
TXS_PER_BLOCK = 40


class SlowQuery:
    """A query handler that works until told to stop, calling pause_point between short steps
    (as the license evaluator's meter does), and counts its steps."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.stop = threading.Event()
        self.steps = 0

    def __call__(self, state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
        self.running.set()
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            pause_point()
            self.steps += 1
            sum(range(2000))
        return QueryAnswer(str(self.steps).encode())


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> SlowQuery:
    handler = SlowQuery()
    monkeypatch.setitem(query_routes.QUERIES, "/test/slow", handler)
    return handler


def _blocks(d: Driver, count: int) -> list[list[bytes]]:
    return [
        [d.sign("uni-pub", [register("uni", f"m{b}-{i}")]) for i in range(TXS_PER_BLOCK)]
        for b in range(count)
    ]


async def _timed_blocks(d: Driver, consensus: Client, blocks: list[list[bytes]]) -> list[float]:
    """Seconds of each block's FinalizeBlock + Commit round trip."""
    seconds = []
    for txs in blocks:
        height = d.store.height + 1
        finalize = abci.RequestFinalizeBlock(height=height, txs=txs)
        started = time.perf_counter()
        await consensus.send(
            request(finalize_block=finalize) + request(commit=abci.RequestCommit()) + FLUSH
        )
        finalized, _, _ = await consensus.receive(3)
        seconds.append(time.perf_counter() - started)
        assert [r.code for r in finalized.finalize_block.tx_results] == [0] * len(txs)
    return seconds


def test_a_slow_query_does_not_delay_blocks(
    chain: Driver, slow: SlowQuery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a query works, blocks take about as long as without it, and the query makes no
    progress while FinalizeBlock or Commit runs (at most the step it was in)."""
    blocks = _blocks(chain, 2 * BLOCKS)
    progress: list[int] = []
    for method in ("finalize_block", "commit"):
        monkeypatch.setattr(
            chain.app, method, _watching(getattr(chain.app, method), slow, progress)
        )

    async def scenario(server: AbciServer, connect: Connect) -> None:
        consensus, query = await connect(), await connect()
        alone = await _timed_blocks(chain, consensus, blocks[:BLOCKS])
        progress.clear()
        await query.send(request(query=abci.RequestQuery(path="/test/slow")) + FLUSH)
        await asyncio.to_thread(slow.running.wait, 10)
        beside = await _timed_blocks(chain, consensus, blocks[BLOCKS:])
        slow.stop.set()
        answer, _ = await query.receive(2)
        assert answer.query.code == 0 and int(answer.query.value) == slow.steps > 0
        assert progress and max(progress) <= 1, progress
        assert statistics.median(beside) < 1.5 * statistics.median(alone) + 0.015, (alone, beside)

    serve(chain.app, scenario, limit=60)


def _watching(handler: Any, slow: SlowQuery, progress: list[int]) -> Any:
    """``handler``, recording how many steps the slow query made while it ran."""

    def call(req: Any) -> Any:
        before = slow.steps
        try:
            return handler(req)
        finally:
            progress.append(slow.steps - before)

    return call


class HeldQuery:
    """A query handler that reads a model, waits until told, and reads it again."""

    def __init__(self) -> None:
        self.first_read = threading.Event()
        self.go_on = threading.Event()

    def __call__(self, state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
        first = state.get(keys.model_key("uni/m")) or b""
        count_before = sum(1 for _ in state.iterate(keys.MODEL))
        self.first_read.set()
        assert self.go_on.wait(10)
        second = state.get(keys.model_key("uni/m")) or b""
        count_after = sum(1 for _ in state.iterate(keys.MODEL))
        answer = state_pb2.Page(items=[first, second, bytes([count_before, count_after])])
        return QueryAnswer(answer.SerializeToString())


def test_a_query_during_commit_reads_one_committed_height(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldQuery()
    monkeypatch.setitem(query_routes.QUERIES, "/test/held", held)
    tx = chain.sign("uni-pub", [register("uni", "m")])

    async def scenario(server: AbciServer, connect: Connect) -> None:
        consensus, query = await connect(), await connect()
        height = chain.store.height
        await query.send(request(query=abci.RequestQuery(path="/test/held")) + FLUSH)
        await asyncio.to_thread(held.first_read.wait, 10)
        finalize = abci.RequestFinalizeBlock(height=height + 1, txs=[tx])
        await consensus.send(
            request(finalize_block=finalize) + request(commit=abci.RequestCommit()) + FLUSH
        )
        finalized, _, _ = await consensus.receive(3)
        assert finalized.finalize_block.tx_results[0].code == 0
        assert chain.store.height == height + 1
        held.go_on.set()
        answer, _ = await query.receive(2)
        assert answer.query.code == 0 and answer.query.height == height
        first, second, counts = state_pb2.Page.FromString(answer.query.value).items
        assert first == second == b"" and counts[0] == counts[1]
        info = await query.call(request(info=abci.RequestInfo()))
        assert info.info.last_block_height == height + 1
        assert info.info.last_block_app_hash == finalized.finalize_block.app_hash
        fresh = await query.call(
            request(query=abci.RequestQuery(path="/models/model", data=b'{"id": "uni/m"}'))
        )
        assert fresh.query.code == 0 and fresh.query.height == height + 1

    serve(chain.app, scenario)


def test_stopping_the_server_aborts_a_paused_query(chain: Driver, slow: SlowQuery) -> None:
    async def scenario(server: AbciServer, connect: Connect) -> None:
        query = await connect()
        await query.send(request(query=abci.RequestQuery(path="/test/slow")) + FLUSH)
        await asyncio.to_thread(slow.running.wait, 10)

    started = time.monotonic()
    serve(chain.app, scenario)
    assert not slow.stop.is_set() and time.monotonic() - started < 10
