"""``modelgov watch``: the WebSocket client against a fake node in this process (real sockets,
tests/chain/fake_ws.py), the subscriptions it sends, and what it reports of the engine's
messages, once per transaction; hostile servers (a bad handshake, an oversize frame, a close)
end it with an error, never a hang or a crash; after a node restart it catches up from the
node's transaction index in a bounded number of calls."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_ws import (
    FakeChain,
    FakeNode,
    Script,
    engine_events,
    frame,
    handshake,
    published,
    read_client_frame,
    subscriber,
    tx_message,
)

from chain.watch import Change, WatchError, changes, searches, subscriptions, watch
from chain.websocket import GUID, MAX_MESSAGE, WebSocket, WebSocketError, accept_key, ws_url

MODEL = "acme-ai/vision"
QUERIES = len(subscriptions(MODEL))


@pytest.fixture
def server() -> Iterator[Callable[[Script], str]]:
    """Start a node whose one websocket connection runs ``script``; yields a function
    returning its URL."""
    nodes: list[FakeNode] = []

    def start(script: Script) -> str:
        nodes.append(FakeNode([script]))
        return nodes[-1].url

    yield start
    for node in nodes:
        node.close()


def engine(messages: list[bytes], extra: bytes = b"") -> Script:
    """A server that takes the subscriptions, then sends ``messages`` (and ``extra`` raw)."""

    def script(conn: socket.socket, received: list[dict[str, Any]]) -> None:
        handshake(conn)
        for _ in subscriptions(MODEL):
            opcode, payload = read_client_frame(conn)
            assert opcode == 0x1
            received.append(json.loads(payload))
            reply = {"jsonrpc": "2.0", "id": received[-1]["id"], "result": {}}
            conn.sendall(frame(0x1, json.dumps(reply).encode()))
        for message in messages:
            conn.sendall(frame(0x9, b"are you there") + frame(0x1, message))
        conn.sendall(extra)
        while read_client_frame(conn)[0] != 0x8:  # pongs, until the client says goodbye
            pass

    return script


def test_the_handshake_key_is_the_rfc_s() -> None:
    # RFC 6455 section 1.3's example
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert base64.b64encode(hashlib.sha1(b"x" + GUID).digest()).decode() == accept_key("x")


@pytest.mark.parametrize(
    ("node", "url"),
    [
        ("http://127.0.0.1:26657", "ws://127.0.0.1:26657/websocket"),
        ("127.0.0.1:8657", "ws://127.0.0.1:8657/websocket"),
        ("https://rpc.example.org", "wss://rpc.example.org/websocket"),
    ],
)
def test_the_websocket_url_is_beside_the_rpc(node: str, url: str) -> None:
    assert ws_url(node) == url


def test_one_subscription_per_watched_event_type_at_most_five() -> None:
    queries = subscriptions(MODEL)
    assert len(queries) == 5
    assert all(
        q.startswith("tm.event='Tx' AND ") and q.endswith(f".model='{MODEL}'") for q in queries
    )


@pytest.mark.parametrize(
    "model", ["no-slash", "acme/x' OR tm.event='NewBlock", "acme/", "", "a/b\n", "ACME/x"]
)
def test_a_model_id_that_could_change_the_query_is_refused(model: str) -> None:
    with pytest.raises(WatchError):
        subscriptions(model)


def test_changes_pick_the_model_s_watched_events_only() -> None:
    message = json.loads(
        tx_message(
            7,
            2,
            [
                published("2.0"),
                published("9.9", model="acme-ai/other"),
                ("credits.transfer", {"from": "a", "to": "b", "model": MODEL}),
                ("license.attached", {"model": MODEL, "version": "2.0", "license": "acme-ai/l"}),
            ],
        )
    )
    found = changes(message, MODEL)
    assert found is not None
    key, picked = found
    assert key == (7, 2)
    assert [(c.kind, c.attributes.get("version")) for c in picked] == [
        ("version", "2.0"),
        ("license", "2.0"),
    ]
    assert changes({"jsonrpc": "2.0", "id": 1, "result": {}}, MODEL) is None
    assert picked[0].line() == f"7  version  model={MODEL}  version=2.0"
    assert picked[0].to_json()["height"] == 7


def test_watch_subscribes_answers_pings_and_reports_each_transaction_once(
    server: Callable[[Script], str],
) -> None:
    first = tx_message(5, 0, [published("2.0")])
    url = server(engine([first, first, tx_message(6, 0, [published("3.0")])]))
    seen: list[Change] = []
    ready: list[int] = []
    assert watch(url, MODEL, seen.append, 2, 10, lambda: ready.append(len(seen))) == 2
    assert ready == [0], "ready once every subscription is confirmed, before any change"
    assert [(c.height, c.attributes["version"]) for c in seen] == [(5, "2.0"), (6, "3.0")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (frame(0x8, b""), "closed"),
        (frame(0x2, b"binary"), "opcode"),
        (struct.pack("!BBQ", 0x81, 127, MAX_MESSAGE + 1), "larger than"),
        (frame(0x1, b"not json"), "not JSON"),
        (frame(0x1, b"\xff\xfe"), "UTF-8"),
        (frame(0x1, b'{"result": {"data": {"value": {"TxResult": {"height": "x"}}}}}'), "shape"),
        (
            frame(
                0x1, b'{"result": {"data": {"value": {"TxResult": {"result": {"events": [1]}}}}}}'
            ),
            "shape",
        ),
        (frame(0x1, json.dumps({"id": 1, "error": {"message": "too many"}}).encode()), "refused"),
    ],
    ids=["close", "binary", "oversize", "not-json", "not-utf8", "bad-height", "bad-event", "error"],
)
def test_a_hostile_or_failing_server_ends_the_watch_with_an_error(
    server: Callable[[Script], str], extra: bytes, message: str
) -> None:
    url = server(engine([], extra))
    with pytest.raises(WatchError, match=message):
        watch(url, MODEL, lambda _: None, count=1, timeout=10)


def test_fragments_are_joined(server: Callable[[Script], str]) -> None:
    whole = tx_message(9, 1, [published("4.0")])
    parts = frame(0x1, whole[:10], fin=False) + frame(0x0, whole[10:])
    url = server(engine([], parts))
    seen: list[Change] = []
    watch(url, MODEL, seen.append, count=1, timeout=10)
    assert seen[0].height == 9


def test_a_server_that_does_not_upgrade_is_refused(server: Callable[[Script], str]) -> None:
    def refuse(conn: socket.socket, _: list[dict[str, Any]]) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    url = server(refuse)
    with pytest.raises(WatchError, match="refused the upgrade"):
        watch(url, MODEL, lambda _: None, timeout=10)


def test_a_wrong_accept_key_is_refused(server: Callable[[Script], str]) -> None:
    url = server(lambda conn, _: handshake(conn, accept="bm90IHRoZSBrZXk="))
    with pytest.raises(WebSocketError, match="Accept"):
        WebSocket(ws_url(url), timeout=10)


def test_nobody_listening_is_a_watch_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(WatchError, match="cannot reach"):
        watch(f"http://127.0.0.1:{port}", MODEL, lambda _: None, timeout=5)


# --- a node that restarts: the watch connects again and catches up ------------------------------


@pytest.fixture
def node_server() -> Iterator[Callable[[list[Script], FakeChain], FakeNode]]:
    """Start a node whose websocket connections run ``sessions`` in turn and whose RPC answers
    from a FakeChain; yields a function returning the node."""
    nodes: list[FakeNode] = []

    def start(sessions: list[Script], chain: FakeChain) -> FakeNode:
        nodes.append(FakeNode(sessions, chain))
        return nodes[-1]

    yield start
    for node in nodes:
        node.close()


def session(before: list[bytes], after: list[bytes], then_drop: bool = True) -> Script:
    """A watch's websocket session: ``before`` arrive before the last subscription is
    confirmed, ``after`` after it; then the node drops the connection (or waits for the
    goodbye)."""
    return subscriber(QUERIES, before, after, "drop" if then_drop else "wait")


events_of = engine_events


def test_a_dropped_watch_reconnects_and_reports_what_it_missed_once_and_in_order(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    blocks = {
        6: [events_of(published("3.0")), events_of(published("3.1"))],
        8: [events_of(published("9.9", model="acme-ai/other")), events_of(published("4.0"))],
        9: [events_of(published("5.0"))],
    }
    first = session(
        [], [tx_message(5, 0, [published("2.0")]), tx_message(6, 0, [published("3.0")])]
    )
    second = session(
        [tx_message(9, 0, [published("5.0")]), tx_message(10, 0, [published("6.0")])],
        [tx_message(10, 0, [published("6.0")]), tx_message(11, 0, [published("7.0")])],
        then_drop=False,
    )
    url = node_server([first, second], FakeChain([4, None, None, 9], blocks)).url
    seen: list[Change] = []
    said: list[str] = []
    assert watch(url, MODEL, seen.append, 7, 10, reconnect=30, say=said.append) == 7
    shown = [(c.height, c.attributes["version"]) for c in seen]
    assert shown == [
        (5, "2.0"),
        (6, "3.0"),
        (6, "3.1"),
        (8, "4.0"),
        (9, "5.0"),
        (10, "6.0"),
        (11, "7.0"),
    ]
    assert said[0].startswith("lost the node") and said[1].endswith("from height 6")


def test_a_watch_that_reaches_its_count_while_catching_up_stops_there(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    blocks = {3: [events_of(published("2.0"))], 4: [events_of(published("3.0"))]}
    url = node_server(
        [session([], []), session([], [], then_drop=False)], FakeChain([2, 4], blocks)
    ).url
    seen: list[Change] = []
    assert watch(url, MODEL, seen.append, 1, 10, reconnect=30) == 1
    assert [c.attributes["version"] for c in seen] == ["2.0"]


@pytest.mark.parametrize(
    ("heights", "blocks", "reconnect", "message"),
    [
        ([2, None], {}, 1, "stayed away"),
        ([2, 2 + 10_001], {}, 30, "more than 10000 blocks"),
        ([2, 3], {3: "not a list"}, 30, "unknown shape"),
        ([2, 3], {3: [[{"type": "x", "attributes": 5}]]}, 30, "shape"),
        ([2], {}, 0, "closed"),
    ],
    ids=["stays-away", "gap-too-long", "results-not-a-list", "bad-attributes", "no-reconnect"],
)
def test_a_node_that_stays_away_or_answers_nonsense_ends_the_watch_with_an_error(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
    heights: list[int | None],
    blocks: dict[int, Any],
    reconnect: int,
    message: str,
) -> None:
    url = node_server([session([], []), session([], [])], FakeChain(heights, blocks)).url
    with pytest.raises(WatchError, match=message):
        watch(url, MODEL, lambda _: None, 1, 10, reconnect=reconnect)


def test_a_node_unreachable_at_the_start_is_not_waited_for() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(WatchError, match="cannot reach"):
        watch(f"http://127.0.0.1:{port}", MODEL, lambda _: None, timeout=5, reconnect=300)


def test_a_node_that_answers_its_status_but_no_longer_subscribes_ends_the_watch(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    url = node_server([session([], [])], FakeChain([2], {})).url
    with pytest.raises(WatchError, match="could not follow the node again in 1 s"):
        watch(url, MODEL, lambda _: None, 1, 10, reconnect=1)


# --- catching up from the transaction index -----------------------------------------------------


def attached(version: str) -> tuple[str, dict[str, str]]:
    return ("license.attached", {"model": MODEL, "version": version, "license": "acme-ai/l"})


def caught_up(node: FakeNode, count: int) -> list[tuple[int, str, str]]:
    """Watch the node (its first session drops, the second follows) until ``count`` changes;
    (height, kind, version) of each."""
    seen: list[Change] = []
    assert watch(node.url, MODEL, seen.append, count, 10, reconnect=30) == count
    return [(c.height, c.kind, c.attributes["version"]) for c in seen]


def test_catching_up_thousands_of_blocks_takes_a_few_calls_not_one_a_block(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    blocks = {
        5: [events_of(published("2.0"))],
        1_000: [events_of(("credits.transfer", {"model": MODEL})), events_of(attached("2.0"))],
        2_004: [events_of(published("3.0"))],
    }
    node = node_server(
        [session([], []), session([], [], then_drop=False)], FakeChain([4, 2_004], blocks)
    )
    assert caught_up(node, 3) == [(5, "version", "2.0"), (1_000, "license", "2.0"),
                                  (2_004, "version", "3.0")]  # fmt: skip
    assert node.methods().count("block_results") == 1, "only the newest block is read whole"
    searched = [params["query"] for method, params in node.calls if method == "tx_search"]
    assert sorted(searched) == sorted(searches(MODEL, 4, 2_003)), "one search per event type"
    assert len(node.calls) <= 3 + 1 + QUERIES + 1  # status, block index, searches, results


def test_a_catch_up_pages_through_the_searches_and_reports_each_transaction_once_in_order(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    blocks: dict[int, Any] = {h: [events_of(published(f"1.{h}"))] for h in range(5, 255)}
    blocks[100].append(events_of(published("both"), attached("both")))
    blocks[300] = [events_of(attached("1.5"))]
    node = node_server(
        [session([], []), session([], [], then_drop=False)], FakeChain([4, 400], blocks)
    )
    shown = caught_up(node, 250 + 2 + 1)
    assert len(set(shown)) == len(shown), "each transaction once"
    assert shown[:2] == [(5, "version", "1.5"), (6, "version", "1.6")]
    assert shown[95:98] == [(100, "version", "1.100"), (100, "version", "both"),
                           (100, "license", "both")]  # fmt: skip
    assert shown[-2:] == [(254, "version", "1.254"), (300, "license", "1.5")]
    assert [h for h, _, _ in shown] == sorted(h for h, _, _ in shown)
    pages = [p["page"] for m, p in node.calls if m == "tx_search"]
    assert sorted(pages) == ["1"] * QUERIES + ["2", "3"], "251 versions: three pages of 100"


def test_a_catch_up_waits_for_the_node_to_index_the_blocks(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    blocks = {6: [events_of(published("2.0"))], 8: [events_of(published("3.0"))]}
    chain = FakeChain([4, 8], blocks, unindexed=2)
    node = node_server([session([], []), session([], [], then_drop=False)], chain)
    assert caught_up(node, 2) == [(6, "version", "2.0"), (8, "version", "3.0")]
    assert node.methods().count("block_search") == 3
    assert node.methods().index("tx_search") > node.methods().index("block_search") + 2


@pytest.mark.parametrize("indexer", [False, "psql"], ids=["null", "psql"])
def test_a_node_that_cannot_search_is_read_block_by_block_its_empty_blocks_skipped(
    node_server: Callable[[list[Script], FakeChain], FakeNode], indexer: bool | str
) -> None:
    blocks = {
        6: [events_of(published("2.0"))],
        8: [events_of(("credits.transfer", {"model": MODEL}))],
        1_999: [events_of(published("3.0"))],
        2_004: [events_of(published("4.0"))],
    }
    chain = FakeChain([4, 2_004], blocks, indexed=indexer)
    node = node_server([session([], []), session([], [], then_drop=False)], chain)
    assert caught_up(node, 3) == [(6, "version", "2.0"), (1_999, "version", "3.0"),
                                  (2_004, "version", "4.0")]  # fmt: skip
    read = [int(p["height"]) for m, p in node.calls if m == "block_results"]
    assert read == [6, 8, 1_999, 2_004], "the blocks that hold a transaction, each once"
    headers = [(int(p["minHeight"]), int(p["maxHeight"])) for m, p in node.calls
               if m == "blockchain"]  # fmt: skip
    assert headers[0] == (5, 24) and headers[-1] == (2_005 - 20, 2_004) and len(headers) == 100
    assert len(node.calls) <= 3 + 1 + 100 + 4  # status, the failed search, headers, results


def test_headers_a_node_leaves_out_are_read_not_skipped(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
) -> None:
    blocks = {6: [events_of(published("2.0"))], 8: [events_of(published("3.0"))]}
    chain = FakeChain([4, 8], blocks, indexed=False)

    def rpc(method: str, params: dict[str, Any]) -> Any:
        answer = chain(method, params)
        if method == "blockchain":
            answer["block_metas"] = [m for m in answer["block_metas"] if m["num_txs"] == "0"]
        return answer

    node = node_server([session([], []), session([], [], then_drop=False)], chain)
    node.rpc = rpc
    assert caught_up(node, 2) == [(6, "version", "2.0"), (8, "version", "3.0")]
    assert [int(p["height"]) for m, p in node.calls if m == "block_results"] == [6, 8]


def _reorder(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "txs": answer["txs"][::-1]}


def _widen(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "txs": [{**tx, "height": "99"} for tx in answer["txs"]]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_reorder, "out of order"),
        (_widen, "out of order or range"),
        (lambda answer: {**answer, "txs": "x"}, "unknown shape"),
        (lambda answer: {"txs": answer["txs"]}, "unknown shape"),
    ],
    ids=["unsorted", "out-of-range", "txs-not-a-list", "no-total"],
)
def test_a_node_whose_search_answers_are_wrong_ends_the_watch(
    node_server: Callable[[list[Script], FakeChain], FakeNode],
    change: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
) -> None:
    blocks = {6: [events_of(published("2.0")), events_of(published("2.1"))]}
    chain = FakeChain([4, 8], blocks)

    def rpc(method: str, params: dict[str, Any]) -> Any:
        answer = chain(method, params)
        return change(answer) if method == "tx_search" else answer

    node = node_server([session([], []), session([], [])], chain)
    node.rpc = rpc
    with pytest.raises(WatchError, match=message):
        watch(node.url, MODEL, lambda _: None, 3, 10, reconnect=30)
