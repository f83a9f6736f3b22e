"""The market section of genesis: malformed records refused by kind (the round trip of a chain
that listed, offered and leased is tests/app/test_genesis_round_trip.py's)."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import changed, doubled, exported

from app.core.genesis import GenesisError
from app.machine import parse_genesis

L, F, R = "market.listings", "market.offers", "market.leases"

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("market", "x"), "market"),
    ("unknown-field", changed("market.bogus", 1), "market.bogus"),
    ("last-id-below", changed("market.last_lease_id", 0), f"{R}[0].id"),
    ("last-id-over-u64", changed("market.last_lease_id", 2**64), "market.last_lease_id"),
    ("listing-twice", doubled(L), f"{L}[1].model"),
    ("listing-model", changed(f"{L}[0].model", "uni/none"), f"{L}[0].model"),
    ("listing-seller", changed(f"{L}[0].seller_org", "x"), f"{L}[0].seller_org"),
    ("listing-price-0", changed(f"{L}[0].price", "0"), f"{L}[0].price"),
    ("listing-price-2^63", changed(f"{L}[0].price", str(2**63)), f"{L}[0].price"),
    ("listing-price-2^64", changed(f"{L}[0].price", str(2**64)), f"{L}[0]"),
    ("listing-field", changed(f"{L}[0].bogus", 1), f"{L}[0]"),
    ("offer-twice", doubled(F), f"{F}[1]"),
    ("offer-version", changed(f"{F}[0].version", "9.9"), f"{F}[0]"),
    ("offer-lessor", changed(f"{F}[0].lessor_org", "x"), f"{F}[0].lessor_org"),
    ("offer-price-0", changed(f"{F}[0].price_per_1000_blocks", "0"), f"{F}[0].price_per_1000_blocks"),  # noqa: E501
    ("offer-purpose", changed(f"{F}[0].purposes", ["mining"]), f"{F}[0].purposes"),
    ("lease-twice", doubled(R), f"{R}[1].id"),
    ("lease-version", changed(f"{R}[0].version", "9.9"), f"{R}[0]"),
    ("lease-renter", changed(f"{R}[0].renter_org", "x"), f"{R}[0].renter_org"),
    ("lease-ends-early", changed(f"{R}[0].end_height", "0"), f"{R}[0].end_height"),
    ("lease-purposes", changed(f"{R}[0].purposes", []), f"{R}[0].purposes"),
]  # fmt: skip


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_market_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert refused.value.reason


def test_the_scenario_exports_a_listing_an_offer_and_a_lease() -> None:
    market = exported()["market"]
    assert [len(market[k]) for k in ("listings", "offers", "leases")] == [1, 1, 1]
    assert market["last_lease_id"] == 1
    parse_genesis(exported())
