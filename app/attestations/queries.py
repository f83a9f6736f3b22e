"""Queries of attestations: by version and by attesting organisation, oldest first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from app.attestations import keys
from app.attestations.keeper import AttestationsReader
from app.core.query import Handler, QueryAnswer, id_cursor, limit_param, page, text_param
from app.state import Reader


def by_version(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/attestations/by_version {"model", "version", "after", "limit"}."""
    prefix = keys.version_prefix(text_param(params, "model"), text_param(params, "version"))
    return _listing(state, prefix, params)


def by_org(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/attestations/by_org {"org", "after", "limit"}."""
    return _listing(state, keys.org_prefix(text_param(params, "org")), params)


def _listing(state: Reader, prefix: bytes, params: Mapping[str, Any]) -> QueryAnswer:
    after = id_cursor(params)
    reader = AttestationsReader(state)

    def items() -> Iterator[tuple[str, bytes]]:
        for attestation_id in reader.ids(prefix, after):
            raw = state.get(keys.attestation_key(attestation_id))
            if raw is not None:
                yield str(attestation_id), raw

    return page(items(), limit_param(params))


QUERIES: dict[str, Handler] = {
    "/attestations/by_version": by_version,
    "/attestations/by_org": by_org,
}
