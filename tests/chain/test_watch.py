"""``modelgov watch``: the WebSocket client against a small server in this process (real
sockets), the subscriptions it sends, and what it reports of the engine's messages, once per
transaction; hostile servers (a bad handshake, an oversize frame, a close) end it with an error,
never a hang or a crash."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chain.watch import Change, WatchError, changes, subscriptions, watch
from chain.websocket import GUID, MAX_MESSAGE, WebSocket, WebSocketError, accept_key, ws_url

MODEL = "acme-ai/vision"

Script = Callable[[socket.socket, list[dict[str, Any]]], None]


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame (unmasked)."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        return struct.pack("!BB", first, len(payload)) + payload
    if len(payload) < 1 << 16:
        return struct.pack("!BBH", first, 126, len(payload)) + payload
    return struct.pack("!BBQ", first, 127, len(payload)) + payload


def read_client_frame(conn: socket.socket) -> tuple[int, bytes]:
    """One masked client frame: (opcode, payload)."""
    head = _exactly(conn, 2)
    length = head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _exactly(conn, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _exactly(conn, 8))
    assert head[1] & 0x80, "a client frame must be masked"
    mask = _exactly(conn, 4)
    data = _exactly(conn, length)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _exactly(conn: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def handshake(conn: socket.socket, accept: str | None = None) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(4096)
    key = next(
        line.split(":", 1)[1].strip()
        for line in request.decode().split("\r\n")
        if line.lower().startswith("sec-websocket-key")
    )
    answer = accept if accept is not None else accept_key(key)
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {answer}\r\n\r\n".encode()
    )


@pytest.fixture
def server() -> Iterator[Callable[[Script], str]]:
    """Start a one-connection server running ``script``; yields a function returning its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    threads: list[threading.Thread] = []

    def start(script: Script) -> str:
        received: list[dict[str, Any]] = []

        def serve() -> None:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(ConnectionError, OSError):
                script(conn, received)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    listener.close()
    for thread in threads:
        thread.join(5)


def tx_message(height: int, index: int, events: list[tuple[str, dict[str, str]]]) -> bytes:
    """An engine subscription message carrying one transaction's events."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "query": "...",
            "data": {
                "type": "tendermint/event/Tx",
                "value": {
                    "TxResult": {
                        "height": str(height),
                        "index": index,
                        "result": {
                            "events": [
                                {
                                    "type": kind,
                                    "attributes": [
                                        {"key": k, "value": v, "index": True}
                                        for k, v in attrs.items()
                                    ],
                                }
                                for kind, attrs in events
                            ]
                        },
                    }
                },
            },
        },
    }
    return json.dumps(body).encode()


def published(version: str, model: str = MODEL) -> tuple[str, dict[str, str]]:
    return ("model.version_published", {"model": model, "version": version})


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

Rpc = Callable[[str, dict[str, Any]], Any]


@pytest.fixture
def node_server() -> Iterator[Callable[[list[Script], Rpc], str]]:
    """A node at one port: each websocket connection runs the next script of ``sessions``,
    each JSON-RPC POST is answered by ``rpc(method, params)`` (None: the connection is closed
    unanswered, as a node that is down). Yields a function returning the node's URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    threads: list[threading.Thread] = []

    def start(sessions: list[Script], rpc: Rpc) -> str:
        def one(conn: socket.socket) -> None:
            with conn, contextlib.suppress(ConnectionError, OSError):
                if conn.recv(4, socket.MSG_PEEK) == b"POST":
                    _answer_post(conn, rpc)
                elif sessions:
                    sessions.pop(0)(conn, [])

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = listener.accept()
                    thread = threading.Thread(target=one, args=(conn,), daemon=True)
                    thread.start()
                    threads.append(thread)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    listener.close()
    for thread in threads:
        thread.join(5)


def _answer_post(conn: socket.socket, rpc: Rpc) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += conn.recv(4096)
    call = json.loads(body)
    result = rpc(call["method"], call.get("params") or {})
    if result is None:
        return
    answer = json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": result}).encode()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(answer)}\r\n\r\n".encode()
        + answer
    )


def session(before: list[bytes], after: list[bytes], then_drop: bool = True) -> Script:
    """A websocket session: ``before`` arrive before the last subscription is confirmed,
    ``after`` after it; then the node drops the connection (or waits for the goodbye)."""

    def script(conn: socket.socket, received: list[dict[str, Any]]) -> None:
        handshake(conn)
        for i, _ in enumerate(subscriptions(MODEL)):
            _, payload = read_client_frame(conn)
            received.append(json.loads(payload))
            if i == len(subscriptions(MODEL)) - 1:
                conn.sendall(b"".join(frame(0x1, m) for m in before))
            reply = {"jsonrpc": "2.0", "id": received[-1]["id"], "result": {}}
            conn.sendall(frame(0x1, json.dumps(reply).encode()))
        conn.sendall(b"".join(frame(0x1, m) for m in after))
        if then_drop:
            conn.shutdown(socket.SHUT_RDWR)
            return
        while read_client_frame(conn)[0] != 0x8:
            pass

    return script


def chain_rpc(heights: list[int | None], blocks: dict[int, list[list[Any]]]) -> Rpc:
    """A node's status (the next of ``heights`` each call, the last one repeated; None: down)
    and the events of each block's transactions (``blocks``)."""
    asked = iter(heights)
    last: list[int | None] = [None]

    def rpc(method: str, params: dict[str, Any]) -> Any:
        if method == "status":
            last[0] = next(asked, last[0])
            if last[0] is None:
                return None
            return {"sync_info": {"latest_block_height": str(last[0])}}
        assert method == "block_results"
        txs = blocks.get(int(params["height"]), [])
        return {"height": params["height"], "txs_results": [{"code": 0, "events": e} for e in txs]}

    return rpc


def events_of(*found: tuple[str, dict[str, str]]) -> list[Any]:
    return [
        {"type": kind, "attributes": [{"key": k, "value": v} for k, v in attrs.items()]}
        for kind, attrs in found
    ]


def test_a_dropped_watch_reconnects_and_reports_what_it_missed_once_and_in_order(
    node_server: Callable[[list[Script], Rpc], str],
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
    url = node_server([first, second], chain_rpc([4, None, None, 9], blocks))
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
    node_server: Callable[[list[Script], Rpc], str],
) -> None:
    blocks = {3: [events_of(published("2.0"))], 4: [events_of(published("3.0"))]}
    url = node_server(
        [session([], []), session([], [], then_drop=False)], chain_rpc([2, 4], blocks)
    )
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
    node_server: Callable[[list[Script], Rpc], str],
    heights: list[int | None],
    blocks: dict[int, Any],
    reconnect: int,
    message: str,
) -> None:
    url = node_server([session([], []), session([], [])], chain_rpc(heights, blocks))
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
    node_server: Callable[[list[Script], Rpc], str],
) -> None:
    url = node_server([session([], [])], chain_rpc([2], {}))
    with pytest.raises(WatchError, match="could not follow the node again in 1 s"):
        watch(url, MODEL, lambda _: None, 1, 10, reconnect=1)
