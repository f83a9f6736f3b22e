"""The market domain's genesis: ``market``, its listings, lease offers, leases and the lease
counter.

Records travel as their protobuf JSON; the lease indexes (by renter, by version, and the latest
lease of a version by an organisation) are derived by the keeper when it writes them, in id
order. A listing or an offer names a model its maker owns (a change of owner closes them).

An offer names a version that could be rented: not revoked (revoking withdraws it) and not one
whose uses pay shares a lease would waive (``not_leasable``: a derivative paying upstream
licenses, a federated aggregate paying its contributors); a lease, which only such an offer
sells, never names one of the latter either. A lease of a revoked version is kept: a version
can be revoked while rented, and a paid lease is history (it grants nothing once its version
is revoked). A lease's renter is an account of its renting organisation, or a key whose
account was deleted since (it may have joined another organisation after).
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
from app.core.text import quote
from app.market import keys
from app.market.handlers import MAX_OFFERS_PER_MODEL
from app.market.keeper import MarketKeeper
from app.market.validation import MAX_LEASE_BLOCKS, check_price, check_purposes
from app.pb.modelgov.v1 import market_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("market",)
FIELDS = ("last_lease_id", "listings", "offers", "leases")
MAX_HEIGHT = 2**63 - 1
"""The engine's heights are signed 64-bit: a lease that ends later was never sold."""


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
    """Records the market's own transactions could have written: listings and offers of
    models their maker owns (at most MAX_OFFERS_PER_MODEL offers a model; offers of live,
    leasable versions), leases of published, leasable versions by an account of the renting
    organisation, whose heights, length and price agree, in id order of their first block,
    and no two of one version by one organisation running at once; lease ids up to the
    counter.
    Raises GenesisError naming the first bad field (InitChain stops there, before any block
    could trip over a record no handler would have written)."""
    found = section(part, "market", FIELDS)
    last = integer(found, "last_lease_id", "market")
    listings = _listings(listed(found, "listings", "market"), context)
    offers = _offers(listed(found, "offers", "market"), context)
    leases = [_lease(item, i, context) for i, item in enumerate(listed(found, "leases", "market"))]
    check_last_id(last, [lease.id for lease in leases], "market.leases", "lease")
    ordered = sorted(range(len(leases)), key=lambda i: leases[i].id)
    _check_lease_order([(i, leases[i]) for i in ordered])
    return Market(
        last,
        tuple(sorted(listings, key=lambda e: e.model)),
        tuple(sorted(offers, key=lambda o: (o.model, o.version))),
        tuple(leases[i] for i in ordered),
    )


def _listings(items: list[Any], context: GenesisContext) -> list[market_pb2.Listing]:
    """Listings: one a model, by its owner (a change of owner closes a listing), at a price
    a buy can pay."""
    listings: dict[str, market_pb2.Listing] = {}
    for i, item in enumerate(items):
        where = f"market.listings[{i}]"
        entry, _ = record(item, market_pb2.Listing, where)
        if entry.model not in context.models:
            raise GenesisError(f"{where}.model", "no such model")
        if entry.model in listings:
            raise GenesisError(f"{where}.model", "a model is listed once")
        context.check_org(entry.seller_org, f"{where}.seller_org")
        _check_owner(entry.model, entry.seller_org, context, f"{where}.seller_org")
        _check_price(entry.price, f"{where}.price")
        listings[entry.model] = entry
    return list(listings.values())


def _offers(items: list[Any], context: GenesisContext) -> list[market_pb2.LeaseOffer]:
    """Offers: one a version, not revoked and leasable, by the model's owner, with terms
    OfferLease accepts (max_blocks as the handler stores it: 1 to MAX_LEASE_BLOCKS), at most
    MAX_OFFERS_PER_MODEL a model."""
    offers: dict[tuple[str, str], market_pb2.LeaseOffer] = {}
    per_model: dict[str, int] = {}
    for i, item in enumerate(items):
        where = f"market.offers[{i}]"
        offer, _ = record(item, market_pb2.LeaseOffer, where)
        context.check_version(offer.model, offer.version, where)
        _check_rentable(offer.model, offer.version, context, f"{where}.version")
        if (offer.model, offer.version) in offers:
            raise GenesisError(where, "a version is offered once")
        context.check_org(offer.lessor_org, f"{where}.lessor_org")
        _check_owner(offer.model, offer.lessor_org, context, f"{where}.lessor_org")
        _check_price(offer.price_per_1000_blocks, f"{where}.price_per_1000_blocks")
        _check_purposes(list(offer.purposes), f"{where}.purposes")
        if not 0 < offer.max_blocks <= MAX_LEASE_BLOCKS:
            raise GenesisError(f"{where}.max_blocks", f"not 1 to {MAX_LEASE_BLOCKS}")
        per_model[offer.model] = per_model.get(offer.model, 0) + 1
        if per_model[offer.model] > MAX_OFFERS_PER_MODEL:
            raise GenesisError(where, f"a model has at most {MAX_OFFERS_PER_MODEL} offers")
        offers[(offer.model, offer.version)] = offer
    return list(offers.values())


