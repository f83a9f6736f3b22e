"""A hostile consortium member against terms that follow lineage: one receipt spent twice (two
messages of one tx, two txs of one block, a round and a publication), upstream terms escaped
by handing the derivative to another organisation or publishing its weights afresh, and
royalties that make or burn credits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from driver import (
    Driver,
    default_accounts,
    digest,
    licensed,
    make_account,
    publish,
    register,
    started,
    transfer,
)
from test_datasets_flow import balance, deploy, expect, receipt_id, use
from test_lineage import DATA, MODEL, attach, open_round, paid, trained

from app.core.errors import ErrorCode
from app.datasets import errors
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors as usage_errors

BASE = "uni/base@1"
ORGS = ("uni", "acme", "openml")
ALLOW = "def authorize(ctx):\n    return allow()\n"
NO_COMMERCIAL_DERIVATIVES = """
def authorize(ctx):
    if ctx.derivative is not None and ctx.purpose == "commercial-inference":
        return deny("derivatives are not for commercial use")
    return allow()
"""


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Driver]:
    """uni/base@1 under a free license; acme holds one fine-tune receipt of it (returned by
    ``receipt``) and has registered acme/ft and acme/other."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    driver.ok("acme-pub", register("acme", "ft"), register("acme", "other"))
    yield driver
    driver.close()


def fine_tune(model: str, receipt: int) -> tx_pb2.Msg:
    return publish(f"acme/{model}", "1", parents=[BASE], license_receipts=[receipt])


def round_into_other(receipt: int) -> tx_pb2.Msg:
    return open_round(BASE, "acme/other@1", [receipt])


# --- one receipt, two derivative models ------------------------------------------------------

Second = Callable[[int], tx_pb2.Msg]
"""What acme signs second with the same receipt."""
TWICE: list[tuple[str, Second]] = [
    ("two-publications", lambda r: fine_tune("other", r)),
    ("a-publication-then-a-round", round_into_other),
]


@pytest.mark.parametrize("second", [c[1] for c in TWICE], ids=[c[0] for c in TWICE])
def test_one_receipt_in_two_messages_of_one_tx(base: Driver, second: Second) -> None:
    """The first message binds the receipt to acme/ft; the second, in the same tx, sees it
    bound: the whole tx is refused, so the receipt is still free afterwards."""
    [receipt] = licensed(base, "uni-pub", "acme-user", [BASE])
    expect(base.run("acme-pub", fine_tune("ft", receipt), second(receipt)), errors.RECEIPT_SPENT)
    base.ok("acme-pub", fine_tune("other", receipt))


@pytest.mark.parametrize("second", [c[1] for c in TWICE], ids=[c[0] for c in TWICE])
def test_one_receipt_in_two_txs_of_one_block(base: Driver, second: Second) -> None:
    [receipt] = licensed(base, "uni-pub", "acme-user", [BASE])
    block = base.block(
        [
            base.sign("acme-pub", [fine_tune("ft", receipt)]),
            base.sign("acme-pub", [second(receipt)]),
        ]
    )
    assert block.tx_results[0].code == 0, block.tx_results[0].log
    expect(block.tx_results[1], errors.RECEIPT_SPENT)


# --- upstream terms cannot be shed --------------------------------------------------------------

ESCAPES: list[tuple[str, str, ErrorCode]] = [
    ("the-derivative-itself", "acme/ft@1", usage_errors.DENIED),
    ("after-a-transfer-of-the-derivative", "acme/ft@1", usage_errors.DENIED),
    ("a-fine-tune-by-the-new-owner", "openml/x@1", usage_errors.DENIED),
]


