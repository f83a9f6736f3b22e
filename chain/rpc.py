"""A small client for the engine's JSON-RPC (CometBFT v0.38), over HTTP POST.

Byte fields travel as the engine expects them: transactions base64, query data hex.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from typing import Any

import requests

DEFAULT_NODE = "http://127.0.0.1:26657"
"""The RPC of a node on this machine at the default ports: the one place that names it."""
NODE_ENV = "MODELGOV_NODE"


def default_node() -> str:
    """Where a command finds a node when not told: ``$MODELGOV_NODE``, else the user's
    ``modelgov config set node URL`` (chain/config.py), else DEFAULT_NODE."""
    from chain import config

    return os.environ.get(NODE_ENV) or config.get("node") or DEFAULT_NODE


MAX_REPLY_BYTES = 512 * 1024 * 1024
"""The largest answer read from a node (a block of the engine's largest size, base64 in JSON,
is far less)."""


class RpcError(Exception):
    """The node could not be reached or answered with an error."""


def _bounded(reply: requests.Response, url: str) -> bytes:
    """The body of ``reply``, read up to MAX_REPLY_BYTES; raises RpcError beyond."""
    chunks, size = [], 0
    for chunk in reply.iter_content(1 << 20):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise RpcError(f"{url} answered over {MAX_REPLY_BYTES} bytes; not a node's answer")
        chunks.append(chunk)
    return b"".join(chunks)


class RpcClient:
    """JSON-RPC calls to one node."""

    _ids = itertools.count(1)

    def __init__(self, url: str = DEFAULT_NODE, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(self, method: str, **params: Any) -> Any:
        """One JSON-RPC call; returns its ``result`` or raises RpcError, also for any answer
        that is not a JSON-RPC reply (the node may be anyone's: deep nesting, another shape, a
        body past MAX_REPLY_BYTES, a redirect)."""
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            reply = self.session.post(
                self.url, json=payload, timeout=self.timeout, stream=True, allow_redirects=False
            )
            with reply:
                raw = _bounded(reply, self.url)
        except requests.RequestException as exc:
            raise RpcError(f"cannot reach the node at {self.url}: {exc}") from None
        not_rpc = RpcError(f"{self.url} answered HTTP {reply.status_code}, not JSON-RPC")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise not_rpc from None
        if not isinstance(body, dict) or not ("error" in body or "result" in body):
            raise not_rpc
        if "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {"message": body["error"]}
            raise RpcError(f"{method}: {error.get('message')} {error.get('data', '')}".strip())
        return body["result"]

    def status(self) -> dict[str, Any]:
        """``/status``: node info, sync info, validator info."""
        result: dict[str, Any] = self.call("status")
        return result

    def abci_query(
        self, path: str, data: bytes, *, prove: bool = False, height: int = 0
    ) -> dict[str, Any]:
        """``/abci_query``: the app's ResponseQuery as JSON (bytes fields base64)."""
        result = self.call(
            "abci_query", path=path, data=data.hex(), prove=prove, height=str(height)
        )
        response: dict[str, Any] = result["response"]
        return response

    def broadcast_tx_sync(self, tx: bytes) -> dict[str, Any]:
        """``/broadcast_tx_sync``: CheckTx's answer for ``tx``."""
        result: dict[str, Any] = self.call("broadcast_tx_sync", tx=base64.b64encode(tx).decode())
        return result

    def tx(self, tx_hash: bytes) -> dict[str, Any] | None:
        """``/tx``: the committed tx and its result, or None while it is not in a block."""
        try:
            result: dict[str, Any] = self.call("tx", hash=base64.b64encode(tx_hash).decode())
        except RpcError as exc:
            if "not found" in str(exc):
                return None
            raise
        return result

    def commit(self, height: int) -> dict[str, Any]:
        """``/commit``: the signed header of ``height``."""
        result: dict[str, Any] = self.call("commit", height=str(height))
        return result

    def block_at(self, height: int = 0) -> dict[str, Any]:
        """``/block``: the block at ``height`` (the latest when 0)."""
        params = {"height": str(height)} if height else {}
        result: dict[str, Any] = self.call("block", **params)
        return result

    def net_info(self) -> dict[str, Any]:
        """``/net_info``: peers."""
        result: dict[str, Any] = self.call("net_info")
        return result

    def validators(self) -> dict[str, Any]:
        """``/validators`` at the latest height."""
        result: dict[str, Any] = self.call("validators")
        return result