def _check_rentable(model: str, version: str, context: GenesisContext, where: str) -> None:
    """An offer's version is still offered only if it is not revoked (revoking withdraws its
    offer) and is leasable (OfferLease refuses the rest with ``not_leasable``)."""
    ref = f"{model}@{version}"
    if ref in context.revoked:
        raise GenesisError(where, f"{quote(ref, 160)} is revoked, which withdraws its offer")
    _check_leasable(ref, context, where)


def _check_leasable(ref: str, context: GenesisContext, where: str) -> None:
    """Raises GenesisError when ``ref``'s uses pay upstream licenses or contributors."""
    if ref in context.unleasable:
        raise GenesisError(
            where, f"{quote(ref, 160)} pays upstream licenses or contributors per use: not leasable"
        )


def _check_renter(lease: market_pb2.Lease, context: GenesisContext, where: str) -> None:
    """The renter is the account LeaseVersion's sender was: one of ``renter_org``, or a key
    whose account was deleted since (revoked, its organisation removed, admitted again)."""
    if context.accounts.get(lease.renter) == lease.renter_org:
        return
    if lease.renter in context.former_accounts:
        return
    shown = quote(lease.renter, 80)
    raise GenesisError(where, f"{shown} is no account of {quote(lease.renter_org, 64)}")


def _check_owner(model: str, org: str, context: GenesisContext, where: str) -> None:
    """``org`` owns ``model``: a listing or an offer never outlives its maker's ownership."""
    if context.owners.get(model) != org:
        raise GenesisError(where, f"{quote(org, 64)} does not own {quote(model, 160)}")


def _lease(item: Any, i: int, context: GenesisContext) -> market_pb2.Lease:
    """One lease as LeaseVersion writes it: a published, leasable version, member (or removed)
    organisations, the renter an account of its organisation (``_check_renter``), renter not
    lessor, 1 to MAX_LEASE_BLOCKS blocks from a height of 1 or more to ``start + blocks - 1``,
    at most MAX_HEIGHT, a price of 1 to 2^63-1 paid."""
    where = f"market.leases[{i}]"
    lease, _ = record(item, market_pb2.Lease, where)
    context.check_version(lease.model, lease.version, where)
    _check_leasable(f"{lease.model}@{lease.version}", context, f"{where}.version")
    context.check_org(lease.renter_org, f"{where}.renter_org")
    context.check_org(lease.lessor_org, f"{where}.lessor_org")
    if lease.renter_org == lease.lessor_org:
        raise GenesisError(f"{where}.renter_org", "an organisation does not rent from itself")
    _check_renter(lease, context, f"{where}.renter")
    if not 0 < lease.blocks <= MAX_LEASE_BLOCKS:
        raise GenesisError(f"{where}.blocks", f"not 1 to {MAX_LEASE_BLOCKS}")
    if lease.start_height < 1:
        raise GenesisError(f"{where}.start_height", "a lease starts in a block, height 1 or more")
    if lease.end_height != lease.start_height + lease.blocks - 1:
        raise GenesisError(f"{where}.end_height", "not start_height + blocks - 1")
    if lease.end_height > MAX_HEIGHT:
        raise GenesisError(f"{where}.end_height", "past the engine's last height, 2^63-1")
    _check_price(lease.paid, f"{where}.paid")
    _check_purposes(list(lease.purposes), f"{where}.purposes")
    return lease


def _check_lease_order(leases: list[tuple[int, market_pb2.Lease]]) -> None:
    """Leases in id order start in non-decreasing heights (ids are given block by block), and
    a lease of a version by an organisation starts after the previous one ended (a running
    lease refuses the next): the index of the latest lease, derived in id order, then names
    the only one that can run."""
    previous_start = 0
    ends: dict[tuple[str, str, str], int] = {}
    for i, lease in leases:
        where = f"market.leases[{i}].start_height"
        if lease.start_height < previous_start:
            raise GenesisError(where, f"lease {lease.id} starts before a lease with a lower id")
        previous_start = lease.start_height
        holder = (lease.model, lease.version, lease.renter_org)
        if holder in ends and lease.start_height <= ends[holder]:
            raise GenesisError(where, f"lease {lease.id} overlaps an earlier lease of the version")
        ends[holder] = lease.end_height


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
