"""The roles an account can hold; a message names the role its sender needs."""

from __future__ import annotations

from app.core.routing import NO_ROLE

ADMIN = "admin"
PUBLISHER = "publisher"
CONSUMER = "consumer"
AUDITOR = "auditor"
ALL_ROLES = (ADMIN, AUDITOR, CONSUMER, PUBLISHER)
ANY_MEMBER = NO_ROLE
"""What a message that any consortium account may send names as its role."""
ORG_KINDS = ("academic", "commercial", "government", "nonprofit")
