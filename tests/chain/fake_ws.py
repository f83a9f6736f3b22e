"""A fake engine node for the tests of what follows its events (``modelgov watch``, the
weights follower): one port on 127.0.0.1 that runs a script per websocket connection (real
sockets, frames as RFC 6455 writes them) and answers JSON-RPC POSTs (status, block_results,
tx_search and block_search as CometBFT v0.38 answers them), recording every call."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from chain.websocket import accept_key

Script = Callable[[socket.socket, list[dict[str, Any]]], None]
"""What the node does on one websocket connection (what the client sent is appended)."""
Rpc = Callable[[str, dict[str, Any]], Any]
"""The answer to one JSON-RPC call (None: close the connection unanswered, a node down)."""
Found = tuple[str, dict[str, str]]
"""One event: its type and attributes."""


class RpcFailure(Exception):
    """Raised by an Rpc to answer a JSON-RPC error (its text is the error's data)."""


# --- frames -----------------------------------------------------------------------------------


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
    """Answer the client's upgrade (with ``accept`` instead of the right key, if given)."""
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


# --- what the engine sends ----------------------------------------------------------------------


def published(version: str, model: str = "acme-ai/vision") -> Found:
    return ("model.version_published", {"model": model, "version": version})


def engine_events(*found: Found) -> list[Any]:
    """Events as the engine writes a transaction's result."""
    return [
        {"type": kind, "attributes": [{"key": k, "value": v, "index": True} for k, v in a.items()]}
        for kind, a in found
    ]


def tx_message(height: int, index: int, events: list[Found]) -> bytes:
    """An engine subscription message carrying one transaction's events."""
    tx = {"height": str(height), "index": index, "result": {"events": engine_events(*events)}}
    data = {"type": "tendermint/event/Tx", "value": {"TxResult": tx}}
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "result": {"query": "...", "data": data}}
    ).encode()


def subscriber(queries: int, before: list[bytes], after: list[bytes], then: str = "wait") -> Script:
    """A websocket session that confirms ``queries`` subscriptions: ``before`` arrive before the
    last is confirmed, ``after`` after it; ``then`` the node drops the connection ("drop"),
    closes it ("close") or waits for the client's goodbye ("wait")."""

    def script(conn: socket.socket, received: list[dict[str, Any]]) -> None:
        handshake(conn)
        for i in range(queries):
            _, payload = read_client_frame(conn)
            received.append(json.loads(payload))
            if i == queries - 1:
                conn.sendall(b"".join(frame(0x1, m) for m in before))
            reply = {"jsonrpc": "2.0", "id": received[-1]["id"], "result": {}}
            conn.sendall(frame(0x1, json.dumps(reply).encode()))
        conn.sendall(b"".join(frame(0x1, m) for m in after))
        if then == "drop":
            conn.shutdown(socket.SHUT_RDWR)
        elif then == "close":
            conn.sendall(frame(0x8, b""))
        else:
            while read_client_frame(conn)[0] != 0x8:
                pass

    return script


# --- the node -----------------------------------------------------------------------------------


class FakeNode:
    """A node at one port: each websocket connection runs the next of ``sessions`` (none
    left: it is closed), each JSON-RPC POST is answered by ``rpc`` and recorded in
    ``calls``; what the websocket clients sent is in ``received``."""

    def __init__(self, sessions: list[Script], rpc: Rpc | None = None) -> None:
        self.sessions = list(sessions)
        self.rpc = rpc
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.received: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def __enter__(self) -> FakeNode:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening and wait (a little) for the connections' threads."""
        self.listener.close()
        for thread in list(self.threads):
            thread.join(5)

    def methods(self) -> list[str]:
        """The JSON-RPC methods called, in order."""
        return [method for method, _ in self.calls]

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                thread = threading.Thread(target=self._one, args=(conn,), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionError, OSError):
            if conn.recv(4, socket.MSG_PEEK) == b"POST":
                self._answer_post(conn)
            elif self.sessions:
                self.sessions.pop(0)(conn, self.received)

    def _answer_post(self, conn: socket.socket) -> None:
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
        params = call.get("params") or {}
        self.calls.append((call["method"], params))
        assert self.rpc is not None, f"no RPC expected, got {call['method']}"
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": call["id"]}
        try:
            result = self.rpc(call["method"], params)
        except RpcFailure as failure:
            answer["error"] = {"code": -32603, "message": "Internal error", "data": str(failure)}
        else:
            if result is None:
                return
            answer["result"] = result
        reply = json.dumps(answer).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(reply)}\r\n\r\n".encode()
            + reply
        )


