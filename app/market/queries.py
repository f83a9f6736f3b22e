"""Queries of the market: listings, lease offers, leases.

A listing or an offer whose maker no longer owns the model is never stored (a change of owner
closes it), so what the listings show is what a buy or a lease would find.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from app.core.errors import BAD_QUERY, TxError
from app.core.query import (
    Handler,
    QueryAnswer,
    id_cursor,
    int_param,
    limit_param,
    named_records,
    page,
    record,
    text_param,
)
from app.core.text import quote
from app.market import keys
from app.market.keeper import MarketReader
from app.state import Reader

MAX_U64 = 2**64 - 1


def listing(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/market/listing {"model"}: one model's listing."""
    model = text_param(params, "model")
    return record(state, keys.listing_key(model), f"listing of {quote(model, 80)}")


def listings(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/market/listings {"after", "limit"}: every listing, in model id order."""
    return named_records(state, keys.LISTING, params)


def offer(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/market/offer {"model", "version"}: one version's lease offer."""
    model, version = text_param(params, "model"), text_param(params, "version")
    return record(state, keys.offer_key(model, version), f"lease offer of {model}@{version}")


def offers(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/market/offers {"after", "limit"}: every lease offer, by model then version; the
    cursor is "model@version"."""
    after = text_param(params, "after", required=False)
    start = None
    if after:
        model, sep, version = after.rpartition("@")
        if not sep:
            raise TxError(BAD_QUERY, "'after' is the 'next' of the previous page")
        start = keys.offer_key(model, version)
    items = (
        (key[len(keys.OFFER) :].replace(keys.SEP, b"@").decode(), value)
        for key, value in state.iterate(keys.OFFER, start)
    )
    return page(items, limit_param(params))


def lease(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/market/lease {"id"}: one lease."""
    lease_id = int_param(params, "id", 0, MAX_U64, minimum=1)
    return record(state, keys.lease_key(lease_id), f"lease {lease_id}")


def leases(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/market/leases {"org"} or {"model", "version"}, with "after", "limit": leases, running
    or ended, oldest first."""
    if "org" in params:
        prefix = keys.renter_prefix(text_param(params, "org"))
    else:
        prefix = keys.version_prefix(text_param(params, "model"), text_param(params, "version"))
    after = id_cursor(params)
    reader = MarketReader(state)

    def items() -> Iterator[tuple[str, bytes]]:
        for lease_id in reader.lease_ids(prefix, after):
            raw = state.get(keys.lease_key(lease_id))
            if raw is not None:
                yield str(lease_id), raw

    return page(items(), limit_param(params))


QUERIES: dict[str, Handler] = {
    "/market/listing": listing,
    "/market/listings": listings,
    "/market/offer": offer,
    "/market/offers": offers,
    "/market/lease": lease,
    "/market/leases": leases,
}
