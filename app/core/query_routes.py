"""Every query path the application answers, gathered from the domains."""

from __future__ import annotations

from app.attestations.queries import QUERIES as ATTESTATIONS
from app.core.errors import UNKNOWN_PATH, TxError
from app.core.query import Handler, QueryAnswer, parse_params
from app.core.text import quote
from app.credits.queries import QUERIES as CREDITS
from app.federated.queries import QUERIES as FEDERATED
from app.licenses.queries import QUERIES as LICENSES
from app.members.queries import QUERIES as MEMBERS
from app.models.queries import QUERIES as MODELS
from app.state import Reader
from app.usage.queries import QUERIES as USAGE

QUERIES: dict[str, Handler] = {
    **MEMBERS,
    **MODELS,
    **LICENSES,
    **USAGE,
    **CREDITS,
    **ATTESTATIONS,
    **FEDERATED,
}


def route_query(state: Reader, path: str, data: bytes) -> QueryAnswer:
    """Answer ``path`` with its JSON parameters; raises TxError for unknown paths or bad data."""
    handler = QUERIES.get(path)
    if handler is None:
        known = ", ".join(sorted([*QUERIES, "/store"]))
        raise TxError(UNKNOWN_PATH, f"no query at {quote(path, 100)}; paths: {known}")
    return handler(state, parse_params(data))