# --- a chain behind the node's RPC ---------------------------------------------------------------

SEARCH = re.compile(r"tx\.height > (\d+) AND tx\.height <= (\d+) AND ([a-z_.]+)\.model='([^']*)'")
MAX_PER_PAGE = 100
MAX_HEADERS = 20


class FakeChain:
    """What a node's RPC answers of its chain: its height (the next of ``heights`` each status
        call, the last one repeated; None: the node is down), the events of each block's
        transactions (``blocks``: height -> one list of engine events a transaction), and its
        indexes (``indexed``: False answers a search as a node whose indexer is "null", "psql" as
    one whose indexer is "psql"; the first
        ``unindexed`` block searches find nothing, as an indexer behind)."""

    def __init__(
        self,
        heights: list[int | None],
        blocks: dict[int, Any],
        indexed: bool | str = True,
        unindexed: int = 0,
    ) -> None:
        self.heights = iter(heights)
        self.height: int | None = None
        self.blocks = blocks
        self.indexed = indexed
        self.unindexed = unindexed

    def __call__(self, method: str, params: dict[str, Any]) -> Any:
        if method == "status":
            self.height = next(self.heights, self.height)
            if self.height is None:
                return None
            return {"sync_info": {"latest_block_height": str(self.height)}}
        if method == "block_results":
            txs = self.blocks.get(int(params["height"]), [])
            if not isinstance(txs, list):
                return {"height": params["height"], "txs_results": txs}
            results = [{"code": 0, "events": events} for events in txs]
            return {"height": params["height"], "txs_results": results}
        if method == "blockchain":
            return self._blockchain(params)
        if self.indexed is not True:
            if self.indexed == "psql":
                raise RpcFailure(f"the {'Block' if method == 'block_search' else 'Tx'}Indexer"
                                 ".Search method is not supported")  # fmt: skip
            raise RpcFailure(f"{'block' if method == 'block_search' else 'transaction'} "
                             "indexing is disabled")  # fmt: skip
        if method == "block_search":
            return self._block_search(params)
        assert method == "tx_search", method
        return self._tx_search(params)

    def _blockchain(self, params: dict[str, Any]) -> Any:
        """As the engine: the headers from ``maxHeight`` down (at most 20, none above the
        chain's height), each with its transaction count."""
        low, high = int(params["minHeight"]), min(int(params["maxHeight"]), self.height or 0)
        metas = [
            {"header": {"height": str(h)}, "num_txs": str(len(self.blocks.get(h, [])))}
            for h in range(high, max(low, high - MAX_HEADERS + 1) - 1, -1)
        ]
        return {"last_height": str(self.height), "block_metas": metas}

    def _block_search(self, params: dict[str, Any]) -> Any:
        height = int(re.fullmatch(r"block\.height = (\d+)", params["query"])[1])  # type: ignore[index]
        if self.unindexed:
            self.unindexed -= 1
            return {"blocks": [], "total_count": "0"}
        found = self.height is not None and height <= self.height
        blocks = [{"block": {"header": {"height": str(height)}}}] if found else []
        return {"blocks": blocks, "total_count": str(len(blocks))}

    def _tx_search(self, params: dict[str, Any]) -> Any:
        """As CometBFT v0.38's kv indexer: every match sorted by (height, index), then the page
        asked (a page past the last is an error)."""
        match = SEARCH.fullmatch(params["query"])
        assert match, params["query"]
        after, upto, kind, model = int(match[1]), int(match[2]), match[3], match[4]
        assert params.get("order_by") == "asc" and params.get("prove") is False
        found = [
            {"hash": f"{h:X}{i:02X}", "height": str(h), "index": i, "tx": "",
             "tx_result": {"code": 0, "events": events}}
            for h in sorted(self.blocks) if after < h <= upto
            for i, events in enumerate(self.blocks[h])
            if any(_emits(event, kind, model) for event in events)
        ]  # fmt: skip
        per_page = min(int(params.get("per_page", 30)), MAX_PER_PAGE)
        page, pages = int(params.get("page", 1)), max(1, -(-len(found) // per_page))
        if not 1 <= page <= pages:
            raise RpcFailure(f"page should be within [1, {pages}] range, given {page}")
        txs = found[(page - 1) * per_page : page * per_page]
        return {"txs": txs, "total_count": str(len(found))}


def _emits(event: Any, kind: str, model: str) -> bool:
    attributes = {a["key"]: a["value"] for a in event["attributes"]}
    return bool(event["type"] == kind and attributes.get("model") == model)
