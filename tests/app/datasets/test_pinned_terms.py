"""Pinned terms (issue 13, the re-attach attack): a derivative answers to the license each of
its inputs carried when the derivative was published. An upstream owner who attaches other
terms to an input afterwards (a royalty of the whole fee, a deny of every use, a script that
fails or spins) changes nothing for the derivatives already published on it; only derivatives
published after the new attachment carry it (the controls, which show each hostile license
has teeth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, EmptyState, digest, licensed, publish, register, started
from test_datasets_flow import deploy, expect, receipt_id, use
from test_lineage import DATA, MODEL, PRICE, SPIN, attach, paid, trained

from app.core.errors import ErrorCode, TxError
from app.datasets import errors
from app.datasets.lineage import pinned_attachment
from app.licenses.keeper import LicensesKeeper
from app.models import errors as model_errors
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2
from app.state import Overlay
from app.usage import errors as usage_errors

ALLOW = "def authorize(ctx):\n    return allow()\n"
WHOLE_FEE = ALLOW + "\n\ndef royalty(ctx):\n    return 10000\n"
DENY_ALL = "def authorize(ctx):\n    return deny('no longer')\n"
FAILS = "def authorize(ctx):\n    return 1 // 0\n"
SPINS = "def authorize(ctx):\n    " + SPIN + "    return allow()\n"
BAD_ROYALTY = ALLOW + "\n\ndef royalty(ctx):\n    return 1 // 0\n"
TENTH = ALLOW + "\n\ndef royalty(ctx):\n    return 1000\n"

WHOLE = "the whole fee"
# (kind, the license attached later, what a derivative published under it gets: an error, or
# WHOLE: the input's owner takes all of a use's fee of 1000)
REATTACHED: list[tuple[str, str, ErrorCode | str]] = [
    ("take-the-whole-fee", WHOLE_FEE, WHOLE),
    ("deny-every-use", DENY_ALL, usage_errors.DENIED),
    ("fail-every-use", FAILS, errors.UPSTREAM_FAILED),
    ("spin-every-use", SPINS, errors.UPSTREAM_OUT_OF_GAS),
    ("fail-every-royalty", BAD_ROYALTY, errors.UPSTREAM_FAILED),
]
BY_KIND = pytest.mark.parametrize(
    ("source", "later"), [c[1:] for c in REATTACHED], ids=[c[0] for c in REATTACHED]
)
UNDER_DATA_TERMS = [("acme", 950, "", 0), ("uni", 50, f"{DATA}@1", 500)]
"""acme/net@1's use under the terms it was trained under: data-training, 500 bps."""


@pytest.fixture
def lineage(tmp_path: Path) -> Iterator[Driver]:
    driver = trained(tmp_path)
    yield driver
    driver.close()


def outcome(driver: Driver, result: Any, later: ErrorCode | str, ref: str) -> None:
    """``result`` is what a use under the hostile license ``later`` gets."""
    if isinstance(later, ErrorCode):
        expect(result, later)
        return
    assert result.code == 0, result.log
    assert paid(driver, result) == [("acme", 0, "", 0), ("uni", 1000, ref, 10000)]


def dry_run(driver: Driver, ref: str) -> state_pb2.Decision:
    model, _, version = ref.rpartition("@")
    ask = {"address": driver["acme-user"].address, "model": model, "version": version}
    answer = driver.query("/licenses/evaluate", {**ask, "purpose": "inference", "quantity": 1})
    assert answer.code == 0, answer.log
    return state_pb2.Decision.FromString(answer.value)


def version_record(driver: Driver, ref: str) -> state_pb2.Version:
    model, _, version = ref.rpartition("@")
    answer = driver.query("/models/version", {"model": model, "version": version})
    assert answer.code == 0, answer.log
    return state_pb2.Version.FromString(answer.value)


def pins(driver: Driver, ref: str) -> list[tuple[str, bool, int, str]]:
    record = version_record(driver, ref)
    return [(p.ref, p.licensed, p.seq, p.license) for p in record.input_terms]


