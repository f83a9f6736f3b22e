"""The only code that reads and writes listings, lease offers and leases.

A listing and an offer belong to the organisation that owned the model when it made them; a
change of owner (a sale, a transfer) closes both (``close_model``), and a buy checks again that
the seller still owns the model. A lease is a paid record that is never deleted: it is active
from the block it was bought in (``start_height``) to its last block (``end_height``), both
included, so a lease of N blocks bought at height H is active at H .. H+N-1 and not at H+N.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.core.ids import restore_last_id, take_id
from app.market import errors, keys
from app.pb.modelgov.v1 import market_pb2
from app.state import Overlay, Reader


def is_active(lease: market_pb2.Lease, height: int) -> bool:
    """Whether the lease runs at ``height``: from its first block to its last, both included."""
    return lease.start_height <= height <= lease.end_height


class MarketReader:
    """Read-only view of the market for queries and, through the machine, other domains."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def listing(self, model: str) -> market_pb2.Listing | None:
        """The model's listing, or None."""
        raw = self.state.get(keys.listing_key(model))
        return None if raw is None else market_pb2.Listing.FromString(raw)

    def offer(self, model: str, version: str) -> market_pb2.LeaseOffer | None:
        """The lease offer of a version, or None."""
        raw = self.state.get(keys.offer_key(model, version))
        return None if raw is None else market_pb2.LeaseOffer.FromString(raw)

    def offers_of(self, model: str) -> Iterator[market_pb2.LeaseOffer]:
        """Every lease offer of a model's versions, in version order."""
        for _, raw in self.state.iterate(keys.offer_prefix(model)):
            yield market_pb2.LeaseOffer.FromString(raw)

    def lease(self, lease_id: int) -> market_pb2.Lease | None:
        """One lease by id, or None."""
        raw = self.state.get(keys.lease_key(lease_id))
        return None if raw is None else market_pb2.Lease.FromString(raw)

    def latest_lease(self, org: str, model: str, version: str) -> market_pb2.Lease | None:
        """The latest lease of a version by an organisation, running or ended, or None."""
        raw = self.state.get(keys.current_key(model, version, org))
        return None if raw is None else self.lease(int.from_bytes(raw, "big"))

    def active_lease(
        self, org: str, model: str, version: str, height: int
    ) -> market_pb2.Lease | None:
        """The organisation's lease of the version that runs at ``height``, or None."""
        found = self.latest_lease(org, model, version)
        return found if found is not None and is_active(found, height) else None

    def leased_until(self, model: str) -> int:
        """The last block of the latest-ending lease of any version of ``model`` (0: none):
        one read, however many leases the model had."""
        raw = self.state.get(keys.leased_until_key(model))
        return 0 if raw is None else int.from_bytes(raw, "big")

    def lease_ids(self, prefix: bytes, after: int = 0) -> Iterator[int]:
        """Lease ids under an index prefix, ascending, greater than ``after``."""
        start = prefix + keys.u64(after) if after else None
        for key, _ in self.state.iterate(prefix, start):
            yield int.from_bytes(key[len(prefix) :], "big")


class LeaseBook:
    """The lease book other domains consult (the machine wires ``LEASES`` into the usage
    decision and the read-access rule): the lease that runs, and the keys that prove it."""

    def __call__(
        self, state: Reader, org: str, model: str, version: str, height: int
    ) -> market_pb2.Lease | None:
        """``org``'s lease of ``model@version`` running at ``height``, or None."""
        return MarketReader(state).active_lease(org, model, version, height)

    def proof(self, org: str, model: str, version: str, lease_id: int) -> list[bytes]:
        """The store keys whose values show that lease: the index entry naming the latest
        lease of the version by the org, and the lease record."""
        return [keys.current_key(model, version, org), keys.lease_key(lease_id)]


LEASES = LeaseBook()


class MarketKeeper(MarketReader):
    """Read-write view for the market's handlers and genesis."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def set_listing(self, listing: market_pb2.Listing) -> None:
        """Write (or replace) a model's listing."""
        encoded = listing.SerializeToString(deterministic=True)
        self.state.set(keys.listing_key(listing.model), encoded)

    def delete_listing(self, model: str) -> None:
        """Remove a model's listing (there may be none)."""
        self.state.delete(keys.listing_key(model))

    def set_offer(self, offer: market_pb2.LeaseOffer) -> None:
        """Write (or replace) a version's lease offer."""
        encoded = offer.SerializeToString(deterministic=True)
        self.state.set(keys.offer_key(offer.model, offer.version), encoded)

    def delete_offer(self, model: str, version: str) -> None:
        """Remove a version's lease offer (there may be none)."""
        self.state.delete(keys.offer_key(model, version))

    def close_model(self, model: str) -> tuple[bool, list[str]]:
        """Close the model's listing and every lease offer of its versions (its owner
        changed); returns whether a listing was open and the versions whose offers closed.
        Leases already paid run on."""
        listed = self.listing(model) is not None
        self.delete_listing(model)
        versions = [offer.version for offer in self.offers_of(model)]
        for version in versions:
            self.delete_offer(model, version)
        return listed, versions

    def add_lease(self, lease: market_pb2.Lease) -> market_pb2.Lease:
        """Give the lease the next id and store it with its indexes; returns it. Raises
        TxError(ids_exhausted) before any write once the 8-byte ids are used up."""
        lease.id = take_id(self.state, keys.LAST_ID, errors.IDS_EXHAUSTED, "lease")
        self.restore_lease(lease)
        return lease

    def restore_lease(self, lease: market_pb2.Lease) -> None:
        """Store a lease under its id with its indexes and the model's ``leased_until``
        (``add_lease``'s writes; genesis calls it in id order, so the latest lease of a version
        and org is indexed last)."""
        self.state.set(keys.lease_key(lease.id), lease.SerializeToString(deterministic=True))
        current = keys.current_key(lease.model, lease.version, lease.renter_org)
        self.state.set(current, keys.u64(lease.id))
        self.state.set(keys.renter_prefix(lease.renter_org) + keys.u64(lease.id), b"\x01")
        by_version = keys.version_prefix(lease.model, lease.version)
        self.state.set(by_version + keys.u64(lease.id), b"\x01")
        if lease.end_height > self.leased_until(lease.model):
            self.state.set(keys.leased_until_key(lease.model), keys.u64(lease.end_height))

    def restore_last_id(self, last: int) -> None:
        """Write the lease counter: the last id given (genesis)."""
        restore_last_id(self.state, keys.LAST_ID, last)
