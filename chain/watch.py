"""``modelgov watch ORG/NAME``: what happens to one model, as blocks commit, from the engine's
event subscription (``/websocket``, JSON-RPC ``subscribe``).

The engine's query language has no OR, so each watched event type is its own subscription
(``tm.event='Tx' AND <type>.model='ORG/NAME'``, at most MAX_SUBSCRIPTIONS: the engine's default
``max_subscriptions_per_client`` is 5). A transaction that matches several subscriptions
arrives once per match; it is reported once, with every watched event it emitted for the model.
"""

from __future__ import annotations

import itertools
import json
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
from chain.websocket import WebSocket, WebSocketError, ws_url

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
    try:
        names.check_model_id(model, model_errors.INVALID_NAME)
    except TxError as err:
        raise WatchError(err.detail) from None
    return [f"tm.event='Tx' AND {event}.model='{model}'" for event in WATCHED]


def changes(message: dict[str, Any], model: str) -> tuple[tuple[int, int], list[Change]] | None:
    """The (height, index) of the transaction a subscription message carries and its watched
    events for ``model``; None for a message that carries no transaction (the replies to the
    subscribe calls). Raises WatchError for a message of another shape (a node is as
    untrusted as any peer)."""
    try:
        return _changes(message, model)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise WatchError("the node sent a transaction event of an unknown shape") from None


def _changes(message: dict[str, Any], model: str) -> tuple[tuple[int, int], list[Change]] | None:
    value = (((message.get("result") or {}).get("data") or {}).get("value")) or {}
    tx = value.get("TxResult")
    if not isinstance(tx, dict):
        return None
    height, index = int(tx.get("height", 0)), int(tx.get("index", 0))
    found = []
    for event in (tx.get("result") or {}).get("events") or []:
        attributes = {
            str(a.get("key", "")): str(a.get("value", "")) for a in event.get("attributes") or []
        }
        if event.get("type") in WATCHED and attributes.get("model") == model:
            found.append(Change(height, event["type"], attributes))
    return (height, index), found


def watch(
    node: str,
    model: str,
    report: Callable[[Change], None],
    count: int = 0,
    timeout: float = 0,
    ready: Callable[[], None] | None = None,
) -> int:
    """Subscribe to the model's events at ``node`` (its RPC URL) and ``report`` each change as
    it commits; stop after ``count`` changes (0: never). ``ready`` is called once the node has
    confirmed every subscription (what commits after it is reported). Returns how many were
    reported. Raises WatchError when the node cannot be reached, refuses a subscription, or
    goes away."""
    queries = subscriptions(model)
    try:
        socket = WebSocket(ws_url(node), timeout=timeout or None)
    except WebSocketError as exc:
        raise WatchError(str(exc)) from None
    try:
        return _follow(socket, queries, model, report, count, ready or (lambda: None))
    except WebSocketError as exc:
        raise WatchError(str(exc)) from None
    finally:
        socket.close()


def _follow(
    socket: WebSocket,
    queries: list[str],
    model: str,
    report: Callable[[Change], None],
    count: int,
    ready: Callable[[], None],
) -> int:
    ids = itertools.count(1)
    waiting = set(range(1, len(queries[:MAX_SUBSCRIPTIONS]) + 1))
    for query in queries[:MAX_SUBSCRIPTIONS]:
        call = {
            "jsonrpc": "2.0",
            "id": next(ids),
            "method": "subscribe",
            "params": {"query": query},
        }
        socket.send(json.dumps(call))
    seen: OrderedDict[tuple[int, int], None] = OrderedDict()
    reported = 0
    for message in _messages(socket):
        if "error" in message:
            error = message["error"]
            raise WatchError(f"the node refused: {error.get('message')} {error.get('data', '')}")
        found = changes(message, model)
        if found is None and waiting and message.get("id") in waiting:
            waiting.discard(message["id"])
            if not waiting:
                ready()
        if found is None or found[0] in seen:
            continue
        seen[found[0]] = None
        if len(seen) > SEEN_TXS:
            seen.popitem(last=False)
        for change in found[1]:
            report(change)
            reported += 1
            if count and reported >= count:
                return reported
    return reported


def _messages(socket: WebSocket) -> Iterator[dict[str, Any]]:
    while True:
        try:
            message = json.loads(socket.recv())
        except ValueError:
            raise WatchError("the node sent a message that is not JSON") from None
        if isinstance(message, dict):
            yield message
