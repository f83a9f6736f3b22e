"""The RPC wrapper against a node that answers anything: every answer that is not a JSON-RPC
result is an RpcError saying so (the CLI and the weights server's ledger catch exactly that),
never a RecursionError, TypeError or KeyError from deep inside, nor a redirect followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import chain.rpc as rpc
from chain.rpc import RpcClient, RpcError

ANSWERS = {
    "/deep": b"[" * 200_000 + b"]" * 200_000,
    "/deepobject": b'{"result":' * 100_000 + b"1" + b"}" * 100_000,
    "/list": b"[1, 2, 3]",
    "/noresult": b'{"jsonrpc": "2.0", "id": 1}',
    "/errorstring": b'{"jsonrpc": "2.0", "id": 1, "error": "no"}',
    "/big": b'{"result": "' + b"x" * (3 << 20) + b'"}',
}


class Node(BaseHTTPRequestHandler):
    """Answers the POST with the body ``ANSWERS`` names for its path; /redirect redirects."""

    hits: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/redirect":
            self.send_response(307)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = ANSWERS.get(self.path, b'{"result": {"ok": true}}')
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def node() -> Iterator[str]:
    Node.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Node)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/deep", "/deepobject", "/list", "/noresult", "/errorstring"])
def test_a_malformed_answer_is_an_rpc_error(node: str, path: str) -> None:
    with pytest.raises(RpcError):
        RpcClient(node + path).status()


def test_an_answer_past_the_bound_is_an_rpc_error(
    node: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node cannot make its client hold an answer of any size in memory."""
    monkeypatch.setattr(rpc, "MAX_REPLY_BYTES", 1 << 20, raising=False)
    with pytest.raises(RpcError, match="bytes"):
        RpcClient(node + "/big").status()


def test_a_redirect_is_not_followed(node: str) -> None:
    with pytest.raises(RpcError):
        RpcClient(node + "/redirect").status()
    assert Node.hits == ["/redirect"]


def test_a_plain_answer_still_works(node: str) -> None:
    assert RpcClient(node + "/fine").status() == {"ok": True}
