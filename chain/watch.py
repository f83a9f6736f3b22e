"""``modelgov watch ORG/NAME``: what happens to one model, as blocks commit, from the engine's
event subscription (``/websocket``, JSON-RPC ``subscribe``).

The engine's query language has no OR, so each watched event type is its own subscription
(``tm.event='Tx' AND <type>.model='ORG/NAME'``, at most MAX_SUBSCRIPTIONS: the engine's default
``max_subscriptions_per_client`` is 5). A transaction that matches several subscriptions
arrives once per match; it is reported once, with every watched event it emitted for the model.

After a drop (a node restart) the watch catches up from the engine's transaction index
(``/tx_search``, the same conditions within a height range, 100 a page), not block by block:
every watched event is a transaction's (none is emitted at the end of a block), and the app
marks every attribute ``index: true`` (app/abci/convert.py), which the engine's default
``[tx_index] indexer = "kv"`` indexes. A node that indexes nothing (``"null"``, or ``"psql"``,
which the engine's RPC cannot search) is read block by block, its empty blocks skipped by their
headers (``/blockchain``, 20 a call).
"""

from __future__ import annotations

import heapq
import itertools
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.core import names
from app.core.errors import TxError
from app.licenses import events as license_events
from app.market import events as market_events
from app.models import errors as model_errors
from app.models import events as model_events
from chain.rpc import RpcClient, RpcError
from chain.websocket import ConnectionLost, WebSocket, WebSocketError, ws_url

WATCHED: dict[str, str] = {
    model_events.VERSION_PUBLISHED: "version",
    license_events.ATTACHED: "license",
    model_events.VERSION_STATUS: "status",
    model_events.TRANSFERRED: "owner",
    market_events.SOLD: "sold",
}
"""The event types watched (each names its model in ``model``), and the word a line shows."""
MAX_SUBSCRIPTIONS = 5
SEEN_TXS = 4096
"""How many (height, index) pairs are remembered to report a transaction once."""
EARLY_TXS = 256
"""Most transactions of the model a node may send before it has confirmed every
subscription: they are held until then, and a message may be megabytes."""
MIN_PAUSE, MAX_PAUSE = 0.25, 5.0
"""The first and the longest pause between two attempts to reach a node that went away
(seconds)."""
MAX_CATCH_UP = 10_000
"""The most blocks a reconnected watch reads back."""
PER_PAGE = 100
"""Transactions a /tx_search page holds (the engine's most)."""
MAX_PAGES = 100
"""The most /tx_search pages read for one watched event type in one catch-up."""
INDEX_WAIT = 10.0
"""How long a catch-up waits for the node to index the blocks it reports (seconds)."""
NO_INDEX = ("indexing is disabled", "not supported")
"""What the engine answers a search when its ``[tx_index] indexer`` is ``"null"`` (or
``"psql"``, which its RPC cannot search)."""
HEADERS = 20
"""Block headers one ``/blockchain`` call returns (the engine's most)."""


class WatchError(Exception):
    """The model id is not valid, or the node refused a subscription or went away."""


@dataclass(frozen=True)
class Change:
    """One watched event of the model, in a committed transaction."""

    height: int
    event: str
    attributes: dict[str, str]

    @property
    def kind(self) -> str:
        return WATCHED.get(self.event, self.event)

    def line(self) -> str:
        """The one-line text form: height, kind, then the event's attributes."""
        shown = "  ".join(f"{k}={v}" for k, v in self.attributes.items())
        return f"{self.height}  {self.kind}  {shown}"

    def to_json(self) -> dict[str, Any]:
        return {"height": self.height, "kind": self.kind, "event": self.event, **self.attributes}


def subscriptions(model: str) -> list[str]:
    """The engine queries of a model's watched events; raises WatchError for a bad id (an id
    is ORG/NAME, so it never holds the quote that would end the query's string)."""
    return [f"tm.event='Tx' AND {condition}" for condition in _conditions(model)]


def searches(model: str, after: int, upto: int) -> list[str]:
    """The ``/tx_search`` queries of the model's watched events committed at heights
    ``after + 1`` to ``upto``: the subscriptions' conditions (``tm.event`` is not indexed)."""
    span = f"tx.height > {after} AND tx.height <= {upto}"
    return [f"{span} AND {condition}" for condition in _conditions(model)]


def _conditions(model: str) -> list[str]:
    try:
        names.check_model_id(model, model_errors.INVALID_NAME)
    except TxError as err:
        raise WatchError(err.detail) from None
    return [f"{event}.model='{model}'" for event in WATCHED]


Events = list[tuple[str, dict[str, str]]]
"""A transaction's events in order: (type, attributes) each."""


