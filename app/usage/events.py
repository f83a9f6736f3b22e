"""Event types of the usage domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

RECEIPT = "usage.receipt"
"""A use was allowed, paid and recorded."""