@pytest.mark.parametrize(("ref", "error"), [c[1:] for c in ESCAPES], ids=[c[0] for c in ESCAPES])
def test_a_derivative_handed_on_keeps_its_upstream_terms(
    tmp_path: Path, ref: str, error: ErrorCode, request: pytest.FixtureRequest
) -> None:
    """uni's base license denies commercial use of derivatives. acme fine-tunes it, then hands
    acme/ft to openml (which owns it now, so it may fine-tune it again without a receipt):
    every use of what was built on uni/base@1 still asks uni's terms."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    driver.ok("uni-pub", deploy("nc", NO_COMMERCIAL_DERIVATIVES), attach(BASE, "uni/nc"))
    receipt = licensed_use(driver)
    driver.ok("acme-pub", register("acme", "ft"), fine_tune("ft", receipt))
    driver.ok("acme-pub", deploy("open", ALLOW), attach("acme/ft@1", "acme/open"))
    case = request.node.callspec.id
    if case != "the-derivative-itself":
        driver.ok("acme-admin", transfer("acme/ft", "openml"))
        again = publish("openml/x", "1", parents=["acme/ft@1"])
        driver.ok("openml-pub", register("openml", "x"), again)
        driver.ok("openml-pub", deploy("open", ALLOW), attach("openml/x@1", "openml/open"))
    expect(driver.run("acme-user", use(ref, purpose="commercial-inference")), error)
    driver.ok("acme-user", use(ref, purpose="inference"))  # the control: the rest is allowed
    driver.close()


def licensed_use(driver: Driver) -> int:
    """acme's fine-tune receipt of uni/base@1 under the terms attached now."""
    return receipt_id(driver.ok("acme-user", use(BASE, purpose="fine-tune")))


def test_the_base_s_weights_published_afresh_are_refused(base: Driver) -> None:
    """Publishing uni/base@1's digest as a new model with no parent would shed its terms."""
    copy = publish("acme/other", "1", weights_digest=digest("uni/base@1"))
    expect(base.run("acme-pub", copy), model_errors.DIGEST_HELD)


# --- royalties conserve credits -----------------------------------------------------------------


def test_royalties_move_credits_and_never_make_or_burn_them(tmp_path: Path) -> None:
    """Uses of acme/net@1 (fee 1000, 5% to uni's data), before and after uni attaches terms
    taking the whole fee: uni gets its pinned 5% each time, and the sum of balances stays."""
    driver = trained(tmp_path)
    before = sum(balance(driver, org) for org in ORGS)
    paid_before = balance(driver, "uni")
    driver.ok("acme-user", use(f"{MODEL}@1", purpose="inference"))
    assert balance(driver, "uni") == paid_before + 50
    assert sum(balance(driver, org) for org in ORGS) == before
    driver.ok("uni-pub", deploy("take", ALLOW + "\n\ndef royalty(ctx):\n    return 10000\n"))
    driver.ok("uni-pub", attach(f"{DATA}@1", "uni/take"))  # later terms: acme/net@1 keeps 5%
    driver.ok("acme-user", use(f"{MODEL}@1", purpose="inference"))
    assert balance(driver, "uni") == paid_before + 100
    assert sum(balance(driver, org) for org in ORGS) == before


# --- nobody is paid who left the consortium -----------------------------------------------------

PRICED = "def authorize(ctx):\n    return allow(fee=1000)\n"


def remove_org(driver: Driver, org: str, voters: tuple[str, ...]) -> None:
    action = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org=org))
    proposal = tx_pb2.SubmitProposal(action=action, title=f"remove {org}")
    driver.ok(voters[0], tx_pb2.Msg(submit_proposal=proposal))
    for admin in voters:
        vote = tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES)
        driver.ok(admin, tx_pb2.Msg(cast_vote=vote))
    assert driver.query("/members/org", {"id": org}).code != 0, f"{org} was removed"


def aggregate(driver: Driver) -> None:
    """uni's round on uni/base@1 into uni/fed@1: acme (30 samples) and openml (10) submit."""
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"), register("uni", "fed"))
    opened = tx_pb2.OpenRound(
        base_model="uni/base",
        base_version="1",
        target_model="uni/fed",
        target_version="1",
        invited_orgs=["acme", "openml"],
        min_participants=2,
        deadline_height=1000,
    )
    driver.ok("uni-pub", tx_pb2.Msg(open_round=opened))
    for org, samples in (("acme", 30), ("openml", 10)):
        update = tx_pb2.SubmitUpdate(
            round_id=1, update_digest=digest(org), size_bytes=64, sample_count=samples
        )
        driver.ok(f"{org}-pub", tx_pb2.Msg(submit_update=update))
    final = tx_pb2.FinalizeRound(
        round_id=1, aggregate_digest=digest("agg"), size_bytes=64, included=["acme", "openml"]
    )
    driver.ok("uni-pub", tx_pb2.Msg(finalize_round=final))
    driver.ok("uni-pub", deploy("priced", PRICED), attach("uni/fed@1", "uni/priced"))


