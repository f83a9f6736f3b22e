"""Attacks on the consensus-facing surface by whoever reaches a node's RPC port or runs a
modified node: each test is an input that once stopped, stalled or split the nodes, or one
that could and must keep failing to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from abci_client import FLUSH, Client, request, serve
from driver import Driver, publish, register, started

from app.abci.server import AbciServer
from app.abci.wire import frame
from app.core import crypto, errors
from app.core.valuemap import from_data
from app.licenses import programs
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci

LICENSES = Path(__file__).resolve().parents[3] / "genesis" / "licenses"


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


# --- process-local caches: nothing a block decides may depend on them --------------------------


def _non_canonical_copy(raw: bytes) -> bytes:
    """The same envelope with its signature written before its body: decodes, not canonical."""
    envelope = tx_pb2.Tx.FromString(raw)
    return (
        tx_pb2.Tx(signature=envelope.signature).SerializeToString()
        + tx_pb2.Tx(body=envelope.body).SerializeToString()
    )


def _high_s_copy(raw: bytes) -> bytes:
    """The same body with the other, high-S, signature of the same key (valid ECDSA)."""
    envelope = tx_pb2.Tx.FromString(raw)
    r, s = envelope.signature[:32], int.from_bytes(envelope.signature[32:], "big")
    high = r + (crypto.SECP256K1_ORDER - s).to_bytes(32, "big")
    return tx_pb2.Tx(body=envelope.body, signature=high).SerializeToString()


def _cold_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node restarted just now: no program, parameters or parsed key remembered."""
    monkeypatch.setattr(programs, "CACHE", programs.ProgramCache())
    monkeypatch.setattr(programs, "PARAMS", programs.ParamsCache())
    crypto._parsed.cache_clear()


def _results(response: abci.ResponseFinalizeBlock) -> list[tuple[str, int, int, int, bytes]]:
    """What of a block's results goes into consensus (the results hash) besides the app hash."""
    return [(r.codespace, r.code, r.gas_wanted, r.gas_used, r.data) for r in response.tx_results]


def test_a_node_that_admitted_the_txs_and_a_cold_node_decide_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node ``warm`` admitted every honest tx in its mempool (their signatures and encodings
    remembered, their licenses' programs and parameters cached by CheckTx and dry runs); node
    ``cold`` saw none of them and starts every block with empty caches, as just restarted. A
    byzantine proposer's blocks mix the admitted txs with copies of them that differ only in
    encoding (non-canonical, the high-S twin of the signature), duplicates and an undecodable
    one: both nodes reach the same results, gas and app hash block after block."""
    warm, cold = started(tmp_path / "warm"), started(tmp_path / "cold")
    warm_caches = (programs.CACHE, programs.PARAMS)
    tiers = from_data({"tiers": [[2, 3], [None, 1]], "denied_purposes": ["training"]})
    source = (LICENSES / "pay-per-use.lic").read_text()
    blocks: list[list[tuple[str, list[tx_pb2.Msg]]]] = [
        [("uni-pub", [register("uni", "m")]), ("uni-pub", [publish("uni/m", "1.0")])],
        [
            (
                "uni-pub",
                [
                    _msg(
                        deploy_license=tx_pb2.DeployLicense(name="ppu", source=source, params=tiers)
                    )
                ],
            ),
            (
                "uni-pub",
                [
                    _msg(
                        attach_license=tx_pb2.AttachLicense(
                            model="uni/m", version="1.0", license="uni/ppu"
                        )
                    )
                ],
            ),
        ],
        [("acme-user", [_use(1)]), ("acme-user", [_use(2)]), ("acme-user", [_use(3)])],
        [("acme-user", [_use(4), _use(5)]), ("acme-user", [_use(1)])],
    ]
    for specs in blocks:
        honest = [warm.sign(name, msgs) for name, msgs in specs]
        for name, _ in specs:
            cold[name].nonce = warm[name].nonce
        for raw in honest:
            assert warm.check(raw).code == 0
        warm.query("/licenses/evaluate", _evaluate(warm))  # a dry run warms the caches too
        hostile = [
            _non_canonical_copy(honest[0]),
            *honest,
            _high_s_copy(honest[-1]),
            honest[0],
            b"\xff\xfe not a tx",
        ]
        assert not warm.process(hostile) and not cold.process(hostile)
        programs.CACHE, programs.PARAMS = warm_caches
        decided_warm = warm.block(hostile, check_proposal=False)
        _cold_caches(monkeypatch)
        decided_cold = cold.block(hostile, check_proposal=False)
        assert _results(decided_warm) == _results(decided_cold)
        assert decided_warm.app_hash == decided_cold.app_hash
        assert [r.code for r in decided_warm.tx_results[1 : 1 + len(honest)]] == [0] * len(honest)
    warm.close()
    cold.close()


def _msg(**kind: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(**kind)


def _use(quantity: int) -> tx_pb2.Msg:
    use = tx_pb2.Use(
        model="uni/m", version="1.0", purpose="inference", quantity=quantity, max_fee=100
    )
    return tx_pb2.Msg(use=use)


def _evaluate(d: Driver) -> dict[str, Any]:
    return {
        "address": d["acme-user"].address,
        "model": "uni/m",
        "version": "1.0",
        "purpose": "inference",
        "height": d.height + 1,
        "time": d.time + 5,
    }
