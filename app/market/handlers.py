"""The market's message server: list, delist and buy models; offer, withdraw and rent versions.

A sale moves the price from the buyer's organisation to the seller's and the model to the
buyer in the same transaction: any refusal drops every write. A rent is paid up front to the
model's owner and gives the renter's organisation a lease (``app.market.keeper``) that the
usage decision and the read-access rule consult while it runs.

Each handler assumes its message passed ``app.market.validation`` and the sender holds the
route's role (admin: each of these commits or spends the organisation's credits or models); it
raises ``TxError`` for anything the state refuses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.credits import events as credit_events
from app.credits.keeper import CreditsKeeper
from app.federated.keeper import FederatedReader
from app.licenses.keeper import LicensesReader
from app.market import errors, events
from app.market.keeper import MarketKeeper
from app.market.validation import MAX_LEASE_BLOCKS, lease_cost
from app.members.keeper import MembersReader
from app.models import events as model_events
from app.models.keeper import ModelsKeeper, ModelsReader, version_ref
from app.pb.modelgov.v1 import market_pb2, state_pb2, tx_pb2
from app.state import Overlay

SALE = "sale"
LEASE = "lease"


def list_model(ctx: MsgContext, msg: tx_pb2.ListModel) -> Event:
    """List a model of the sender's organisation for sale, or change its price."""
    ModelsReader(ctx.state).owned_by(msg.model, ctx.sender.org)
    listing = market_pb2.Listing(
        model=msg.model,
        seller_org=ctx.sender.org,
        price=msg.price,
        lister=ctx.sender.address,
        height=ctx.env.height,
    )
    MarketKeeper(ctx.state).set_listing(listing)
    return Event(
        events.LISTED,
        (("model", msg.model), ("seller", ctx.sender.org), ("price", str(msg.price))),
    )


def delist_model(ctx: MsgContext, msg: tx_pb2.DelistModel) -> Event:
    """Withdraw the sender's organisation's listing of a model."""
    ModelsReader(ctx.state).owned_by(msg.model, ctx.sender.org)
    market = MarketKeeper(ctx.state)
    if market.listing(msg.model) is None:
        raise TxError(errors.NOT_LISTED, f"{msg.model} is not listed")
    market.delete_listing(msg.model)
    return _delisted(msg.model, "withdrawn")


def buy_model(ctx: MsgContext, msg: tx_pb2.BuyModel) -> Event:
    """Pay the listed price to the seller and take the model, or change nothing."""
    listing = _live_listing(ctx.state, msg.model)
    buyer = ctx.sender.org
    if listing.seller_org == buyer:
        raise TxError(errors.OWN_MODEL, f"{buyer} already owns {msg.model}")
    if listing.price > msg.max_price:
        raise TxError(
            errors.PRICE_ABOVE_MAX,
            f"{msg.model} is listed at {listing.price}, max_price is {msg.max_price}",
        )
    _check_versions_live(ctx.state, msg.model, msg.versions)
    CreditsKeeper(ctx.state).move(buyer, listing.seller_org, listing.price)
    ctx.emitted.append(credit_events.transfer(buyer, listing.seller_org, listing.price, SALE))
    models = ModelsKeeper(ctx.state)
    model = models.owned_by(msg.model, listing.seller_org)
    models.transfer(model, buyer)
    ctx.emitted.append(
        Event(
            model_events.TRANSFERRED,
            (("model", msg.model), ("from", listing.seller_org), ("to", buyer)),
        )
    )
    ctx.emitted.extend(close_model(ctx.state, msg.model, ctx.env.height))
    return Event(
        events.SOLD,
        (
            ("model", msg.model),
            ("seller", listing.seller_org),
            ("buyer", buyer),
            ("price", str(listing.price)),
        ),
    )


def _check_versions_live(state: Overlay, model: str, versions: Iterable[str]) -> None:
    """Each version the buyer pays for is published and not revoked (revoking is final, so a
    seller who saw the buy could otherwise revoke them in the block before it); raises
    TxError(version_gone). Deprecation and licenses are not pinned: the new owner changes them."""
    models = ModelsReader(state)
    for version in versions:
        found = models.version(model, version)
        if found is None or found.status == tx_pb2.VERSION_STATUS_REVOKED:
            raise TxError(
                errors.VERSION_GONE, f"{version_ref(model, version)} is not a live version"
            )