def test_a_removed_contributor_is_paid_no_share(tmp_path: Path) -> None:
    """Credits paid to an organisation governance removed can never be spent: its share of an
    aggregate's fee goes to the contributors still members."""
    accounts = default_accounts()
    accounts["uni-admin"] = make_account("uni-admin", "uni", "admin", "publisher")
    driver = started(tmp_path, accounts=accounts, params={"voting_period_blocks": 20})
    aggregate(driver)
    result = driver.ok("acme-user", use("uni/fed@1", purpose="inference"))
    assert paid(driver, result) == [("acme", 750, "", 0), ("openml", 250, "", 0)]
    remove_org(driver, "openml", ("uni-admin", "acme-admin"))
    before = sum(balance(driver, org) for org in ("uni", "acme"))
    result = driver.ok("acme-user", use("uni/fed@1", purpose="inference"))
    assert paid(driver, result) == [("acme", 1000, "", 0)]
    assert sum(balance(driver, org) for org in ("uni", "acme")) == before
    driver.close()


# --- an input's owner cannot swap the terms under a publication it sees coming ------------------

TENTH = ALLOW + "\n\ndef royalty(ctx):\n    return 1000\n"
WHOLE_FEE = ALLOW + "\n\ndef royalty(ctx):\n    return 10000\n"
SWAPPED: list[tuple[str, bool, bool, ErrorCode | None]] = [
    # (case, uni swaps the terms in the block before, receipt_terms, the publication's error)
    ("swapped-and-pinned", True, True, errors.TERMS_CHANGED),
    ("swapped-not-asked", True, False, None),  # the default: it carries the whole-fee terms
    ("kept-and-pinned", False, True, None),
]


@pytest.mark.parametrize(
    ("swap", "pinned", "error"), [c[1:] for c in SWAPPED], ids=[c[0] for c in SWAPPED]
)
@pytest.mark.parametrize("kind", ["publication", "round"])
def test_terms_swapped_in_the_block_before_a_publication(
    base: Driver, swap: bool, pinned: bool, error: ErrorCode | None, kind: str
) -> None:
    """acme took its fine-tune receipt under uni's 10% royalty; uni sees the derivative in the
    mempool and attaches a 100% royalty to uni/base@1 in the block before it. With
    receipt_terms the publication (or round) is refused; without, it carries the new terms."""
    base.ok("uni-pub", deploy("tenth", TENTH), deploy("whole", WHOLE_FEE))
    base.ok("uni-pub", attach(BASE, "uni/tenth"))
    receipt = licensed_use(base)
    msg = fine_tune("ft", receipt) if kind == "publication" else round_into_other(receipt)
    body = msg.publish_version if kind == "publication" else msg.open_round
    body.receipt_terms = pinned
    txs = [base.sign("acme-pub", [msg])]
    if swap:
        txs.insert(0, base.sign("uni-pub", [attach(BASE, "uni/whole")]))
    block = base.block(txs)
    if error is not None:
        expect(block.tx_results[-1], error)
        assert f"receipt {receipt} was taken under uni/tenth" in block.tx_results[-1].log
        return
    assert block.tx_results[-1].code == 0, block.tx_results[-1].log
    if kind == "publication":
        answer = base.query("/models/version", {"model": "acme/ft", "version": "1"})
        [pin] = state_pb2.Version.FromString(answer.value).input_terms
        assert pin.license == ("uni/whole" if swap else "uni/tenth")


def test_receipt_terms_ask_nothing_of_an_input_the_publisher_owns(base: Driver) -> None:
    own = publish("acme/ft", "2", parents=["acme/ft@1"], receipt_terms=True)
    base.ok("acme-pub", publish("acme/ft", "1"), own)
