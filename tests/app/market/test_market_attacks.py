"""A hostile consortium member against the market: rights that outlive a sale, terms changed
in the block before a counterparty's transaction, integer extremes, and credits that must be
conserved by every path. Each attack is a case; what the chain answers is its expectation."""

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
    register,
    started,
    transfer,
)
from trade import (
    MODEL,
    attach,
    balance,
    buy,
    deploy,
    expect,
    last_receipt,
    lease,
    list_model,
    offer,
    past_the_leases,
    publish_model,
    use,
)

from app.core.errors import ErrorCode
from app.credits.errors import INSUFFICIENT
from app.credits.keeper import MAX_BALANCE
from app.federated import errors as federated_errors
from app.market import errors
from app.market.validation import MAX_LEASE_BLOCKS
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage.errors import DENIED

ORGS = ("uni", "acme", "openml")
U64 = 2**64 - 1
DENY_LEASES = """
def authorize(ctx):
    if "lease" in ctx:
        return deny("no leased uses")
    return allow(fee=ctx.quantity * 5, note="per unit")
"""


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """uni owns uni/base@1.0 (5 credits a unit) and offers it for rent at 1,000 per 1,000
    blocks."""
    accounts = default_accounts()
    accounts["openml-admin"] = make_account("openml-admin", "openml", "admin", "publisher")
    driver = started(tmp_path, accounts=accounts)
    publish_model(driver)
    driver.ok("uni-admin", offer())
    yield driver
    driver.close()


def total(driver: Driver) -> int:
    """The sum of every organisation's balance: no market path makes or burns a credit."""
    return sum(balance(driver, org) for org in ORGS)


# --- integer extremes: refused statelessly or by the state, never a raise -----------------------


def lease_under(license_id: str, blocks: int = 10) -> tx_pb2.Msg:
    """``lease`` naming the license the renter saw on uni/base@1.0."""
    msg = lease(blocks=blocks)
    msg.lease_version.license = license_id
    return msg


EXTREMES = [
    ("price 0", list_model(0), errors.BAD_PRICE),
    ("price 2^63", list_model(MAX_BALANCE + 1), errors.BAD_PRICE),
    ("price 2^64-1", list_model(U64), errors.BAD_PRICE),
    ("max_price 0", buy(0), errors.BAD_PRICE),
    ("max_price 2^64-1", buy(U64), errors.BAD_PRICE),
    ("lease 0 blocks", lease(blocks=0), errors.BAD_BLOCKS),
    ("lease 2^32+1 blocks", lease(blocks=MAX_LEASE_BLOCKS + 1), errors.BAD_BLOCKS),
    ("lease 2^64-1 blocks", lease(blocks=U64), errors.BAD_BLOCKS),
    ("lease max_price 2^64-1", lease(blocks=1, max_price=U64), errors.BAD_PRICE),
    ("offer price 2^63", offer(price=MAX_BALANCE + 1), errors.BAD_PRICE),
    ("offer max_blocks 2^64-1", offer(max_blocks=U64), errors.BAD_BLOCKS),
    ("lease license not an id", lease_under("uni/" + "x" * 60_000), errors.INVALID_FIELD),
    ("lease license with a NUL", lease_under("uni/te\x00rms"), errors.INVALID_FIELD),
]


