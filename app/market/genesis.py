"""The market domain's genesis: ``market``, its listings, lease offers, leases and the lease
counter.

Records travel as their protobuf JSON; the lease indexes (by renter, by version, and the latest
lease of a version by an organisation) are derived by the keeper when it writes them, in id
order. A listing or an offer names a model its maker owns (a change of owner closes them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import TxError
from app.core.genesis import (
    GenesisContext,
    GenesisError,
    check_last_id,
    integer,
    listed,
    record,
    section,
    to_json,
)
from app.core.ids import last_id
from app.market import keys
from app.market.keeper import MarketKeeper
from app.market.validation import check_price, check_purposes
from app.pb.modelgov.v1 import market_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("market",)
FIELDS = ("last_lease_id", "listings", "offers", "leases")


@dataclass(frozen=True)
class Market:
    """Validated market records."""

    last_lease_id: int = 0
    listings: tuple[market_pb2.Listing, ...] = ()
    offers: tuple[market_pb2.LeaseOffer, ...] = ()
    leases: tuple[market_pb2.Lease, ...] = ()


def default() -> dict[str, Any]:
    """Nothing listed, offered or leased."""
    return {"market": {"last_lease_id": 0, "listings": [], "offers": [], "leases": []}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Market:
    """Listings of known models, offers and leases of published versions, by organisations of
    the consortium, lease ids up to the counter. Raises GenesisError naming the first bad
    field."""
    found = section(part, "market", FIELDS)
    last = integer(found, "last_lease_id", "market")
    listings: list[market_pb2.Listing] = []
    for i, item in enumerate(listed(found, "listings", "market")):
        where = f"market.listings[{i}]"
        entry, _ = record(item, market_pb2.Listing, where)
        if entry.model not in context.models:
            raise GenesisError(f"{where}.model", "no such model")
        if any(other.model == entry.model for other in listings):
            raise GenesisError(f"{where}.model", "a model is listed once")
        context.check_org(entry.seller_org, f"{where}.seller_org")
        _check_price(entry.price, f"{where}.price")
        listings.append(entry)
    offers: list[market_pb2.LeaseOffer] = []
    for i, item in enumerate(listed(found, "offers", "market")):
        where = f"market.offers[{i}]"
        offer, _ = record(item, market_pb2.LeaseOffer, where)
        context.check_version(offer.model, offer.version, where)
        if any((o.model, o.version) == (offer.model, offer.version) for o in offers):
            raise GenesisError(where, "a version is offered once")
        context.check_org(offer.lessor_org, f"{where}.lessor_org")
        _check_price(offer.price_per_1000_blocks, f"{where}.price_per_1000_blocks")
        _check_purposes(list(offer.purposes), f"{where}.purposes")
        offers.append(offer)
    leases = [_lease(item, i, context) for i, item in enumerate(listed(found, "leases", "market"))]
    check_last_id(last, [lease.id for lease in leases], "market.leases", "lease")
    return Market(
        last,
        tuple(sorted(listings, key=lambda e: e.model)),
        tuple(sorted(offers, key=lambda o: (o.model, o.version))),
        tuple(sorted(leases, key=lambda e: e.id)),
    )


def _lease(item: Any, i: int, context: GenesisContext) -> market_pb2.Lease:
    where = f"market.leases[{i}]"
    lease, _ = record(item, market_pb2.Lease, where)
    context.check_version(lease.model, lease.version, where)
    context.check_org(lease.renter_org, f"{where}.renter_org")
    context.check_org(lease.lessor_org, f"{where}.lessor_org")
    if lease.end_height < lease.start_height:
        raise GenesisError(f"{where}.end_height", "ends before it starts")
    _check_purposes(list(lease.purposes), f"{where}.purposes")
    return lease


def _check_price(price: int, where: str) -> None:
    try:
        check_price(price, "price")
    except TxError as err:
        raise GenesisError(where, err.detail) from None


def _check_purposes(purposes: list[str], where: str) -> None:
    try:
        check_purposes(purposes)
    except TxError as err:
        raise GenesisError(where, err.detail) from None


def init(state: Overlay, parsed: Market) -> None:
    """Write the counter, the listings, the offers and the leases with their indexes."""
    keeper = MarketKeeper(state)
    keeper.restore_last_id(parsed.last_lease_id)
    for listing in parsed.listings:
        keeper.set_listing(listing)
    for offer in parsed.offers:
        keeper.set_offer(offer)
    for lease in parsed.leases:
        keeper.restore_lease(lease)


def export(state: Reader) -> dict[str, Any]:
    """The counter and every listing, offer and lease, in key order."""
    return {
        "market": {
            "last_lease_id": last_id(state, keys.LAST_ID),
            "listings": [
                to_json(market_pb2.Listing.FromString(v)) for _, v in state.iterate(keys.LISTING)
            ],
            "offers": [
                to_json(market_pb2.LeaseOffer.FromString(v)) for _, v in state.iterate(keys.OFFER)
            ],
            "leases": [
                to_json(market_pb2.Lease.FromString(v)) for _, v in state.iterate(keys.LEASE)
            ],
        }
    }
