"""Event types of the models domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

REGISTERED = "model.registered"
"""A model was registered."""
DIGESTS_CLAIMED = "model.digests_claimed"
"""An organisation claimed digests it will publish in a later block (app.models.claims)."""
VERSION_PUBLISHED = "model.version_published"
"""A version was published (by a publication, or a federated round's update or aggregate)."""
VERSION_STATUS = "model.version_status"
"""A version was deprecated or revoked."""
TRANSFERRED = "model.transferred"
"""A model passed to another organisation."""
PROVIDER = "model.provider"
"""An organisation announced a store serving a digest."""
ALIAS_SET = "model.alias"
"""An alias of a model was set, moved or removed (version "")."""
DEFAULT_LICENSE = "model.default_license"
"""A model's default license (inherited by versions published without one) changed."""
