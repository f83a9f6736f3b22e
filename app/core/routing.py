"""What the kernel knows of a message: the role its sender needs, its stateless check, its
handler and the gas of its check. The machine (``app.machine``) names every message kind and
its route; the kernel only looks a message up in the table it is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import UNKNOWN_MESSAGE, TxError
from app.pb.modelgov.v1 import state_pb2, tx_pb2

NO_ROLE = ""
"""The role of a message any consortium account may send."""


def no_gas(msg: Any) -> int:
    """The check of most messages costs nothing beyond the message's base gas."""
    return 0


@dataclass(frozen=True)
class Route:
    """One message kind: the sender's required role (NO_ROLE: none), its stateless check, its
    handler, and the gas its stateless check costs (paid even when the check refuses)."""

    role: str
    validate: Callable[[Any, state_pb2.Params], None]
    handle: Callable[[MsgContext, Any], Event]
    check_gas: Callable[[Any], int] = no_gas


@dataclass(frozen=True)
class RoutedMsg:
    """A message unpacked from its oneof, with the route that handles it."""

    kind: str
    route: Route
    body: Any


Routes = Mapping[str, Route]


def route(msg: tx_pb2.Msg, routes: Routes) -> RoutedMsg:
    """Find the route of a message; raises TxError(unknown_message) for an empty or new kind."""
    kind = msg.WhichOneof("sum")
    if kind is None or kind not in routes:
        raise TxError(UNKNOWN_MESSAGE, "a message is empty or of a kind this app does not know")
    return RoutedMsg(kind, routes[kind], getattr(msg, kind))
