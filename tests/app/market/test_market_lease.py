"""Renting a version: offers, leases paid up front, uses without a further fee while a lease
runs (the license still decides, and sees ``ctx.lease``), downloads while it runs, and the
exact block where it ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import (
    Driver,
    default_accounts,
    digest,
    make_account,
    publish,
    set_status,
    started,
    transfer,
)
from trade import (
    MODEL,
    balance,
    expect,
    last_receipt,
    lease,
    leases,
    offer,
    offers,
    past_the_leases,
    publish_model,
    use,
    withdraw,
)

from app.core.errors import ErrorCode
from app.credits import errors as credit_errors
from app.market import errors
from app.market import keys as market_keys
from app.market.handlers import MAX_OFFERS_PER_MODEL
from app.market.validation import MAX_LEASE_BLOCKS
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors as usage_errors


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """uni owns uni/base@1.0 (license: 5 credits a unit, commercial use only with a lease, a
    lease covers at most 10 units) and offers it at 1,000 credits per 1,000 blocks."""
    driver = started(tmp_path)
    publish_model(driver)
    driver.ok("uni-admin", offer())
    yield driver
    driver.close()


def test_a_lease_is_paid_up_front_and_recorded(chain: Driver) -> None:
    result = chain.ok("acme-admin", lease(blocks=250, max_price=250))
    [rented] = leases(chain, org="acme")
    assert (rented.id, rented.renter_org, rented.lessor_org, rented.paid) == (1, "acme", "uni", 250)
    assert (rented.start_height, rented.end_height) == (chain.height, chain.height + 249)
    assert list(rented.purposes) == ["inference", "commercial-inference"] and rented.download
    assert (balance(chain, "acme"), balance(chain, "uni")) == (100_000 - 250, 1_000 + 250)
    assert [e.type for e in result.events] == ["market.leased", "credits.transfer"]
    assert leases(chain, model=MODEL, version="1.0") == [rented]


def test_uses_for_the_lease_s_purposes_are_free_until_its_last_block(chain: Driver) -> None:
    chain.ok("acme-admin", lease(blocks=3))
    start = chain.height
    for height in (start + 1, start + 2):  # the lease's 2nd and 3rd (last) blocks
        chain.ok("acme-user", use("inference", quantity=2))
        receipt = last_receipt(chain)
        assert (receipt.height, receipt.fee, receipt.lease_id) == (height, 0, 1)
    chain.ok("acme-user", use("inference", quantity=2))  # start + 3: it has ended
    receipt = last_receipt(chain)
    assert (receipt.height, receipt.fee, receipt.lease_id) == (start + 3, 10, 0)


def test_a_use_in_the_block_of_the_lease_is_covered(chain: Driver) -> None:
    block = chain.block(
        [chain.sign("acme-admin", [lease(blocks=1)]), chain.sign("acme-user", [use()])]
    )
    assert [r.code for r in block.tx_results] == [0, 0], [r.log for r in block.tx_results]
    assert (last_receipt(chain).fee, last_receipt(chain).lease_id) == (0, 1)
    chain.ok("acme-user", use())
    assert last_receipt(chain).fee == 10


def test_a_purpose_the_lease_does_not_cover_pays_its_fee(chain: Driver) -> None:
    chain.ok("acme-admin", lease(blocks=100))
    chain.ok("acme-user", use("research", quantity=3))
    assert (last_receipt(chain).fee, last_receipt(chain).lease_id) == (15, 0)


def test_the_license_sees_the_lease_and_refines_it(chain: Driver) -> None:
    expect(chain.run("acme-user", use("commercial-inference")), usage_errors.DENIED)
    chain.ok("acme-admin", lease(blocks=100))
    chain.ok("acme-user", use("commercial-inference", quantity=10))
    assert last_receipt(chain).fee == 0
    expect(chain.run("acme-user", use("commercial-inference", quantity=11)), usage_errors.DENIED)


def test_the_dry_run_answers_what_a_block_would(chain: Driver) -> None:
    chain.ok("acme-admin", lease(blocks=2))
    address = chain["acme-user"].address
    params = {"address": address, "model": MODEL, "version": "1.0", "purpose": "inference"}
    during = chain.query("/licenses/evaluate", {**params, "height": chain.height + 1})
    after = chain.query("/licenses/evaluate", {**params, "height": chain.height + 2})
    assert state_pb2.Decision.FromString(during.value).fee == 0
    assert state_pb2.Decision.FromString(after.value).fee == 5


def access(chain: Driver, height: int, name: str = "acme-user") -> state_pb2.AccessDecision:
    params = {
        "address": chain[name].address,
        "digest": digest(f"{MODEL}@1.0"),
        "height": height,
        "time": chain.time + 5,
    }
    answer = chain.query("/models/read_access", params)
    assert answer.code == 0, answer.log
    return state_pb2.AccessDecision.FromString(answer.value)


def test_a_lease_with_download_lets_the_renter_read_the_weights_while_it_runs(
    chain: Driver,
) -> None:
    assert not access(chain, chain.height + 1).allowed
    chain.ok("acme-admin", lease(blocks=2))
    start = chain.height
    assert [access(chain, h).allowed for h in (start, start + 1, start + 2)] == [True, True, False]
    granted = access(chain, start + 1)
    assert granted.rule == "lease"
    current = market_keys.current_key(MODEL, "1.0", "acme")
    assert {market_keys.lease_key(1), current} <= set(granted.keys)
    assert chain.query("/store", data=current).value == market_keys.u64(1)


def test_a_lease_without_download_grants_no_weights(chain: Driver) -> None:
    chain.ok("uni-admin", offer(download=False))
    chain.ok("acme-admin", lease(blocks=10))
    assert not access(chain, chain.height + 1).allowed


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [
        ("acme-admin", lease(blocks=1, version="9.9"), errors.NO_OFFER),
        ("uni-admin", lease(blocks=1), errors.OWN_MODEL),
        ("acme-admin", lease(blocks=0), errors.BAD_BLOCKS),
        ("acme-admin", lease(blocks=MAX_LEASE_BLOCKS + 1), errors.BAD_BLOCKS),
        ("acme-admin", lease(blocks=2**64 - 1), errors.BAD_BLOCKS),
        ("acme-admin", lease(blocks=1000, max_price=999), errors.PRICE_ABOVE_MAX),
        ("acme-admin", lease(blocks=1000, max_price=0), errors.BAD_PRICE),
        ("acme-admin", lease(blocks=200_000, max_price=200_000), credit_errors.INSUFFICIENT),
        ("acme-admin", withdraw(), model_errors.NOT_OWNER),
        ("uni-admin", withdraw(version="9.9"), errors.NO_OFFER),
        ("uni-admin", offer(version="9.9"), errors.VERSION_UNAVAILABLE),
        ("uni-admin", offer(price=0), errors.BAD_PRICE),
        ("uni-admin", offer(price=2**63), errors.BAD_PRICE),
        ("uni-admin", offer(purposes=()), errors.INVALID_FIELD),
        ("uni-admin", offer(purposes=("mining",)), errors.INVALID_FIELD),
        ("uni-admin", offer(purposes=("inference", "inference")), errors.INVALID_FIELD),
        ("uni-admin", offer(max_blocks=MAX_LEASE_BLOCKS + 1), errors.BAD_BLOCKS),
        ("acme-admin", offer(), model_errors.NOT_OWNER),
        ("acme-admin", lease(blocks=1, purposes=()), errors.INVALID_FIELD),
        ("acme-admin", lease(blocks=1, purposes=("mining",)), errors.INVALID_FIELD),
        ("acme-admin", lease(blocks=1, purposes=("inference",) * 2), errors.INVALID_FIELD),
        ("acme-admin", lease(blocks=1, purposes=("research",)), errors.TERMS_NARROWED),
    ],
    ids=[
        "no-offer",
        "own-model",
        "zero-blocks",
        "past-max-blocks",
        "2^64-1-blocks",
        "above-max-price",
        "max-price-zero",
        "insufficient",
        "withdraw-not-owner",
        "withdraw-no-offer",
        "offer-no-version",
        "offer-price-zero",
        "offer-price-2^63",
        "offer-no-purpose",
        "offer-bad-purpose",
        "offer-purpose-twice",
        "offer-max-blocks-2^32+1",
        "offer-not-owner",
        "lease-no-purpose",
        "lease-bad-purpose",
        "lease-purpose-twice",
        "lease-purpose-not-offered",
    ],
)
def test_a_refused_lease_or_offer_moves_nothing(
    chain: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    before = (
        balance(chain, "uni"),
        balance(chain, "acme"),
        offers(chain),
        leases(chain, org="acme"),
    )
    expect(chain.run(sender, msg), error)
    after = (
        balance(chain, "uni"),
        balance(chain, "acme"),
        offers(chain),
        leases(chain, org="acme"),
    )
    assert after == before


def test_price_times_blocks_past_2_63_is_refused_not_wrapped(chain: Driver) -> None:
    chain.ok("uni-admin", offer(price=2**63 - 1))
    expect(chain.run("acme-admin", lease(blocks=1001, max_price=2**63 - 1)), errors.PRICE_OVERFLOW)
    expect(
        chain.run("acme-admin", lease(blocks=MAX_LEASE_BLOCKS, max_price=2**63 - 1)),
        errors.PRICE_OVERFLOW,
    )
    expect(
        chain.run("acme-admin", lease(blocks=1000, max_price=2**63 - 1)), credit_errors.INSUFFICIENT
    )


@pytest.mark.parametrize(
    ("price", "blocks", "cost"),
    [(1000, 1, 1), (1, 1, 1), (1, 1000, 1), (1, 1001, 2), (1500, 3, 5), (999, 1000, 999)],
)
def test_the_cost_is_pro_rata_and_rounded_up(
    chain: Driver, price: int, blocks: int, cost: int
) -> None:
    chain.ok("uni-admin", offer(price=price))
    chain.ok("acme-admin", lease(blocks=blocks, max_price=cost))
    assert leases(chain, org="acme")[-1].paid == cost


def test_one_running_lease_per_renter_and_a_new_one_after_it_ends(chain: Driver) -> None:
    chain.ok("acme-admin", lease(blocks=2))
    expect(chain.run("acme-admin", lease(blocks=2)), errors.LEASE_ACTIVE)  # its last block
    chain.ok("acme-admin", lease(blocks=2))  # the first lease has ended
    assert [x.id for x in leases(chain, org="acme")] == [1, 2]


def test_a_longer_offer_limit_binds(chain: Driver) -> None:
    chain.ok("uni-admin", offer(max_blocks=10))
    expect(chain.run("acme-admin", lease(blocks=11)), errors.BAD_BLOCKS)
    chain.ok("acme-admin", lease(blocks=10))


def test_a_withdrawn_offer_sells_no_lease_but_a_paid_one_runs_on(chain: Driver) -> None:
    chain.ok("acme-admin", lease(blocks=100))
    chain.ok("uni-admin", withdraw())
    assert offers(chain) == []
    chain.ok("acme-user", use())
    assert last_receipt(chain).fee == 0


def test_a_transfer_waits_for_the_lease_then_closes_the_offer(chain: Driver) -> None:
    """A seller cannot hand out free uses of what it sold, nor sell what it rented out: the
    transfer is refused while the lease runs; after it, the offer closes and the new owner's
    terms apply (no fee waived, no weights)."""
    chain.ok("acme-admin", lease(blocks=3))
    chain.ok("acme-user", use())
    assert last_receipt(chain).fee == 0
    assert access(chain, chain.height + 1).allowed
    expect(chain.run("uni-admin", transfer(MODEL, "openml")), errors.LEASED)
    assert len(offers(chain)) == 1
    past_the_leases(chain)
    chain.ok("uni-admin", transfer(MODEL, "openml"))
    assert offers(chain) == []
    expect(chain.run("acme-admin", lease(blocks=1, max_price=10)), errors.NO_OFFER)
    chain.ok("acme-user", use())
    assert last_receipt(chain).fee == 10  # 2 units at 5: the license's fee, no lease
    assert not access(chain, chain.height + 1).allowed


def test_a_lessor_removed_from_the_consortium_rents_nothing(tmp_path: Path) -> None:
    """Credits never flow to an organisation governance removed: its offer rents nothing."""
    accounts = default_accounts()
    accounts["openml-admin"] = make_account("openml-admin", "openml", "admin")
    gov = started(tmp_path / "gov", accounts=accounts, params={"voting_period_blocks": 20})
    try:
        publish_model(gov)
        gov.ok("uni-admin", offer())
        action = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="uni"))
        proposal = tx_pb2.SubmitProposal(action=action, title="remove uni")
        gov.ok("acme-admin", tx_pb2.Msg(submit_proposal=proposal))
        for admin in ("acme-admin", "openml-admin"):
            vote = tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES)
            gov.ok(admin, tx_pb2.Msg(cast_vote=vote))
        assert gov.query("/members/org", {"id": "uni"}).code != 0, "uni was removed"
        before = balance(gov, "acme")
        expect(gov.run("acme-admin", lease(blocks=10)), errors.NO_OFFER)
        assert balance(gov, "acme") == before and leases(gov, org="acme") == []
    finally:
        gov.close()


def test_versions_on_offer_per_model_are_bounded(chain: Driver) -> None:
    """A change of owner closes every offer of a model in one transaction: their number is
    bounded when they are made."""
    for i in range(2, MAX_OFFERS_PER_MODEL + 1):
        chain.ok("uni-admin", publish(MODEL, f"1.{i}"), offer(version=f"1.{i}"))
    chain.ok("uni-admin", offer(price=7))  # changing an offer is not a new one
    chain.ok("uni-admin", publish(MODEL, "9.9"))
    expect(chain.run("uni-admin", offer(version="9.9")), errors.TOO_MANY_OFFERS)
    result = chain.ok("uni-admin", transfer(MODEL, "openml"))
    assert (
        len([e for e in result.events if e.type == "market.lease_withdrawn"])
        == MAX_OFFERS_PER_MODEL
    )


@pytest.mark.parametrize("kind", ["parent", "trained_on"])
def test_a_version_that_pays_upstream_is_not_rented(chain: Driver, kind: str) -> None:
    """A lease waives the per-use fee that royalties are taken from: a derivative is paid per
    use, never rented."""
    if kind == "parent":
        child = publish(MODEL, "2.0", parents=[f"{MODEL}@1.0"])
    else:
        chain.ok(
            "uni-pub",
            tx_pb2.Msg(register_dataset=tx_pb2.RegisterDataset(owner_org="uni", name="d")),
        )
        chain.ok(
            "uni-pub",
            tx_pb2.Msg(
                publish_dataset=tx_pb2.PublishDataset(
                    dataset="uni/d",
                    version="1",
                    digest=digest("uni/d@1"),
                    size_bytes=1,
                    format="csv",
                )
            ),
        )
        child = publish(MODEL, "2.0", trained_on=["uni/d@1"])
    chain.ok("uni-admin", child)
    expect(chain.run("uni-admin", offer(version="2.0")), errors.NOT_LEASABLE)


def test_a_revoked_version_is_neither_offered_nor_rented(chain: Driver) -> None:
    """Revoking withdraws the version's offer in the same transaction (genesis refuses an
    offer of a revoked version); a lease already paid stays on record."""
    chain.ok("acme-admin", lease(blocks=1))
    revoked = chain.ok("uni-admin", set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_REVOKED))
    withdrawn = [
        {a.key: a.value for a in e.attributes}
        for e in revoked.events
        if e.type == "market.lease_withdrawn"
    ]
    assert withdrawn == [{"model": MODEL, "ref": f"{MODEL}@1.0", "reason": "revoked"}]
    assert offers(chain) == []
    assert [x.id for x in leases(chain, org="acme")] == [1]
    expect(chain.run("acme-admin", lease(blocks=1)), errors.NO_OFFER)
    expect(chain.run("uni-admin", offer()), errors.VERSION_UNAVAILABLE)


def test_deprecating_keeps_the_offer(chain: Driver) -> None:
    deprecated = chain.ok("uni-admin", set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_DEPRECATED))
    assert not [e for e in deprecated.events if e.type == "market.lease_withdrawn"]
    assert [(o.model, o.version) for o in offers(chain)] == [(MODEL, "1.0")]


def test_lease_queries_refuse_what_is_absent_and_malformed(chain: Driver) -> None:
    chain.ok("acme-admin", lease(blocks=1))
    assert chain.query("/market/lease", {"id": 1}).code == 0
    assert "not found" in chain.query("/market/lease", {"id": 2}).log
    assert chain.query("/market/lease", {"id": 0}).code != 0
    assert chain.query("/market/lease", {"id": "1"}).code != 0
    assert chain.query("/market/offers", {"after": "no-at-sign"}).code != 0
    page = chain.query("/market/offers", {"after": f"{MODEL}@1.0"})
    assert page.code == 0 and state_pb2.Page.FromString(page.value).items == []
    assert chain.query("/market/offer", {"model": MODEL, "version": "1.0"}).code == 0


def narrowed(**terms: object) -> tx_pb2.Msg:
    """The fixture's offer re-made with some terms changed (the lessor's front-run)."""
    base: dict[str, object] = {
        "price": 1000,
        "purposes": ("inference", "commercial-inference"),
        "download": True,
        "max_blocks": 0,
    }
    return offer(**{**base, **terms})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reoffer", "asked", "error"),
    [
        (narrowed(download=False), lease(100, 100, download=True), errors.TERMS_NARROWED),
        (
            narrowed(purposes=("inference",)),
            lease(100, 100, purposes=("inference", "commercial-inference")),
            errors.TERMS_NARROWED,
        ),
        (
            narrowed(purposes=("research",)),
            lease(100, 100, purposes=("inference",)),
            errors.TERMS_NARROWED,
        ),
        (narrowed(max_blocks=99), lease(100, 100), errors.BAD_BLOCKS),
        (narrowed(price=1001), lease(100, 100), errors.PRICE_ABOVE_MAX),
        (withdraw(), lease(100, 100), errors.NO_OFFER),
    ],
    ids=["download-dropped", "purpose-dropped", "purposes-swapped", "shorter", "dearer", "gone"],
)
def test_a_lessor_who_narrows_the_offer_in_the_block_before_the_lease_sells_nothing(
    chain: Driver, reoffer: tx_pb2.Msg, asked: tx_pb2.Msg, error: ErrorCode
) -> None:
    before = (balance(chain, "uni"), balance(chain, "acme"))
    block = chain.block([chain.sign("uni-admin", [reoffer]), chain.sign("acme-admin", [asked])])
    first, second = block.tx_results
    assert first.code == 0, first.log
    expect(second, error)
    assert (balance(chain, "uni"), balance(chain, "acme"), leases(chain, org="acme")) == (
        *before,
        [],
    )


@pytest.mark.parametrize(
    ("reoffer", "asked"),
    [
        (narrowed(download=False), lease(100, 100)),
        (narrowed(purposes=("inference",)), lease(100, 100, purposes=("inference",))),
        (
            narrowed(purposes=("inference", "research", "commercial-inference")),
            lease(100, 100, purposes=("commercial-inference", "inference"), download=True),
        ),
    ],
    ids=["download-not-asked", "asked-what-is-left", "widened"],
)
def test_an_offer_that_still_grants_what_the_renter_asked_for_sells(
    chain: Driver, reoffer: tx_pb2.Msg, asked: tx_pb2.Msg
) -> None:
    chain.ok("uni-admin", reoffer)
    chain.ok("acme-admin", asked)
    [rented] = leases(chain, org="acme")
    granted = offers(chain)[0]
    assert (list(rented.purposes), rented.download) == (list(granted.purposes), granted.download)