def _live_listing(state: Overlay, model_id: str) -> market_pb2.Listing:
    """The model's listing if its seller still owns the model and is a member; raises
    TxError(not_listed) otherwise (a listing never outlives its seller's ownership)."""
    listing = MarketKeeper(state).listing(model_id)
    model = ModelsReader(state).model(model_id)
    if listing is None or model is None or model.owner_org != listing.seller_org:
        raise TxError(errors.NOT_LISTED, f"{model_id} is not for sale")
    if MembersReader(state).org(listing.seller_org) is None:
        raise TxError(errors.NOT_LISTED, f"{listing.seller_org} is no longer a member")
    return listing


def close_model(state: Overlay, model: str, height: int) -> tuple[Event, ...]:
    """Close a model's listing and lease offers because its owner changed (a sale, or a
    transfer: the machine wires this in after ``transfer_model``); the events of what closed.

    Raises TxError(leased) while a lease of the model runs, so the whole sale or transfer
    fails: a renter paid the owner up front for blocks that a new owner would not honour
    (a lease waives fees only while its lessor owns the model)."""
    market = MarketKeeper(state)
    until = market.leased_until(model)
    if height <= until:
        raise TxError(
            errors.LEASED,
            f"a lease of {model} runs to block {until}: its owner may sell or transfer it "
            f"from block {until + 1}",
        )
    listed, versions = market.close_model(model)
    closed = [_delisted(model, "owner changed")] if listed else []
    for version in versions:
        closed.append(_withdrawn(model, version, "owner changed"))
    return tuple(closed)


def close_version(state: Overlay, model: str, version: str) -> tuple[Event, ...]:
    """Withdraw a version's lease offer because the version was revoked (the machine wires
    this in after ``set_version_status``): no lease of it can be sold, and genesis refuses
    an offer of a revoked version. Leases already paid stay (they grant nothing now)."""
    market = MarketKeeper(state)
    if market.offer(model, version) is None:
        return ()
    market.delete_offer(model, version)
    return (_withdrawn(model, version, "revoked"),)


def _delisted(model: str, why: str) -> Event:
    return Event(events.DELISTED, (("model", model), ("reason", why)))


def _withdrawn(model: str, version: str, why: str) -> Event:
    ref = version_ref(model, version)
    return Event(events.LEASE_WITHDRAWN, (("model", model), ("ref", ref), ("reason", why)))


MAX_OFFERS_PER_MODEL = 64
"""Most versions of one model on offer at once: a change of owner closes them all in one
transaction (``MarketKeeper.close_model``), so their number is what bounds that work."""


def offer_lease(ctx: MsgContext, msg: tx_pb2.OfferLease) -> Event:
    """Offer a live version of a model of the sender's organisation for rent (or change the
    offer; leases already sold keep their terms). A version whose uses pay upstream licenses
    (parents, training datasets) or a federated round's contributors is not rented: a lease
    waives the per-use fee those shares are taken from."""
    version = _live_version(ctx.state, msg.model, msg.version, ctx.sender.org)
    if (
        version.parents
        or version.trained_on
        or (FederatedReader(ctx.state).contributors(msg.model, msg.version) is not None)
    ):
        raise TxError(
            errors.NOT_LEASABLE,
            f"{version_ref(msg.model, msg.version)} pays upstream licenses or contributors per use",
        )
    market = MarketKeeper(ctx.state)
    if market.offer(msg.model, msg.version) is None:
        offered = sum(
            1 for _ in itertools.islice(market.offers_of(msg.model), MAX_OFFERS_PER_MODEL)
        )
        if offered >= MAX_OFFERS_PER_MODEL:
            raise TxError(
                errors.TOO_MANY_OFFERS, f"{msg.model} has {offered} versions on offer already"
            )
    offer = market_pb2.LeaseOffer(
        model=msg.model,
        version=msg.version,
        lessor_org=ctx.sender.org,
        price_per_1000_blocks=msg.price_per_1000_blocks,
        purposes=msg.purposes,
        download=msg.download,
        max_blocks=msg.max_blocks or MAX_LEASE_BLOCKS,
        height=ctx.env.height,
    )
    market.set_offer(offer)
    return Event(
        events.LEASE_OFFERED,
        (
            ("model", msg.model),
            ("ref", version_ref(msg.model, msg.version)),
            ("price_per_1000_blocks", str(msg.price_per_1000_blocks)),
            ("purposes", ",".join(msg.purposes)),
            ("download", "true" if msg.download else "false"),
        ),
    )


def withdraw_lease_offer(ctx: MsgContext, msg: tx_pb2.WithdrawLeaseOffer) -> Event:
    """End the lease offer of a version of the sender's organisation's model."""
    ModelsReader(ctx.state).owned_by(msg.model, ctx.sender.org)
    market = MarketKeeper(ctx.state)
    if market.offer(msg.model, msg.version) is None:
        raise TxError(errors.NO_OFFER, f"{version_ref(msg.model, msg.version)} is not offered")
    market.delete_offer(msg.model, msg.version)
    return _withdrawn(msg.model, msg.version, "withdrawn")


