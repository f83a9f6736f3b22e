"""Event types of the federated domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

ROUND_OPENED = "federated.round_opened"
"""A round opened."""
UPDATE_SUBMITTED = "federated.update_submitted"
"""An invited organisation submitted its update."""
ROUND_FINALIZED = "federated.round_finalized"
"""The opener published the aggregate."""
ROUND_EXPIRED = "federated.round_expired"
"""A round passed its deadline unfinalized (end of block)."""
