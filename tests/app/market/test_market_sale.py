"""Selling a model: list, change, delist, buy; credits and ownership move together or not at
all, and a change of owner closes the listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import (
    Driver,
    default_accounts,
    make_account,
    publish,
    register,
    set_status,
    started,
    transfer,
)
from trade import (
    MODEL,
    balance,
    buy,
    delist,
    expect,
    list_model,
    listings,
    offer,
    offers,
    owner,
    publish_model,
)

from app.core.errors import MISSING_ROLE, ErrorCode
from app.credits import errors as credit_errors
from app.market import errors
from app.models import errors as model_errors
from app.pb.modelgov.v1 import tx_pb2


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """uni owns uni/base@1.0 (uni holds 1,000 credits, acme 100,000)."""
    driver = started(tmp_path)
    publish_model(driver)
    yield driver
    driver.close()


def test_a_sale_moves_credits_and_the_model_in_one_transaction(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(700))
    [listed] = listings(chain)
    assert (listed.model, listed.seller_org, listed.price) == (MODEL, "uni", 700)
    result = chain.ok("acme-admin", buy(max_price=700))
    assert owner(chain) == "acme"
    assert (balance(chain, "uni"), balance(chain, "acme")) == (1_700, 99_300)
    assert listings(chain) == []
    kinds = [e.type for e in result.events]
    assert kinds == ["market.sold", "credits.transfer", "model.transferred", "market.delisted"]
    models = chain.query("/models/models", {"owner": "acme"})
    assert models.code == 0 and MODEL.encode() in models.value


def test_a_new_price_replaces_the_listing_and_binds_the_next_buy(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(100))
    chain.ok("uni-admin", list_model(900))
    [listed] = listings(chain)
    assert listed.price == 900
    expect(chain.run("acme-admin", buy(max_price=100)), errors.PRICE_ABOVE_MAX)
    assert owner(chain) == "uni"


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [
        ("acme-admin", buy(max_price=10**6), errors.NOT_LISTED),
        ("acme-admin", buy(max_price=10**6, model="uni/none"), errors.NOT_LISTED),
        ("uni-admin", buy(max_price=10**6), errors.OWN_MODEL),
        ("acme-admin", buy(max_price=499), errors.PRICE_ABOVE_MAX),
        ("acme-admin", buy(max_price=0), errors.BAD_PRICE),
        ("acme-admin", buy(max_price=2**63), errors.BAD_PRICE),
        ("acme-admin", buy(max_price=500, model="no-slash"), errors.INVALID_FIELD),
        ("acme-user", buy(max_price=500), MISSING_ROLE),
        ("acme-admin", list_model(10), model_errors.NOT_OWNER),
        ("acme-admin", delist(), model_errors.NOT_OWNER),
        ("uni-admin", list_model(10, model="uni/none"), model_errors.MODEL_NOT_FOUND),
        ("acme-admin", buy(500, versions=("9.9",)), errors.VERSION_GONE),
        ("acme-admin", buy(500, versions=("1.0", "1.0")), errors.INVALID_FIELD),
        ("acme-admin", buy(500, versions=("",)), errors.INVALID_FIELD),
        ("acme-admin", buy(500, versions=("1\x00",)), errors.INVALID_FIELD),
        ("acme-admin", buy(500, versions=tuple(f"{i}.0" for i in range(65))), errors.INVALID_FIELD),
    ],
    ids=[
        "never-listed",
        "no-model",
        "own-model",
        "above-max",
        "max-zero",
        "max-2^63",
        "bad-id",
        "not-admin",
        "list-not-owner",
        "delist-not-owner",
        "list-no-model",
        "pins-unpublished",
        "pins-twice",
        "pins-empty",
        "pins-nul",
        "pins-65",
    ],
)
def test_a_refused_buy_or_listing_moves_nothing(
    chain: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    if error is not errors.NOT_LISTED:
        chain.ok("uni-admin", list_model(500))
    before = (balance(chain, "uni"), balance(chain, "acme"), owner(chain), listings(chain))
    expect(chain.run(sender, msg), error)
    assert (balance(chain, "uni"), balance(chain, "acme"), owner(chain), listings(chain)) == before


def test_a_buyer_without_the_credits_gets_nothing(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(100_001))
    expect(chain.run("acme-admin", buy(max_price=100_001)), credit_errors.INSUFFICIENT)
    assert (owner(chain), balance(chain, "acme"), len(listings(chain))) == ("uni", 100_000, 1)


@pytest.mark.parametrize(
    ("price", "error"),
    [(0, errors.BAD_PRICE), (2**63, errors.BAD_PRICE), (2**64 - 1, errors.BAD_PRICE)],
    ids=["zero", "2^63", "2^64-1"],
)
def test_a_price_outside_1_to_2_63_is_refused(chain: Driver, price: int, error: ErrorCode) -> None:
    expect(chain.run("uni-admin", list_model(price)), error)
    assert listings(chain) == []


@pytest.mark.parametrize("price", [2**64, -1], ids=["2^64", "negative"])
def test_a_price_a_uint64_cannot_hold_is_not_encodable(price: int) -> None:
    with pytest.raises(ValueError):
        tx_pb2.ListModel(model=MODEL, price=price)


def test_a_max_price_of_2_63_minus_1_buys_at_the_listed_price(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(100_000))
    chain.ok("acme-admin", buy(max_price=2**63 - 1))
    assert (balance(chain, "acme"), owner(chain)) == (0, "acme")
    assert balance(chain, "uni") == 101_000


def test_a_transfer_closes_the_listing_and_the_lease_offers(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(500), offer())
    result = chain.ok("uni-admin", transfer(MODEL, "openml"))
    kinds = [e.type for e in result.events]
    assert kinds == ["model.transferred", "market.delisted", "market.lease_withdrawn"]
    assert (listings(chain), offers(chain)) == ([], [])
    expect(chain.run("acme-admin", buy(max_price=500)), errors.NOT_LISTED)


def test_a_listing_does_not_come_back_with_its_old_owner(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(500))
    chain.ok("uni-admin", transfer(MODEL, "acme"))
    chain.ok("acme-admin", transfer(MODEL, "uni"))
    assert listings(chain) == []
    expect(chain.run("acme-admin", buy(max_price=500)), errors.NOT_LISTED)


def test_delist_then_buy_in_one_block_sells_nothing(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(500))
    block = chain.block([chain.sign("uni-admin", [delist()]), chain.sign("acme-admin", [buy(500)])])
    delisted, bought = block.tx_results
    assert delisted.code == 0, delisted.log
    expect(bought, errors.NOT_LISTED)
    assert (owner(chain), balance(chain, "acme")) == ("uni", 100_000)


def test_buy_then_delist_in_one_block_sells_once(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(500))
    block = chain.block([chain.sign("acme-admin", [buy(500)]), chain.sign("uni-admin", [delist()])])
    bought, delisted = block.tx_results
    assert bought.code == 0, bought.log
    expect(delisted, model_errors.NOT_OWNER)
    assert (owner(chain), balance(chain, "uni"), listings(chain)) == ("acme", 1_500, [])


def test_two_buyers_in_one_block_one_wins(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(500))
    first, second = chain.block(
        [chain.sign("acme-admin", [buy(500)]), chain.sign("uni-admin", [buy(500)])]
    ).tx_results
    assert first.code == 0, first.log
    expect(second, errors.NOT_LISTED)


def test_delist_without_a_listing_is_refused(chain: Driver) -> None:
    expect(chain.run("uni-admin", delist()), errors.NOT_LISTED)


def test_listing_queries_answer_one_and_refuse_what_is_absent(chain: Driver) -> None:
    chain.ok("uni-admin", list_model(500))
    assert chain.query("/market/listing", {"model": MODEL}).code == 0
    absent = chain.query("/market/listing", {"model": "uni/none"})
    assert absent.code != 0 and "not found" in absent.log


def test_a_listing_of_a_removed_member_sells_nothing(tmp_path: Path) -> None:
    """Credits never flow to an organisation governance removed: its listing is dead."""
    accounts = default_accounts()
    accounts["openml-admin"] = make_account("openml-admin", "openml", "admin")
    gov = started(tmp_path / "gov", accounts=accounts, params={"voting_period_blocks": 20})
    try:
        gov.ok("acme-pub", register("acme", "kept"), publish("acme/kept", "1.0"))
        gov.ok("acme-admin", list_model(10, model="acme/kept"))
        action = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="acme"))
        gov.ok(
            "uni-admin",
            tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title="remove acme")),
        )
        for admin in ("uni-admin", "openml-admin"):
            vote = tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES)
            gov.ok(admin, tx_pb2.Msg(cast_vote=vote))
        assert gov.query("/members/org", {"id": "acme"}).code != 0, "acme was removed"
        before = (balance(gov, "uni"), balance(gov, "acme"))
        expect(gov.run("uni-admin", buy(max_price=10, model="acme/kept")), errors.NOT_LISTED)
        assert (balance(gov, "uni"), balance(gov, "acme")) == before
        assert owner(gov, "acme/kept") == "acme"
    finally:
        gov.close()


@pytest.mark.parametrize(
    ("front_run", "pinned", "error"),
    [
        (set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_REVOKED), ("1.0",), errors.VERSION_GONE),
        (
            set_status(MODEL, "2.0", tx_pb2.VERSION_STATUS_REVOKED),
            ("1.0", "2.0"),
            errors.VERSION_GONE,
        ),
        (list_model(501), ("1.0",), errors.PRICE_ABOVE_MAX),
        (delist(), ("1.0",), errors.NOT_LISTED),
        (transfer(MODEL, "openml"), ("1.0",), errors.NOT_LISTED),
    ],
    ids=["revoke-pinned", "revoke-one-of-two", "dearer", "delisted", "given-away"],
)
def test_a_seller_who_takes_back_what_was_listed_in_the_block_before_the_buy_sells_nothing(
    chain: Driver, front_run: tx_pb2.Msg, pinned: tuple[str, ...], error: ErrorCode
) -> None:
    chain.ok("uni-pub", publish(MODEL, "2.0"))
    chain.ok("uni-admin", list_model(500))
    block = chain.block(
        [
            chain.sign("uni-admin", [front_run]),
            chain.sign("acme-admin", [buy(500, versions=pinned)]),
        ]
    )
    first, second = block.tx_results
    assert first.code == 0, first.log
    expect(second, error)
    assert balance(chain, "acme") == 100_000 and owner(chain) != "acme"


@pytest.mark.parametrize(
    "front_run",
    [
        set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_DEPRECATED),
        set_status(MODEL, "2.0", tx_pb2.VERSION_STATUS_REVOKED),
        publish(MODEL, "3.0"),
    ],
    ids=["deprecate-pinned", "revoke-unpinned", "publish-more"],
)
def test_a_change_that_leaves_the_pinned_versions_live_still_sells(
    chain: Driver, front_run: tx_pb2.Msg
) -> None:
    chain.ok("uni-pub", publish(MODEL, "2.0"))
    chain.ok("uni-admin", list_model(500))
    chain.ok("uni-pub", front_run)
    chain.ok("acme-admin", buy(500, versions=("1.0",)))
    assert owner(chain) == "acme"
