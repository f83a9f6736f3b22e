"""Event types of the credits domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

from app.core.env import Event

TRANSFER = "credits.transfer"
"""Credits moved between organisations (a transfer, or a use's fee)."""


def transfer(payer: str, payee: str, amount: int, reason: str = "") -> Event:
    """The event of one move of credits, the same whoever moves them: a transfer has no
    ``reason``; a move inside another message names it (a use's fee: "use")."""
    attributes: tuple[tuple[str, str], ...] = (
        ("from", payer),
        ("to", payee),
        ("amount", str(amount)),
    )
    if reason:
        attributes += (("reason", reason),)
    return Event(TRANSFER, attributes)