def changes(message: dict[str, Any], model: str) -> tuple[tuple[int, int], list[Change]] | None:
    """The (height, index) of the transaction a subscription message carries and its watched
    events for ``model``; None for a message that carries no transaction (the replies to the
    subscribe calls). Raises WatchError for a message of another shape (a node is as
    untrusted as any peer)."""
    found = tx_events(message)
    if found is None:
        return None
    return found[0], picked(found[0][0], found[1], model)


def picked(height: int, events: Events, model: str) -> list[Change]:
    """The watched events of ``model`` among a transaction's."""
    return [
        Change(height, kind, attributes)
        for kind, attributes in events
        if kind in WATCHED and attributes.get("model") == model
    ]


def tx_events(message: dict[str, Any]) -> tuple[tuple[int, int], Events] | None:
    """The (height, index) of the transaction a subscription message carries and every event
    of it; None for a message that carries none. Raises WatchError for another shape."""
    try:
        value = (((message.get("result") or {}).get("data") or {}).get("value")) or {}
        tx = value.get("TxResult")
        if not isinstance(tx, dict):
            return None
        key = (int(tx.get("height", 0)), int(tx.get("index", 0)))
        return key, events_of((tx.get("result") or {}).get("events"))
    except (AttributeError, KeyError, TypeError, ValueError):
        raise WatchError("the node sent a transaction event of an unknown shape") from None


def events_of(raw: Any) -> Events:
    """A transaction result's events as the engine writes them (a subscription message, a
    block's results, a search; an empty key or value is left out); raises WatchError for
    another shape."""
    try:
        return [
            (
                str(e.get("type", "")),
                {str(a.get("key", "")): str(a.get("value", "")) for a in e.get("attributes") or []},
            )
            for e in raw or []
        ]
    except (AttributeError, TypeError):
        raise WatchError("the node sent a transaction event of an unknown shape") from None


def watch(
    node: str,
    model: str,
    report: Callable[[Change], None],
    count: int = 0,
    timeout: float = 0,
    ready: Callable[[], None] | None = None,
    reconnect: float = 0,
    say: Callable[[str], None] | None = None,
) -> int:
    """Subscribe to the model's events at ``node`` (its RPC URL) and ``report`` each change as
    it commits; stop after ``count`` changes (0: never). ``ready`` is called once the node has
    confirmed every subscription (what commits after it is reported). When the connection
    drops after that (a node restart), connect again for up to ``reconnect`` seconds (0: give
    up at once), report what committed meanwhile from the node's transaction index, each
    transaction once and in (height, index) order, and tell ``say``. Returns how many were
    reported. Raises WatchError when the node cannot be reached, refuses a subscription,
    breaks the protocol, or stays away."""
    queries = subscriptions(model)
    follower = Follower(model, report, count, RpcClient(node, timeout=timeout or 10.0))
    follower.rpc_after_drop = reconnect > 0
    tell = say or (lambda _: None)
    lost_at, caught_up = 0.0, -1
    while True:
        try:
            _session(node, queries, follower, timeout, ready)
            return follower.reported
        except (ConnectionLost, RpcError) as exc:
            if not reconnect or not follower.connected:
                raise WatchError(str(exc)) from None
            if follower.caught_up != caught_up:  # a new drop, not a failed catch-up
                lost_at, caught_up = time.monotonic(), follower.caught_up
            elif time.monotonic() > lost_at + reconnect:
                raise WatchError(
                    f"could not follow the node again in {reconnect:g} s: {exc}"
                ) from None
            tell(f"lost the node ({exc}); connecting again for up to {reconnect:g} s")
            _wait_for_node(follower.rpc, lost_at + reconnect - time.monotonic())
            tell(f"reconnected; catching up from height {follower.resume}")
        except WebSocketError as exc:
            raise WatchError(str(exc)) from None


def _wait_for_node(rpc: RpcClient, window: float) -> None:
    """Return once the node answers its status again, asking with a growing pause (never at
    once: a node that accepts and drops is not hammered); raises WatchError after ``window``
    seconds."""
    deadline = time.monotonic() + window
    pause = MIN_PAUSE
    while True:
        time.sleep(pause)
        try:
            rpc.status()
            return
        except RpcError as exc:
            if time.monotonic() + pause > deadline:
                raise WatchError(f"the node stayed away: {exc}") from None
        pause = min(pause * 2, MAX_PAUSE)


