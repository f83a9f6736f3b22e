"""Event types of the datasets domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

REGISTERED = "dataset.registered"
"""A dataset was registered."""
VERSION_PUBLISHED = "dataset.version_published"
"""A version of a dataset was published."""