def lease_version(ctx: MsgContext, msg: tx_pb2.LeaseVersion) -> Event:
    """Rent an offered version for ``blocks`` blocks from this one, paying the owner up front."""
    ref = version_ref(msg.model, msg.version)
    market = MarketKeeper(ctx.state)
    offer = market.offer(msg.model, msg.version)
    model = ModelsReader(ctx.state).model(msg.model)
    if offer is None or model is None or model.owner_org != offer.lessor_org:
        raise TxError(errors.NO_OFFER, f"{ref} is not offered for rent")
    renter = ctx.sender.org
    if offer.lessor_org == renter:
        raise TxError(errors.OWN_MODEL, f"{renter} owns {msg.model}")
    if MembersReader(ctx.state).org(offer.lessor_org) is None:
        raise TxError(errors.NO_OFFER, f"{offer.lessor_org} is no longer a member")
    _live_version(ctx.state, msg.model, msg.version, offer.lessor_org)
    if msg.blocks > offer.max_blocks:
        raise TxError(errors.BAD_BLOCKS, f"{ref} is rented for at most {offer.max_blocks} blocks")
    _check_terms(offer, msg)
    attached = LicensesReader(ctx.state).current(msg.model, msg.version)
    if msg.license and (attached is None or attached.license != msg.license):
        now = attached.license if attached is not None else "none"
        raise TxError(
            errors.LICENSE_CHANGED, f"{ref} is licensed under {now}, not {quote(msg.license, 80)}"
        )
    if market.active_lease(renter, msg.model, msg.version, ctx.env.height) is not None:
        raise TxError(errors.LEASE_ACTIVE, f"{renter} already rents {ref}")
    cost = lease_cost(offer.price_per_1000_blocks, msg.blocks)
    if cost > msg.max_price:
        raise TxError(errors.PRICE_ABOVE_MAX, f"{ref} costs {cost}, max_price is {msg.max_price}")
    CreditsKeeper(ctx.state).move(renter, offer.lessor_org, cost)
    ctx.emitted.append(credit_events.transfer(renter, offer.lessor_org, cost, LEASE))
    lease = _lease(ctx, msg, offer, cost)
    if attached is not None:
        lease.license, lease.license_seq = attached.license, attached.seq
    lease = market.add_lease(lease)
    return Event(
        events.LEASED,
        (
            ("id", str(lease.id)),
            ("model", msg.model),
            ("ref", ref),
            ("renter", renter),
            ("lessor", offer.lessor_org),
            ("end_height", str(lease.end_height)),
            ("paid", str(cost)),
        ),
    )


def _check_terms(offer: market_pb2.LeaseOffer, msg: tx_pb2.LeaseVersion) -> None:
    """The offer grants every purpose the renter asked for, and downloads if it asked for
    them (a lessor who saw the lease could otherwise narrow the offer in the block before
    it); raises TxError(terms_narrowed). Price and length are bounded by max_price and
    blocks."""
    ref = version_ref(msg.model, msg.version)
    missing = [p for p in msg.purposes if p not in offer.purposes]
    if missing:
        raise TxError(errors.TERMS_NARROWED, f"{ref} is no longer offered for {', '.join(missing)}")
    if msg.download and not offer.download:
        raise TxError(errors.TERMS_NARROWED, f"{ref} is no longer offered with download")


def _lease(
    ctx: MsgContext, msg: tx_pb2.LeaseVersion, offer: market_pb2.LeaseOffer, cost: int
) -> market_pb2.Lease:
    """The lease record: active from this block to its last, ``blocks - 1`` blocks later."""
    return market_pb2.Lease(
        model=msg.model,
        version=msg.version,
        renter_org=ctx.sender.org,
        renter=ctx.sender.address,
        lessor_org=offer.lessor_org,
        purposes=offer.purposes,
        download=offer.download,
        start_height=ctx.env.height,
        end_height=ctx.env.height + msg.blocks - 1,
        blocks=msg.blocks,
        paid=cost,
    )


def _live_version(state: Overlay, model: str, version: str, org: str) -> state_pb2.Version:
    """The version if ``org`` owns its model and it is published and not revoked; raises
    TxError(model_not_found | not_owner | version_unavailable)."""
    models = ModelsReader(state)
    models.owned_by(model, org)
    found = models.version(model, version)
    if found is None or found.status == tx_pb2.VERSION_STATUS_REVOKED:
        raise TxError(
            errors.VERSION_UNAVAILABLE, f"{version_ref(model, version)} is not a live version"
        )
    return found
