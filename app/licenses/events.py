"""Event types of the licenses domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

DEPLOYED = "license.deployed"
"""A license script was deployed."""
ATTACHED = "license.attached"
"""A license now governs a version."""
