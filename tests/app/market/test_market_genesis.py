"""The market section of genesis: malformed records refused by kind (the round trip of a chain
that listed, offered and leased is tests/app/test_genesis_round_trip.py's)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from driver import default_accounts, make_account, set_status, started
from genesis_scenario import DROP, GOVERNANCE, changed, doubled, exported, govern
from trade import MODEL, lease, offer, publish_model

from app import machine
from app.abci.modelgov_app import ModelgovApp
from app.core.genesis import GenesisError
from app.machine import parse_genesis
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import keys_pb2
from app.store import MerkleStore

L, F, R = "market.listings", "market.offers", "market.leases"


def lease_with(**fields: str) -> dict[str, Any]:
    """The exported state with the lease's ``fields`` changed (heights as JSON strings)."""
    state = exported()
    state["market"]["leases"][0].update(fields)
    return state


_LEASE_START = int(exported()["market"]["leases"][0]["start_height"])


def h(written: int) -> str:
    """A height relative to the scenario's lease, written as if it started at block 30 (as it
    did when these cases were written; the scenario's earlier blocks may change)."""
    return str(_LEASE_START + written - 30)


def second_lease(first: bool = False, **fields: str) -> dict[str, Any]:
    """The exported state with a copy of its lease (id 1, acme's, blocks h(30)..h(129)), changed
    by ``fields``, after it (or, with ``first``, before it in the list and the original as
    id 2), the counter at 2."""
    state = exported()
    market = state["market"]
    copied = {**market["leases"][0], **fields}
    if first:
        market["leases"][0]["id"] = "2"
        copied["id"] = "1"
        market["leases"].insert(0, copied)
    else:
        market["leases"].append(copied)
    market["last_lease_id"] = 2
    return state


ACCOUNTS = default_accounts()
OPENML = ACCOUNTS["openml-pub"].address
RETIRED = ACCOUNTS["openml-audit"].address  # revoked by governance in the scenario
NEWCO = make_account("newco-admin", "newco").address  # deleted with newco, removed