def _session(
    node: str,
    queries: list[str],
    follower: Follower,
    timeout: float,
    ready: Callable[[], None] | None,
) -> None:
    """One connection: subscribe, report what committed while away (after a drop), then
    follow; returns once ``count`` changes were reported. Raises ConnectionLost or RpcError
    when the node goes away, WebSocketError or WatchError otherwise."""
    socket = WebSocket(ws_url(node), timeout=timeout or None)
    try:
        early = _subscribe(socket, queries, follower.model)
        if follower.connected:
            if follower.backfill(follower.node_height()):
                return
        else:
            if follower.rpc_after_drop:  # where to catch up from if the connection drops
                follower.resume = follower.node_height() + 1
            follower.connected = True
            if ready is not None:
                ready()
        follower.caught_up += 1
        for message in itertools.chain(early, _messages(socket)):
            if "error" in message:
                raise ConnectionLost(f"the node refused the subscription: {_error(message)}")
            if follower.handle(message):
                return
    finally:
        socket.close()


def _subscribe(socket: WebSocket, queries: list[str], model: str) -> list[dict[str, Any]]:
    """Send the subscriptions and wait until the node confirmed each; returns the messages
    that came meanwhile (reported after what a catch-up finds). Raises WatchError when the
    node refuses one."""
    waiting = set(range(1, len(queries[:MAX_SUBSCRIPTIONS]) + 1))
    for i, query in enumerate(queries[:MAX_SUBSCRIPTIONS], start=1):
        call = {"jsonrpc": "2.0", "id": i, "method": "subscribe", "params": {"query": query}}
        socket.send(json.dumps(call))
    early: list[dict[str, Any]] = []
    for message in _messages(socket):
        if "error" in message:
            raise WatchError(f"the node refused the subscription: {_error(message)}")
        if changes(message, model) is None:
            ident = message.get("id")
            if isinstance(ident, int):
                waiting.discard(ident)
            if not waiting:
                return early
        elif len(early) < EARLY_TXS:
            early.append(message)
        else:
            raise WatchError(f"the node sent {EARLY_TXS} transactions before confirming")
    return early


def _error(message: dict[str, Any]) -> str:
    error = message.get("error")
    if not isinstance(error, dict):
        return "an error"
    return f"{error.get('message')} {error.get('data', '')}".strip()[:400]


