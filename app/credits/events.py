"""Event types of the credits domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

TRANSFER = "credits.transfer"
"""Credits moved between organisations (a transfer, or a use's fee)."""
