"""Registered errors of the attestations codespace; numbers never change once released."""

from app.core.errors import register

ATTESTATIONS = "attestations"
INVALID_KIND = register(
    ATTESTATIONS, 1, "invalid_kind", "kind is training, evaluation or validation"
)
INVALID_FIELD = register(ATTESTATIONS, 2, "invalid_field", "a field of the message is not valid")
VERSION_NOT_FOUND = register(ATTESTATIONS, 3, "version_not_found", "no such published version")
EMPTY = register(ATTESTATIONS, 4, "empty_attestation", "an attestation states metrics or a method")
IDS_EXHAUSTED = register(ATTESTATIONS, 5, "ids_exhausted", "every attestation id has been used")
