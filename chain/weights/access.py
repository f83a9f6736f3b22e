"""The store's side of access: ask the ledger once per request, and turn its answer into HTTP.

The decision itself lives in the state machine (``app.models.access``, queries
``/models/read_access`` and ``/models/write_access``); a store only enforces it and never widens
it. One request costs one local query, plus a ``/status`` at most once a second for the clock a
license decides at. Nothing here waits for blocks: a refusal answers at once, and an unreachable
or slow node (short RPC timeout) answers 503.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from app.models import errors
from app.pb.modelgov.v1 import state_pb2
from chain.client import ClientError, Node
from chain.rpc import RpcError

RPC_TIMEOUT = 5.0
CLOCK_SECONDS = 1.0
NOT_FOUND = (errors.NOT_PUBLISHED.name, errors.FILE_NOT_LISTED.name)


@dataclass(frozen=True)
class Access:
    """A decision: allowed, or the HTTP status and a reason a person can act on. ``org`` is the
    requester's organisation; ``file_digest`` the blob to serve for a directory's file."""

    allowed: bool
    status: int = 200
    reason: str = ""
    hint: str = ""
    org: str = ""
    file_digest: str = ""
    blob_holder: str = ""


def from_decision(decision: state_pb2.AccessDecision) -> Access:
    """The HTTP view of the ledger's answer: 404 for nothing to serve, else 403."""
    if decision.allowed:
        return Access(
            True, 200, decision.reason, "", decision.org, decision.file_digest, decision.blob_holder
        )
    status = 404 if decision.rule in NOT_FOUND else 403
    return Access(False, status, decision.reason, decision.hint, decision.org)


class Ledger:
    """The node's answers for one store, one query per request (a client per thread, since an
    HTTP session is not shared safely between threads)."""

    def __init__(self, node_url: str, rpc_timeout: float = RPC_TIMEOUT) -> None:
        self.node_url = node_url
        self.rpc_timeout = rpc_timeout
        self._local = threading.local()
        self._clock: tuple[float, tuple[int, int]] | None = None
        self._clock_lock = threading.Lock()

    def node(self) -> Node:
        """This thread's client of the node."""
        node: Node | None = getattr(self._local, "node", None)
        if node is None:
            node = Node(self.node_url)
            node.rpc.timeout = self.rpc_timeout
            self._local.node = node
        return node

    def read(self, address: str, digest: str, path: str = "", uploader: str = "") -> Access:
        """May ``address`` download ``digest`` (or its file ``path``) now, from a copy that
        ``uploader``'s upload brought into this store (if given)?"""
        try:
            clock = self.clock()
            decision, _ = self.node().read_access(address, digest, path, clock, uploader)
        except ClientError as exc:
            return Access(False, 400, f"the ledger refused the question: {exc}")
        except RpcError as exc:
            return _unreachable(exc)
        return from_decision(decision)

    def write(self, address: str, model: str) -> Access:
        """May ``address`` upload weights of ``model`` now?"""
        try:
            decision = self.node().write_access(address, model)
        except ClientError as exc:
            return Access(False, 400, f"the ledger refused the question: {exc}")
        except RpcError as exc:
            return _unreachable(exc)
        return from_decision(decision)

    def clock(self) -> tuple[int, int]:
        """(height, time) of the next block as a license sees it, at most a second old."""
        with self._clock_lock:
            cached = self._clock
        if cached is not None and time.monotonic() - cached[0] < CLOCK_SECONDS:
            return cached[1]
        fresh = self.node().next_block()
        with self._clock_lock:
            self._clock = (time.monotonic(), fresh)
        return fresh


def _unreachable(exc: Exception) -> Access:
    return Access(False, 503, f"the ledger did not answer: {exc}", "retry later")