def revoked(ref: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The exported state (or ``state``) with the version ``ref`` revoked."""
    state = exported() if state is None else state
    model, _, version = ref.partition("@")
    [found] = [
        v for v in state["models"]["versions"] if (v["model"], v["version"]) == (model, version)
    ]
    found["status"] = "VERSION_STATUS_REVOKED"
    found["status_reason"] = "withdrawn"
    return state


def without_offer(state: dict[str, Any]) -> dict[str, Any]:
    state["market"]["offers"] = []
    return state


def moved_account(name: str, nonce: int, renter_org: str = "acme") -> dict[str, Any]:
    """The scenario's lease rented by the key of account ``name``, which now has ``nonce``
    (a key admitted again after its account was deleted starts past 2^32)."""
    state = exported()
    [account] = [a for a in state["accounts"] if a["name"] == name]
    account["nonce"] = nonce
    state["market"]["leases"][0].update(renter=ACCOUNTS[name].address, renter_org=renter_org)
    return state


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
    ("listing-not-owner", changed(f"{L}[0].seller_org", "acme"), f"{L}[0].seller_org"),
    ("listing-other-model", changed(f"{L}[0].model", "acme/mirror"), f"{L}[0].seller_org"),
    ("offer-not-owner", changed(f"{F}[0].lessor_org", "acme"), f"{F}[0].lessor_org"),
    ("offer-max-blocks-0", changed(f"{F}[0].max_blocks", "0"), f"{F}[0].max_blocks"),
    ("offer-max-blocks-2^32+1", changed(f"{F}[0].max_blocks", str(2**32 + 1)), f"{F}[0].max_blocks"),  # noqa: E501
    ("offer-price-2^63", changed(f"{F}[0].price_per_1000_blocks", str(2**63)), f"{F}[0].price_per_1000_blocks"),  # noqa: E501
    ("lease-from-itself", changed(f"{R}[0].renter_org", "uni"), f"{R}[0].renter_org"),
    ("lease-lessor", changed(f"{R}[0].lessor_org", "x"), f"{R}[0].lessor_org"),
    ("lease-0-blocks", lease_with(blocks="0", end_height=h(29)), f"{R}[0].blocks"),
    ("lease-2^32+1-blocks", lease_with(blocks=str(2**32 + 1), end_height=str(_LEASE_START + 2**32)), f"{R}[0].blocks"),  # noqa: E501
    ("lease-starts-at-0", lease_with(start_height="0", end_height="99"), f"{R}[0].start_height"),
    ("lease-end-not-start-plus-blocks", changed(f"{R}[0].end_height", "130"), f"{R}[0].end_height"),
    ("lease-end-2^63", lease_with(start_height=str(2**63 - 99), end_height=str(2**63)), f"{R}[0].end_height"),  # noqa: E501
    ("lease-paid-0", changed(f"{R}[0].paid", "0"), f"{R}[0].paid"),
    ("lease-paid-2^63", changed(f"{R}[0].paid", str(2**63)), f"{R}[0].paid"),
    ("lease-overlaps", second_lease(id="2", start_height=h(129), end_height=h(228)), f"{R}[1].start_height"),  # noqa: E501
    ("lease-same-block", second_lease(id="2", start_height=h(30), end_height=h(129)), f"{R}[1].start_height"),  # noqa: E501
    ("lease-id-order", second_lease(id="2", start_height=h(29), end_height=h(128), renter_org="openml", renter=OPENML), f"{R}[1].start_height"),  # noqa: E501
    # offers of versions no OfferLease could offer now: revoked, or paying upstream
    ("offer-revoked", revoked("uni/base@1.0"), f"{F}[0].version"),
    ("offer-fine-tune", changed(f"{F}[0].version", "2.0"), f"{F}[0].version"),
    ("offer-trained-on-data", changed(f"{F}[0].version", "trained"), f"{F}[0].version"),
    ("offer-aggregate", changed(f"{F}[0].version", "3.0"), f"{F}[0].version"),
    ("offer-round-update", changed(f"{F}[0].version", "3.0-update-acme"), f"{F}[0].version"),
    ("lease-fine-tune", changed(f"{R}[0].version", "2.0"), f"{R}[0].version"),
    ("lease-aggregate", changed(f"{R}[0].version", "3.0"), f"{R}[0].version"),
    # a renter that is no account of the renting organisation
    ("lease-renter-other-org", changed(f"{R}[0].renter", ACCOUNTS["uni-admin"].address), f"{R}[0].renter"),  # noqa: E501
    ("lease-renter-unknown", changed(f"{R}[0].renter", "ab" * 20), f"{R}[0].renter"),
    ("lease-renter-empty", changed(f"{R}[0].renter", ""), f"{R}[0].renter"),
    ("lease-renter-absent", changed(f"{R}[0].renter", DROP), f"{R}[0].renter"),
    ("lease-renter-upper-case", changed(f"{R}[0].renter", ACCOUNTS["acme-admin"].address.upper()), f"{R}[0].renter"),  # noqa: E501
    ("lease-renter-non-ascii", changed(f"{R}[0].renter", "\u00e9" * 40), f"{R}[0].renter"),
    ("lease-renter-moved-never-deleted", moved_account("openml-pub", 2**32 - 1), f"{R}[0].renter"),
    ("lease-id-order-listed-first", second_lease(id="0", start_height=h(200), end_height=h(299), first=True), f"{R}[1].start_height"),  # noqa: E501
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


@pytest.mark.parametrize(
    "state",
    [
        second_lease(id="2", start_height=h(130), end_height=h(229)),
        second_lease(
            id="2", start_height=h(30), end_height=h(129), renter_org="openml", renter=OPENML
        ),
        second_lease(id="2", start_height=h(30), end_height=h(129), version="dir"),
        second_lease(
            id="0",
            start_height="5",
            end_height="104",
            renter_org="openml",
            renter=OPENML,
            first=True,
        ),
        without_offer(revoked("uni/base@1.0")),
        changed(f"{R}[0].renter", ACCOUNTS["acme-user"].address),
        changed(f"{R}[0].renter", RETIRED),
        second_lease(
            id="2", start_height=h(30), end_height=h(129), renter_org="newco", renter=NEWCO
        ),
        moved_account("openml-pub", 2**32),
    ],
    ids=[
        "after-the-last-block",
        "other-renter-same-block",
        "deprecated-version",
        "listed-out-of-order",
        "of-a-version-revoked-since",
        "another-account-of-the-renter",
        "a-key-revoked-since",
        "an-account-of-an-org-removed-since",
        "a-key-that-joined-another-org-since",
    ],
)
def test_leases_the_state_machine_could_have_sold_are_accepted(state: dict[str, Any]) -> None:
    parsed = parse_genesis(state)
    assert parsed is not None


def test_at_most_64_offers_of_a_model_are_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.market.genesis as market_genesis

    state = exported()
    second = {**state["market"]["offers"][0], "version": "dir"}
    state["market"]["offers"].append(second)
    parse_genesis(state)  # two offers of uni/base
    monkeypatch.setattr(market_genesis, "MAX_OFFERS_PER_MODEL", 1)
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == f"{F}[1]" and "at most 1 offers" in refused.value.reason


def test_a_bad_market_genesis_stops_init_chain_with_the_field(tmp_path: Path) -> None:
    state = changed(f"{L}[0].seller_org", "acme")
    validators = [
        abci.ValidatorUpdate(
            pub_key=keys_pb2.PublicKey(ed25519=base64.b64decode(v["pubkey"])), power=int(v["power"])
        )
        for v in state["members"]["validators"]
    ]
    app = ModelgovApp(MerkleStore(tmp_path / "state.db"))
    try:
        with pytest.raises(GenesisError) as refused:
            app.init_chain(
                abci.RequestInitChain(
                    chain_id="c",
                    app_state_bytes=json.dumps(state).encode(),
                    validators=validators,
                    initial_height=200,
                )
            )
    finally:
        app.store.close()
    assert refused.value.field == f"{L}[0].seller_org"
    assert "'acme' does not own 'uni/base'" in str(refused.value)
    assert app.store.height == 0


def test_a_chain_that_revoked_what_it_rented_exports_and_starts_again(tmp_path: Path) -> None:
    """What the new checks refuse is what no transaction leaves: a chain whose rented version
    was revoked (its offer withdrawn, its lease kept) and whose renter's key was revoked then
    exports a genesis that validates and starts a new chain with the same app hash."""
    driver = started(tmp_path / "old", params=GOVERNANCE)
    publish_model(driver)
    driver.ok("uni-admin", offer())
    driver.ok("acme-admin", lease(blocks=10))
    driver.ok("uni-admin", set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_REVOKED))
    renter = ACCOUNTS["acme-admin"].address
    govern(driver, tx_pb2.ProposalAction(revoke_account=tx_pb2.RevokeAccount(address=renter)))
    state = json.loads(json.dumps(machine.export_genesis(driver.store)))
    market = state["market"]
    assert market["offers"] == [] and [x["renter"] for x in market["leases"]] == [renter]
    assert renter in {r["address"] for r in state["members"]["retired_accounts"]}
    app = ModelgovApp(MerkleStore(tmp_path / "state.db"))
    try:
        response = app.init_chain(
            abci.RequestInitChain(
                chain_id=machine.chain_id(driver.store),
                app_state_bytes=json.dumps(state).encode(),
                validators=[
                    abci.ValidatorUpdate(
                        pub_key=keys_pb2.PublicKey(ed25519=base64.b64decode(v["pubkey"])),
                        power=int(v["power"]),
                    )
                    for v in state["members"]["validators"]
                ],
                initial_height=driver.height + 1,
            )
        )
        assert response.app_hash == driver.store.root
    finally:
        app.store.close()
        driver.close()