@pytest.mark.parametrize(("msg", "error"), [c[1:] for c in EXTREMES], ids=[c[0] for c in EXTREMES])
def test_integer_extremes_are_refused(chain: Driver, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    signer = (
        "acme-admin" if msg.WhichOneof("sum") in ("buy_model", "lease_version") else "uni-admin"
    )
    expect(chain.check(chain.sign(signer, [msg])), error)


def test_the_dearest_lease_overflows_instead_of_wrapping(chain: Driver) -> None:
    """2^63-1 per 1,000 blocks for 2^32 blocks is a 95-bit cost: refused, not wrapped."""
    chain.ok("uni-admin", offer(price=MAX_BALANCE))
    expect(
        chain.run("acme-admin", lease(blocks=MAX_LEASE_BLOCKS, max_price=MAX_BALANCE)),
        errors.PRICE_OVERFLOW,
    )
    before = total(chain)
    expect(chain.run("acme-admin", lease(blocks=1, max_price=MAX_BALANCE)), INSUFFICIENT)
    assert total(chain) == before


# --- a renter holds a use, never the model ----------------------------------------------------

RESALE = [
    ("list it", list_model(10), model_errors.NOT_OWNER),
    ("offer it for rent", offer(price=1), model_errors.NOT_OWNER),
    ("transfer it", transfer(MODEL, "openml"), model_errors.NOT_OWNER),
]


@pytest.mark.parametrize(("msg", "error"), [c[1:] for c in RESALE], ids=[c[0] for c in RESALE])
def test_a_renter_cannot_resell_or_sublet(chain: Driver, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    chain.ok("acme-admin", lease(blocks=100))
    expect(chain.run("acme-admin", msg), error)


def test_a_model_under_lease_changes_owner_only_after_the_lease_ends(chain: Driver) -> None:
    """uni took acme's rent up front: while the lease runs, neither a sale nor a transfer can
    hand the model to an owner who would not honour it (a lease waives fees only while its
    lessor owns the model). Once it has ended, the sale goes through, and the ended lease does
    not keep acme from renting the version from its new owner."""
    chain.ok("acme-admin", lease(blocks=10))
    chain.ok("uni-admin", list_model(10))
    before = balance(chain, "openml")
    expect(chain.run("openml-admin", buy(10)), errors.LEASED)
    expect(chain.run("uni-admin", transfer(MODEL, "openml")), errors.LEASED)
    assert balance(chain, "openml") == before  # the refused buy moved nothing
    past_the_leases(chain)
    chain.ok("openml-admin", buy(10))
    chain.ok("openml-admin", offer(price=2000))
    chain.ok("acme-admin", lease(blocks=10, max_price=20))
    chain.ok("acme-user", use())
    receipt = last_receipt(chain)
    assert (receipt.fee, receipt.lease_id, receipt.licensor_org) == (0, 2, "openml")


def round_into(target: str) -> tx_pb2.Msg:
    """uni's round on its own uni/base@1.0 into ``target``@1, inviting openml."""
    opened = tx_pb2.OpenRound(
        base_model=MODEL,
        base_version="1.0",
        target_model=target,
        target_version="1",
        invited_orgs=["openml"],
        min_participants=1,
        deadline_height=1000,
    )
    return tx_pb2.Msg(open_round=opened)


def update() -> tx_pb2.Msg:
    body = tx_pb2.SubmitUpdate(
        round_id=1, update_digest="sha256:" + "ab" * 32, size_bytes=64, sample_count=10
    )
    return tx_pb2.Msg(submit_update=body)


@pytest.mark.parametrize("handover", ["sale", "transfer"])
def test_a_round_opened_before_a_sale_publishes_nothing_into_the_buyer_s_model(
    chain: Driver, handover: str
) -> None:
    """uni opens a round into uni/ft, then sells uni/ft: the seller's round must not go on
    publishing versions (weights the buyer never saw, named as the round likes) into the
    model acme bought, nor hold its version names."""
    chain.ok("uni-admin", register("uni", "ft"), round_into("uni/ft"))
    if handover == "sale":
        chain.ok("uni-admin", list_model(10, model="uni/ft"))
        chain.ok("acme-admin", buy(10, model="uni/ft"))
    else:
        chain.ok("uni-admin", transfer("uni/ft", "acme"))
    expect(chain.run("openml-pub", update()), federated_errors.TARGET_SOLD)
    chain.ok("acme-pub", publish("uni/ft", "1"))


# --- a lessor cannot narrow what a renter paid for -------------------------------------------


def test_terms_attached_in_the_block_before_the_lease_refuse_it(chain: Driver) -> None:
    """uni sees acme's lease in the mempool and attaches terms that deny every leased use
    ahead of it: the lease names the license acme saw, so it is refused and costs nothing."""
    chain.ok("uni-admin", deploy("deny", DENY_LEASES))
    before = balance(chain, "acme")
    block = chain.block(
        [
            chain.sign("uni-admin", [attach("uni/deny")]),
            chain.sign("acme-admin", [lease_under("uni/terms")]),
        ]
    )
    assert block.tx_results[0].code == 0, block.tx_results[0].log
    expect(block.tx_results[1], errors.LICENSE_CHANGED)
    assert balance(chain, "acme") == before
    chain.ok("acme-admin", lease_under("uni/deny"))  # terms seen are terms paid for


def test_terms_attached_during_a_lease_narrow_none_of_its_uses(chain: Driver) -> None:
    """uni takes the rent, then attaches terms that deny leased uses: the lease's purposes
    stay under the license it was bought under until its last block; other purposes, and
    every use after it, follow the license attached now."""
    chain.ok("acme-admin", lease_under("uni/terms", blocks=4))
    chain.ok("uni-admin", deploy("deny", DENY_LEASES), attach("uni/deny"))
    chain.ok("acme-user", use("inference"))
    receipt = last_receipt(chain)
    assert (receipt.license, receipt.fee, receipt.lease_id) == ("uni/terms", 0, 1)
    expect(chain.run("acme-user", use("research")), DENIED)
    chain.block([])  # the lease's last block
    chain.ok("acme-user", use("inference"))
    receipt = last_receipt(chain)
    assert (receipt.license, receipt.fee, receipt.lease_id) == ("uni/deny", 10, 0)


def test_a_sale_conserves_credits_across_sale_lease_and_use(chain: Driver) -> None:
    """Every market path moves credits; none makes or burns one."""
    before = total(chain)
    chain.ok("acme-admin", lease(blocks=2, max_price=999))
    chain.ok("acme-user", use("inference"), use("research"))
    past_the_leases(chain)
    chain.ok("uni-admin", list_model(MAX_BALANCE))
    expect(chain.run("acme-admin", buy(MAX_BALANCE)), INSUFFICIENT)
    chain.ok("uni-admin", list_model(1))
    chain.ok("acme-admin", buy(1))
    assert total(chain) == before


# --- a lease's receipts grant no download beyond the lease ------------------------------------


def access(chain: Driver, height: int) -> state_pb2.AccessDecision:
    params = {
        "address": chain["acme-user"].address,
        "digest": digest(f"{MODEL}@1.0"),
        "height": height,
        "time": chain.time + 5,
    }
    answer = chain.query("/models/read_access", params)
    assert answer.code == 0, answer.log
    return state_pb2.AccessDecision.FromString(answer.value)


LEASED_READS = [
    # (case, the offer's download flag, the leased use's purpose)
    ("fine-tune-without-download", False, "fine-tune"),
    ("download-purpose-without-download", False, "download"),
    ("download-after-the-lease-ended", True, "download"),
]


@pytest.mark.parametrize(
    ("download", "purpose"), [c[1:] for c in LEASED_READS], ids=[c[0] for c in LEASED_READS]
)
def test_a_leased_use_with_a_download_purpose_reads_nothing_after_the_lease(
    chain: Driver, download: bool, purpose: str
) -> None:
    """A use the lease paid for (its receipt names the lease) is a use, not a purchase of the
    weights: the stores serve a renter only through the lease (with download, while it runs),
    never through the free receipts it made."""
    chain.ok("uni-admin", offer(purposes=(purpose,), download=download))
    chain.ok("acme-admin", lease(blocks=2, purposes=(purpose,), download=download))
    chain.ok("acme-user", use(purpose))
    assert last_receipt(chain).lease_id == 1
    during = access(chain, chain.height)
    assert (during.allowed, during.rule) == (
        (True, "lease") if download else (False, "not_granted")
    )
    if download:  # the lease's own grant ends with it; the receipts never granted anything
        assert not access(chain, chain.height + 1).allowed


# --- one right, two messages ------------------------------------------------------------------

TWICE_IN_ONE_TX: list[tuple[str, tuple[tx_pb2.Msg, ...], ErrorCode]] = [
    ("two-leases", (lease(blocks=5), lease(blocks=5)), errors.LEASE_ACTIVE),
    ("two-buys", (buy(10), buy(10)), errors.NOT_LISTED),
]


@pytest.mark.parametrize(
    ("msgs", "error"), [c[1:] for c in TWICE_IN_ONE_TX], ids=[c[0] for c in TWICE_IN_ONE_TX]
)
def test_one_right_is_not_taken_twice_in_one_tx(
    chain: Driver, msgs: tuple[tx_pb2.Msg, ...], error: ErrorCode
) -> None:
    """The second message sees the first's writes; refused, the tx leaves nothing."""
    chain.ok("uni-admin", list_model(10))
    before = (balance(chain, "acme"), balance(chain, "uni"))
    expect(chain.run("acme-admin", *msgs), error)
    assert (balance(chain, "acme"), balance(chain, "uni")) == before