@BY_KIND
def test_terms_attached_later_bind_no_derivative_published_before(
    lineage: Driver, source: str, later: ErrorCode | str
) -> None:
    """acme/net@1 was trained on uni/corpus@1 under data-training (500 bps): uni attaching a
    hostile license to the dataset afterwards leaves its uses (and their dry runs) as they were;
    acme/net@2, trained after the new attachment, answers to it."""
    assert pins(lineage, f"{MODEL}@1") == [(f"{DATA}@1", True, 0, "uni/data")]
    first = lineage.ok("acme-user", use(f"{MODEL}@1", purpose="inference"))
    assert paid(lineage, first) == UNDER_DATA_TERMS
    receipt = receipt_id(lineage.ok("acme-user", use(f"{DATA}@1")))  # before the new terms
    lineage.ok("uni-pub", deploy("later", source))
    lineage.ok("uni-pub", attach(f"{DATA}@1", "uni/later"))
    again = lineage.ok("acme-user", use(f"{MODEL}@1", purpose="inference"))
    assert paid(lineage, again) == UNDER_DATA_TERMS
    dry = dry_run(lineage, f"{MODEL}@1")
    assert dry.allowed and [(p.org, p.amount) for p in dry.royalties] == [("uni", 50)]
    retrained = publish(MODEL, "2", trained_on=[f"{DATA}@1"], license_receipts=[receipt])
    lineage.ok("acme-pub", retrained)
    assert pins(lineage, f"{MODEL}@2") == [(f"{DATA}@1", True, 1, "uni/later")]
    lineage.ok("acme-pub", attach(f"{MODEL}@2", "acme/price"))
    result = lineage.run("acme-user", use(f"{MODEL}@2", purpose="inference"))
    outcome(lineage, result, later, f"{DATA}@1")


@BY_KIND
def test_terms_attached_later_two_steps_up_bind_nothing_built_before(
    lineage: Driver, source: str, later: ErrorCode | str
) -> None:
    """A fine-tune of acme/net@1 reaches uni/corpus@1 through acme/net@1's pin: uni's new
    attachment on the dataset changes nothing two steps down either; a fine-tune of a model
    trained after it (acme/tuned@2 of acme/net@2) answers to it two steps down."""
    lineage.ok("acme-pub", register("acme", "tuned"))
    lineage.ok("acme-pub", publish("acme/tuned", "1", parents=[f"{MODEL}@1"]))  # acme's own
    lineage.ok("acme-pub", attach("acme/tuned@1", "acme/price"))
    receipt = receipt_id(lineage.ok("acme-user", use(f"{DATA}@1")))  # before the new terms
    lineage.ok("uni-pub", deploy("later", source))
    lineage.ok("uni-pub", attach(f"{DATA}@1", "uni/later"))
    result = lineage.ok("acme-user", use("acme/tuned@1", purpose="inference"))
    assert paid(lineage, result) == UNDER_DATA_TERMS
    retrained = publish(MODEL, "2", trained_on=[f"{DATA}@1"], license_receipts=[receipt])
    lineage.ok("acme-pub", retrained, attach(f"{MODEL}@2", "acme/price"))
    lineage.ok("acme-pub", publish("acme/tuned", "2", parents=[f"{MODEL}@2"]))
    lineage.ok("acme-pub", attach("acme/tuned@2", "acme/price"))
    control = lineage.run("acme-user", use("acme/tuned@2", purpose="inference"))
    outcome(lineage, control, later, f"{DATA}@1")


