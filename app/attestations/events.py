"""Event types of the attestations domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

RECORDED = "attestation.recorded"
"""An attestation was recorded about a version."""
