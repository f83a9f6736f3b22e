"""Event types of the members domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

PROPOSAL = "gov.proposal"
"""A proposal was submitted."""
VOTE = "gov.vote"
"""An organisation voted."""
DECIDED = "gov.decided"
"""A proposal was decided (end of block)."""