@BY_KIND
def test_terms_attached_later_to_a_parent_bind_no_fine_tune_published_before(
    tmp_path: Path, source: str, later: ErrorCode | str
) -> None:
    """The parent edge: acme fine-tuned uni/base@1 under a license asking 10% of its
    derivatives' fees; uni's later license on the base binds only fine-tunes published after
    it (acme/ft@2), not acme/ft@1."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    [receipt] = licensed(driver, "uni-pub", "acme-user", ["uni/base@1"])
    driver.ok("uni-pub", deploy("tenth", TENTH), deploy("later", source))
    driver.ok("acme-pub", deploy("price", PRICE, price=1000), register("acme", "ft"))
    for version, terms in (("1", "uni/tenth"), ("2", "uni/later")):
        driver.ok("uni-pub", attach("uni/base@1", terms))
        tuned = publish("acme/ft", version, parents=["uni/base@1"], license_receipts=[receipt])
        driver.ok("acme-pub", tuned, attach(f"acme/ft@{version}", "acme/price"))
    before = driver.ok("acme-user", use("acme/ft@1", purpose="inference"))
    assert paid(driver, before) == [("acme", 900, "", 0), ("uni", 100, "uni/base@1", 1000)]
    outcome(
        driver, driver.run("acme-user", use("acme/ft@2", purpose="inference")), later, "uni/base@1"
    )
    driver.close()


@BY_KIND
def test_an_input_published_without_a_license_is_never_asked(
    tmp_path: Path, source: str, later: ErrorCode | str
) -> None:
    """uni/m@2 derives from uni/m@1, which had no license when m@2 was published: m@2 is
    pinned as owing m@1 nothing, and a license uni attaches to m@1 later is not asked on m@2's
    uses (nor does it take any of their fees); m@3, published after it, carries it."""
    driver = started(tmp_path)
    driver.ok("uni-pub", deploy("price", PRICE, price=1000), deploy("later", source))
    driver.ok("uni-pub", register("uni", "m"), publish("uni/m", "1"))
    driver.ok("uni-pub", publish("uni/m", "2", parents=["uni/m@1"], license="uni/price"))
    assert pins(driver, "uni/m@2") == [("uni/m@1", False, 0, "")]
    driver.ok("uni-pub", attach("uni/m@1", "uni/later"))
    driver.ok("uni-pub", publish("uni/m", "3", parents=["uni/m@1"], license="uni/price"))
    assert pins(driver, "uni/m@3") == [("uni/m@1", True, 0, "uni/later")]
    result = driver.ok("acme-user", use("uni/m@2", purpose="inference"))
    assert paid(driver, result) == [("uni", 1000, "", 0)]
    control = driver.run("acme-user", use("uni/m@3", purpose="inference"))
    if isinstance(later, ErrorCode):
        expect(control, later)
    else:  # uni would owe itself the royalty: one payee, the whole fee
        assert paid(driver, control) == [("uni", 0, "", 0), ("uni", 1000, "uni/m@1", 10000)]
    driver.close()


def round_msgs(receipt: int, n: int = 1) -> tuple[tx_pb2.Msg, tx_pb2.Msg, tx_pb2.Msg]:
    """acme's ``n``-th round on uni/base@1 into acme/fed@``n`` (opened with ``receipt``), its
    update and its finalization."""
    opened = tx_pb2.OpenRound(
        base_model="uni/base",
        base_version="1",
        target_model="acme/fed",
        target_version=str(n),
        invited_orgs=["acme"],
        min_participants=1,
        deadline_height=1000,
        license_receipts=[receipt],
    )
    update = tx_pb2.SubmitUpdate(
        round_id=n, update_digest=digest(f"update {n}"), size_bytes=64, sample_count=10
    )
    final = tx_pb2.FinalizeRound(
        round_id=n, aggregate_digest=digest(f"aggregate {n}"), size_bytes=64, included=["acme"]
    )
    return (
        tx_pb2.Msg(open_round=opened),
        tx_pb2.Msg(submit_update=update),
        tx_pb2.Msg(finalize_round=final),
    )


@BY_KIND
def test_a_round_s_versions_carry_the_base_terms_of_its_opening(
    tmp_path: Path, source: str, later: ErrorCode | str
) -> None:
    """The round licensed its base when it opened: uni attaching a hostile license to the base
    mid-round binds neither the update nor the aggregate (both carry the opening's pin)."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    [receipt] = licensed(driver, "uni-pub", "acme-user", ["uni/base@1"])
    driver.ok("uni-pub", deploy("tenth", TENTH), deploy("later", source))
    driver.ok("uni-pub", attach("uni/base@1", "uni/tenth"))
    opened, update, final = round_msgs(receipt)
    driver.ok("acme-pub", deploy("price", PRICE, price=1000), register("acme", "fed"), opened)
    answer = driver.query("/federated/round", {"id": 1})
    pinned = federated_pb2.Round.FromString(answer.value).base_terms
    assert (pinned.ref, pinned.licensed, pinned.seq, pinned.license) == (
        "uni/base@1", True, 1, "uni/tenth"
    )  # fmt: skip
    driver.ok("uni-pub", attach("uni/base@1", "uni/later"))
    driver.ok("acme-pub", update)
    driver.ok("acme-pub", final, attach("acme/fed@1", "acme/price"))
    for ref in ("acme/fed@1-update-acme", "acme/fed@1"):
        assert pins(driver, ref)[0] == ("uni/base@1", True, 1, "uni/tenth"), ref
    result = driver.ok("acme-user", use("acme/fed@1", purpose="inference"))
    assert paid(driver, result) == [("acme", 900, "", 0), ("uni", 100, "uni/base@1", 1000)]
    for msg in round_msgs(receipt, 2):  # a round opened after the attachment carries it
        driver.ok("acme-pub", msg)
    driver.ok("acme-pub", attach("acme/fed@2", "acme/price"))
    control = driver.run("acme-user", use("acme/fed@2", purpose="inference"))
    outcome(driver, control, later, "uni/base@1")
    driver.close()


def two_attachments() -> LicensesKeeper:
    """uni/m@1 with two attachments: 0 (uni/a) and 1 (uni/b, in force)."""
    keeper = LicensesKeeper(Overlay(EmptyState()))
    for seq, name in enumerate(("a", "b")):
        keeper.attach(
            state_pb2.Attachment(model="uni/m", version="1", license=f"uni/{name}", seq=seq)
        )
    return keeper


def pin(licensed: bool = True, seq: int = 0, license: str = "uni/a") -> state_pb2.InputTerms:
    return state_pb2.InputTerms(ref="uni/m@1", licensed=licensed, seq=seq, license=license)


# (kind, the pin, the license of the attachment asked, or the error)
PINS: list[tuple[str, state_pb2.InputTerms | None, str | ErrorCode]] = [
    ("recorded-before-pinning", None, "uni/b"),
    ("first", pin(), "uni/a"),
    ("in-force", pin(seq=1, license="uni/b"), "uni/b"),
    ("unlicensed", pin(licensed=False, license=""), ""),
    ("no-such-seq", pin(seq=2), errors.UPSTREAM_FAILED),
    ("largest-seq", pin(seq=2**32 - 1), errors.UPSTREAM_FAILED),
    ("other-license", pin(seq=0, license="uni/b"), errors.UPSTREAM_FAILED),
    ("hostile-license-text", pin(license="\x00\u00e9\u202e" * 50), errors.UPSTREAM_FAILED),
]  # fmt: skip


@pytest.mark.parametrize(("terms", "asked"), [c[1:] for c in PINS], ids=[c[0] for c in PINS])
def test_a_pin_is_one_point_read(terms: state_pb2.InputTerms | None, asked: Any) -> None:
    """The attachment a pin names is read by its number (never the history); one that is not
    in the state (only a hand-written genesis could name one) refuses, never asks other
    terms."""
    keeper = two_attachments()
    if isinstance(asked, ErrorCode):
        with pytest.raises(TxError) as refused:
            pinned_attachment(keeper, "uni/m@1", terms)
        assert refused.value.error == asked
        return
    found = pinned_attachment(keeper, "uni/m@1", terms)
    assert (found.license if found is not None else "") == asked


# --- a receipt licenses one derivative model -----------------------------------------------

Step = tuple[str, str, list[str], "ErrorCode | str", dict[str, Any]]
"""A publication of acme/MODEL@VERSION fine-tuned from uni/base@1 naming receipts (r1, r2):
the error, or the receipt its pin names; with these other fields of PublishVersion."""
UNCLAIMED = {"claim_salt": b"s" * 32}
"""A salt revealing no claim: refused (claim_not_found) after the receipts were bound."""
ONE_MODEL: list[tuple[str, list[Step]]] = [
    ("next-version-of-the-same-model", [
        ("ft", "1", ["r1"], "r1", {}),
        ("ft", "2", ["r1"], "r1", {}),
    ]),
    ("another-model", [
        ("ft", "1", ["r1"], "r1", {}),
        ("other", "1", ["r1"], errors.RECEIPT_SPENT, {}),
    ]),
    ("another-model-with-its-own", [
        ("ft", "1", ["r1"], "r1", {}),
        ("other", "1", ["r2"], "r2", {}),
    ]),
    ("spent-then-fresh", [
        ("ft", "1", ["r1"], "r1", {}),
        ("other", "1", ["r1", "r2"], "r2", {}),
        ("other", "2", ["r1", "r2"], "r2", {}),
    ]),
    ("first-usable-of-two", [
        ("ft", "1", ["r1", "r2"], "r1", {}),
        ("other", "1", ["r2"], "r2", {}),
    ]),
    ("a-refused-publication-binds-nothing", [
        ("other", "1", ["r1"], "claim_not_found", UNCLAIMED),
        ("ft", "1", ["r1"], "r1", {}),
    ]),
]  # fmt: skip


@pytest.mark.parametrize("steps", [c[1] for c in ONE_MODEL], ids=[c[0] for c in ONE_MODEL])
def test_a_receipt_licenses_one_derivative_model(tmp_path: Path, steps: list[Step]) -> None:
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    [r1, r2] = licensed(driver, "uni-pub", "acme-user", ["uni/base@1", "uni/base@1"])
    ids = {"r1": r1, "r2": r2}
    driver.ok("acme-pub", register("acme", "ft"), register("acme", "other"))
    for model, version, named, expected, extra in steps:
        receipts = [ids[n] for n in named]
        body = publish(
            f"acme/{model}", version, parents=["uni/base@1"], license_receipts=receipts, **extra
        )
        result = driver.run("acme-pub", body)
        if isinstance(expected, ErrorCode):
            expect(result, expected)
            assert "already licensed acme/ft: a receipt licenses one derivative model" in result.log
        elif expected not in ids:
            assert result.code != 0 and expected in result.log, result.log
        else:
            assert result.code == 0, result.log
            [pin] = version_record(driver, f"acme/{model}@{version}").input_terms
            assert pin.receipt == ids[expected]
    driver.close()


def test_a_round_binds_its_receipt_to_its_target_model(lineage: Driver) -> None:
    """Opening a round spends the receipt on the target model: its update and aggregate are
    that model's versions (they carry it), another model may not name it."""
    lineage.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    [receipt] = licensed(lineage, "uni-pub", "acme-user", ["uni/base@1"])
    opened, update, final = round_msgs(receipt)
    lineage.ok("acme-pub", register("acme", "fed"), register("acme", "ft"), opened)
    lineage.ok("acme-pub", update)
    lineage.ok("acme-pub", final)
    assert version_record(lineage, "acme/fed@1-update-acme").input_terms[0].receipt == receipt
    assert version_record(lineage, "acme/fed@1").input_terms[0].receipt == receipt
    again = publish("acme/fed", "2", parents=["uni/base@1"], license_receipts=[receipt])
    lineage.ok("acme-pub", again)
    other = publish("acme/ft", "1", parents=["uni/base@1"], license_receipts=[receipt])
    expect(lineage.run("acme-pub", other), errors.RECEIPT_SPENT)


def test_a_training_receipt_licenses_one_model(lineage: Driver) -> None:
    """The fixture's training receipt licensed acme/net: acme/net@2 may name it again, a new
    model trained on the same data needs a training use of its own."""
    receipt = version_record(lineage, f"{MODEL}@1").input_terms[0].receipt
    assert receipt > 0
    lineage.ok("acme-pub", register("acme", "net2"))
    trained = publish(MODEL, "2", trained_on=[f"{DATA}@1"], license_receipts=[receipt])
    lineage.ok("acme-pub", trained)
    other = publish("acme/net2", "1", trained_on=[f"{DATA}@1"], license_receipts=[receipt])
    refused = lineage.run("acme-pub", other)
    expect(refused, errors.RECEIPT_SPENT)
    assert f"take another training use of {DATA}@1 for acme/net2" in refused.log
    fresh = receipt_id(lineage.ok("acme-user", use(f"{DATA}@1")))
    own = publish("acme/net2", "1", trained_on=[f"{DATA}@1"], license_receipts=[fresh])
    lineage.ok("acme-pub", own)


# --- a license attached to a derivative later answers to its inputs' derive(ctx) -----------

RAIL = (Path(__file__).resolve().parents[3] / "genesis/licenses/responsible-use.lic").read_text()
REFUSE_ALL = ALLOW + "\n\ndef derive(ctx):\n    return deny('no derivatives')\n"

# (kind, the license acme attaches to acme/ft@1 later, the error or None)
REATTACH_CHILD: list[tuple[str, str, ErrorCode | None]] = [
    ("another-required-license", "uni/rail2", None),
    ("a-license-the-input-does-not-allow", "acme/price", model_errors.DERIVE_REFUSED),
    ("the-same-license-again", "uni/rail", None),
]


@pytest.mark.parametrize(
    ("license_id", "error"), [c[1:] for c in REATTACH_CHILD], ids=[c[0] for c in REATTACH_CHILD]
)
def test_a_derivative_cannot_shed_the_license_its_input_requires(
    tmp_path: Path, license_id: str, error: ErrorCode | None
) -> None:
    """uni/base@1 is under responsible-use with required_licenses [uni/rail, uni/rail2]: acme
    published acme/ft@1 under uni/rail; attaching a license outside the list later is refused
    as the publication would have been. The base's terms are the pinned ones: uni attaching a
    license that refuses every derivative to the base changes nothing for acme/ft@1's
    attachments."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    [receipt] = licensed(driver, "uni-pub", "acme-user", ["uni/base@1"])
    required = ["uni/rail", "uni/rail2"]
    driver.ok("uni-pub", deploy("rail", RAIL), deploy("rail2", RAIL))
    driver.ok("uni-pub", deploy("gate", RAIL, required_licenses=required))
    driver.ok("uni-pub", attach("uni/base@1", "uni/gate"))
    driver.ok("acme-pub", deploy("price", PRICE, price=1000), register("acme", "ft"))
    tuned = publish(
        "acme/ft", "1", parents=["uni/base@1"], license_receipts=[receipt], license="uni/rail"
    )
    driver.ok("acme-pub", tuned)
    driver.ok("uni-pub", deploy("refuse", REFUSE_ALL), attach("uni/base@1", "uni/refuse"))
    result = driver.run("acme-pub", attach("acme/ft@1", license_id))
    if error is None:
        assert result.code == 0, result.log
    else:
        expect(result, error)
        assert "must be licensed under one of" in result.log
    driver.close()


def test_attaching_to_a_version_whose_input_had_no_license_asks_no_derive(tmp_path: Path) -> None:
    """uni/m@2's input had no license when m@2 was published: attaching any license to m@2
    asks nothing of m@1, even after m@1 gets a license refusing every derivative."""
    driver = started(tmp_path)
    driver.ok("uni-pub", deploy("refuse", REFUSE_ALL), deploy("price", PRICE, price=1))
    driver.ok("uni-pub", register("uni", "m"), publish("uni/m", "1"))
    driver.ok("uni-pub", publish("uni/m", "2", parents=["uni/m@1"]))
    driver.ok("uni-pub", attach("uni/m@1", "uni/refuse"))
    driver.ok("uni-pub", attach("uni/m@2", "uni/price"))
    expect(
        driver.run("uni-pub", publish("uni/m", "3", parents=["uni/m@1"])),
        model_errors.DERIVE_REFUSED,
    )  # the control: a derivative published now carries uni/refuse
    driver.close()
