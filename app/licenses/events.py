"""Event types of the licenses domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

from app.core.env import Event

DEPLOYED = "license.deployed"
"""A license script was deployed."""
ATTACHED = "license.attached"
"""A license now governs a version."""


def attached(model: str, version: str, license_id: str) -> Event:
    """The event of an attachment, the same whoever attaches (an attach, or a publication
    that names its license)."""
    return Event(ATTACHED, (("model", model), ("version", version), ("license", license_id)))