class Follower:
    """What a watch has reported, across connections: the transactions seen (by height and
    index), the lowest height that may hold unreported ones (``resume``), and the count."""

    def __init__(
        self, model: str, report: Callable[[Change], None], count: int, rpc: RpcClient
    ) -> None:
        self.model = model
        self.report = report
        self.count = count
        self.rpc = rpc
        self.seen: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.connected = False
        self.rpc_after_drop = False
        """Whether a dropped connection is followed again (then the node's height is asked
        when the watch starts)."""
        self.caught_up = 0
        """Sessions that got as far as following live (a reconnect window starts anew)."""
        self.resume = 0
        self.reported = 0

    def node_height(self) -> int:
        """The node's latest committed height; raises RpcError (away) or WatchError."""
        try:
            return int(self.rpc.status()["sync_info"]["latest_block_height"])
        except (KeyError, TypeError, ValueError):
            raise WatchError("the node's status has an unknown shape") from None

    def handle(self, message: dict[str, Any]) -> bool:
        """Report the watched changes of a subscription message unless its transaction was
        reported; True once ``count`` changes were."""
        found = changes(message, self.model)
        if found is None:
            return False
        self.resume = max(self.resume, found[0][0])
        return self._report(*found)

    def backfill(self, now: int) -> bool:
        """Report what committed from ``resume`` to ``now`` (the subscription missed it while
        the connection was down), each transaction once and in (height, index) order; True
        once ``count`` changes were. Raises RpcError (away, or not done indexing) or
        WatchError (a gap over MAX_CATCH_UP blocks, or answers of a shape it cannot read)."""
        if now - self.resume >= MAX_CATCH_UP:
            raise WatchError(
                f"the node is at height {now}, more than {MAX_CATCH_UP} blocks past "
                f"{self.resume}: watch again from now"
            )
        if now < self.resume:
            return False
        try:
            done = self._from_index(now)
        except RpcError as exc:
            if not any(words in str(exc) for words in NO_INDEX):
                raise
            done = self._from_blocks(self.resume, now)
        if not done:
            self.resume = max(self.resume, now + 1)
        return done

    def _from_index(self, now: int) -> bool:
        """Heights ``resume`` to ``now - 1`` from the transaction index, one paged
        ``/tx_search`` per watched event type merged in order, once the node has indexed block
        ``now`` (its indexer indexes a block's header, then its transactions, block after
        block, so every transaction below ``now`` is then indexed); block ``now`` from its
        results."""
        self._wait_indexed(now)
        if now > self.resume:
            span = (self.resume - 1, now - 1)
            pages = [_search(self.rpc, q, span) for q in searches(self.model, *span)]
            last: tuple[int, int] | None = None
            for key, events in heapq.merge(*pages, key=lambda found: found[0]):
                if key != last and self._report(key, picked(key[0], events, self.model)):
                    return True
                last = key
        return self._from_block(now)

    def _from_blocks(self, first: int, last: int) -> bool:
        """Heights ``first`` to ``last`` from the results of each block that holds a
        transaction (what a node that indexes nothing leaves): the headers, 20 a call, tell
        which; one call per such block."""
        for low in range(first, last + 1, HEADERS):
            for height in self._with_txs(low, min(low + HEADERS - 1, last)):
                if self._from_block(height):
                    return True
        return False

    def _from_block(self, height: int) -> bool:
        """Block ``height`` from its results."""
        for index, events in enumerate(self._tx_events(height)):
            if self._report((height, index), picked(height, events_of(events), self.model)):
                return True
        return False

    def _with_txs(self, low: int, high: int) -> list[int]:
        """The heights from ``low`` to ``high`` whose header counts a transaction, or that the
        node left out of its answer (read rather than skipped)."""
        found = self.rpc.call("blockchain", minHeight=str(low), maxHeight=str(high))
        try:
            counts = {
                int(meta["header"]["height"]): int(meta["num_txs"]) for meta in found["block_metas"]
            }
        except (KeyError, TypeError, ValueError):
            raise WatchError("the node's block headers have an unknown shape") from None
        return [height for height in range(low, high + 1) if counts.get(height, 1) != 0]

    def _wait_indexed(self, height: int) -> None:
        """Return once the node's block index holds ``height``, asking with a growing pause;
        raises RpcError after INDEX_WAIT seconds (the watch then connects again)."""
        deadline = time.monotonic() + INDEX_WAIT
        pause = MIN_PAUSE
        while True:
            found = self.rpc.call(
                "block_search", query=f"block.height = {height}", page="1", per_page="1"
            )
            try:
                if int(found["total_count"]) > 0:
                    return
            except (KeyError, TypeError, ValueError):
                raise WatchError("the node's block search has an unknown shape") from None
            if time.monotonic() + pause > deadline:
                raise RpcError(f"the node has not indexed block {height} in {INDEX_WAIT:g} s")
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)

    def _tx_events(self, height: int) -> list[Any]:
        """The events of each transaction of block ``height``, in block order."""
        try:
            results = self.rpc.call("block_results", height=str(height)).get("txs_results")
            return [tx.get("events") or [] for tx in results or []]
        except (AttributeError, TypeError):
            raise WatchError(
                f"the node's results of block {height} have an unknown shape"
            ) from None

    def _report(self, key: tuple[int, int], found: list[Change]) -> bool:
        if key in self.seen:
            return False
        self.seen[key] = None
        if len(self.seen) > SEEN_TXS:
            self.seen.popitem(last=False)
        for change in found:
            self.report(change)
            self.reported += 1
            if self.count and self.reported >= self.count:
                return True
        return False


def _search(
    rpc: RpcClient, query: str, span: tuple[int, int]
) -> Iterator[tuple[tuple[int, int], Events]]:
    """Each transaction ``query`` finds (heights above ``span[0]`` up to ``span[1]``), as
    (height, index) and its events, in that order: the next page is asked only when the merge
    reaches it. Raises WatchError for answers out of order, out of the span or of an unknown
    shape, or past MAX_PAGES pages."""
    last = (span[0], -1)
    for page in range(1, MAX_PAGES + 1):
        found = rpc.call(
            "tx_search", query=query, prove=False, page=str(page), per_page=str(PER_PAGE),
            order_by="asc",
        )  # fmt: skip
        txs, total = _page(found)
        for key, events in txs:
            if key <= last or not span[0] < key[0] <= span[1]:
                raise WatchError("the node's search results are out of order or range")
            last = key
            yield key, events
        if len(txs) < PER_PAGE or page * PER_PAGE >= total:
            return
    raise WatchError(
        f"more than {MAX_PAGES * PER_PAGE} transactions to catch up: watch again from now"
    )


def _page(found: Any) -> tuple[list[tuple[tuple[int, int], Events]], int]:
    """The transactions of one ``/tx_search`` page and the search's total count."""
    try:
        txs = [
            ((int(tx["height"]), int(tx.get("index", 0))), events_of(tx["tx_result"].get("events")))
            for tx in found["txs"]
        ]
        return txs, int(found["total_count"])
    except (AttributeError, KeyError, TypeError, ValueError):
        raise WatchError("the node's search results have an unknown shape") from None


def _messages(socket: WebSocket) -> Iterator[dict[str, Any]]:
    while True:
        try:
            message = json.loads(socket.recv())
        except ValueError:
            raise WatchError("the node sent a message that is not JSON") from None
        if isinstance(message, dict):
            yield message
