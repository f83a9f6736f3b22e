"""Federated rounds through the whole app: open, submit, finalize into a version, or expire."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, publish, register, started
from rounds import MODEL, PUBLISHERS, base_published, finalize, open_round, round_record, submit

from app.attestations import errors as attestation_errors
from app.core.env import BlockEnv
from app.core.errors import MISSING_ROLE, ErrorCode
from app.federated import errors
from app.federated.expiry import close_expired_rounds
from app.federated.keeper import FederatedReader
from app.models import claims
from app.models import errors as model_errors
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2
from app.state import Overlay


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def version(driver: Driver, name: str) -> state_pb2.Version:
    answer = driver.query("/models/version", {"model": MODEL, "version": name})
    assert answer.code == 0, answer.log
    return state_pb2.Version.FromString(answer.value)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Driver]:
    """Round 1: uni/base@1.0 -> uni/base@2.0, all three orgs invited, two needed, deadline 100."""
    driver = started(tmp_path)
    base_published(driver)
    driver.ok("uni-pub", open_round())
    yield driver
    driver.close()


def test_a_round_finalizes_into_a_version_whose_lineage_names_every_update(
    opened: Driver,
) -> None:
    for org, samples in (("acme", 300), ("openml", 600), ("uni", 100)):
        opened.ok(PUBLISHERS[org], submit(org=org, samples=samples))
    result = opened.ok("uni-pub", finalize())
    assert [e.type for e in result.events] == ["federated.round_finalized"]
    aggregate = version(opened, "2.0")
    updates = [f"{MODEL}@2.0-update-{org}" for org in ("acme", "openml", "uni")]
    assert list(aggregate.parents) == [f"{MODEL}@1.0", *updates]
    assert aggregate.weights_digest == digest("aggregate-1") and aggregate.format == "safetensors"
    update = version(opened, "2.0-update-openml")
    assert update.weights_digest == digest("update-openml-1")
    assert update.publisher == opened["openml-pub"].address
    assert list(update.parents) == [f"{MODEL}@1.0"]
    lineage = state_pb2.Lineage.FromString(
        opened.query("/models/lineage", {"model": MODEL, "version": "2.0"}).value
    )
    assert set(lineage.ancestors) == {f"{MODEL}@1.0", *updates}
    record = round_record(opened)
    assert record.status == federated_pb2.ROUND_STATUS_FINALIZED
    assert list(record.included) == ["acme", "openml", "uni"]
    assert [s.org for s in record.submissions] == ["acme", "openml", "uni"]
    assert record.closed_height == opened.height


def test_an_update_carries_a_training_attestation(opened: Driver) -> None:
    opened.ok("acme-pub", submit())
    [submission] = round_record(opened).submissions
    answer = opened.query(
        "/attestations/by_version", {"model": MODEL, "version": "2.0-update-acme"}
    )
    [raw] = state_pb2.Page.FromString(answer.value).items
    attestation = federated_pb2.Attestation.FromString(raw)
    assert attestation.id == submission.attestation_id
    assert (attestation.kind, attestation.org) == ("training", "acme")


def test_finalize_may_leave_out_submitted_updates(opened: Driver) -> None:
    for org in ("acme", "openml", "uni"):
        opened.ok(PUBLISHERS[org], submit(org=org))
    opened.ok("uni-pub", finalize(included=("uni", "acme")))
    assert len(version(opened, "2.0").parents) == 3
    contributors = FederatedReader(opened.store).contributors(MODEL, "2.0")
    assert contributors is not None
    assert [c.org for c in contributors.contributors] == ["acme", "uni"]


def test_rounds_page_in_id_order(opened: Driver) -> None:
    opened.ok("uni-pub", open_round(target_version="3.0"))
    answer = opened.query("/federated/rounds", {"limit": 1})
    page = state_pb2.Page.FromString(answer.value)
    assert page.next == "1"
    rest = state_pb2.Page.FromString(opened.query("/federated/rounds", {"after": "1"}).value)
    assert [federated_pb2.Round.FromString(r).target_version for r in rest.items] == ["3.0"]


# --- expiry --------------------------------------------------------------------------------


def close_at(driver: Driver, height: int) -> tuple[str, ...]:
    """Run the end-of-block closure over the committed state at ``height``; event types."""
    state = Overlay(driver.store)
    events = close_expired_rounds(state, BlockEnv(driver.chain_id, height, driver.time))
    driver.app_state_after_close = state  # type: ignore[attr-defined]
    return tuple(e.type for e in events)


def test_a_round_short_of_participants_expires_without_a_version(opened: Driver) -> None:
    opened.ok("acme-pub", submit())
    assert close_at(opened, 99) == ()
    assert close_at(opened, 100) == ("federated.round_expired",)
    state: Overlay = opened.app_state_after_close  # type: ignore[attr-defined]
    record = FederatedReader(state).round(1)
    assert record is not None and record.status == federated_pb2.ROUND_STATUS_EXPIRED
    assert record.close_reason == "1 of 2 required updates by the deadline"
    assert list(FederatedReader(state).due(10**6)) == []
    assert not FederatedReader(state).target_claimed(MODEL, "2.0")


def test_a_full_round_never_finalized_expires_too(opened: Driver) -> None:
    opened.ok("acme-pub", submit())
    opened.ok("uni-pub", submit(org="uni"))
    assert close_at(opened, 150) == ("federated.round_expired",)
    state: Overlay = opened.app_state_after_close  # type: ignore[attr-defined]
    record = FederatedReader(state).round(1)
    assert record is not None and record.close_reason == "not finalized by the deadline"


def test_a_finalized_round_is_not_expired(opened: Driver) -> None:
    opened.ok("acme-pub", submit())
    opened.ok("uni-pub", submit(org="uni"))
    opened.ok("uni-pub", finalize(included=("acme", "uni")))
    assert close_at(opened, 100) == ()


def test_after_the_deadline_nothing_is_accepted(tmp_path: Path) -> None:
    driver = started(tmp_path)
    base_published(driver)
    driver.ok("uni-pub", open_round(deadline_height=driver.height + 3))
    driver.ok("acme-pub", submit())
    driver.ok("uni-pub", submit(org="uni"))
    driver.block([])
    expect(driver.run("uni-pub", finalize(included=("acme", "uni"))), errors.ROUND_CLOSED)
    expect(driver.run("openml-pub", submit(org="openml")), errors.ROUND_CLOSED)
    driver.close()


def test_the_end_of_the_deadline_block_closes_the_round(tmp_path: Path) -> None:
    driver = started(tmp_path)
    base_published(driver)
    driver.ok("uni-pub", open_round(deadline_height=driver.height + 2))
    driver.ok("acme-pub", submit())
    assert round_record(driver).status == federated_pb2.ROUND_STATUS_EXPIRED
    driver.ok("uni-pub", open_round(deadline_height=driver.height + 5))  # 2.0 is free again
    driver.close()


# --- refusals ------------------------------------------------------------------------------


@pytest.fixture
def acme_submitted(opened: Driver) -> Driver:
    """Round 1 with acme's update; round 2 (target 3.0) invites uni and acme only."""
    opened.ok("acme-pub", submit())
    opened.ok("uni-pub", open_round(target_version="3.0", invited_orgs=["acme", "uni"]))
    return opened


REFUSALS: list[tuple[str, str, tx_pb2.Msg, ErrorCode]] = [
    ("open-bad-target", "uni-pub", open_round(target_model="nope"), model_errors.INVALID_NAME),
    ("open-no-invites", "uni-pub", open_round(invited_orgs=[]), errors.INVALID_FIELD),
    (
        "open-invited-twice",
        "uni-pub",
        open_round(invited_orgs=["acme", "acme"], min_participants=1),
        errors.INVALID_FIELD,
    ),
    ("open-min-zero", "uni-pub", open_round(min_participants=0), errors.INVALID_FIELD),
    ("open-min-above", "uni-pub", open_round(min_participants=4), errors.INVALID_FIELD),
    ("open-no-deadline", "uni-pub", open_round(deadline_height=0), errors.INVALID_FIELD),
    ("open-long-target", "uni-pub", open_round(target_version="9" * 60), errors.INVALID_FIELD),
    ("open-not-owner", "acme-pub", open_round(target_version="4.0"), model_errors.NOT_OWNER),
    ("open-no-base", "uni-pub", open_round(base_version="0.1"), errors.BASE_NOT_FOUND),
    ("open-target-published", "uni-pub", open_round(target_version="1.0"), errors.TARGET_TAKEN),
    ("open-target-claimed", "uni-pub", open_round(), errors.TARGET_TAKEN),
    (
        "open-unknown-org",
        "uni-pub",
        open_round(target_version="4.0", invited_orgs=["acme", "ghost"]),
        errors.UNKNOWN_ORG,
    ),
    (
        "open-past-deadline",
        "uni-pub",
        open_round(target_version="4.0", deadline_height=2),
        errors.BAD_DEADLINE,
    ),
    ("open-consumer", "acme-user", open_round(target_version="4.0"), MISSING_ROLE),
    ("submit-no-round-id", "uni-pub", submit(round_id=0, org="uni"), errors.INVALID_FIELD),
    (
        "submit-bad-digest",
        "uni-pub",
        submit(org="uni", update_digest="sha256:0"),
        errors.INVALID_FIELD,
    ),
    ("submit-empty", "uni-pub", submit(org="uni", size_bytes=0), errors.INVALID_FIELD),
    ("submit-no-samples", "uni-pub", submit(org="uni", samples=0), errors.INVALID_FIELD),
    (
        "submit-bad-metric",
        "uni-pub",
        submit(org="uni", metrics=[tx_pb2.Metric(name="x", text_value="t", scale=2)]),
        attestation_errors.INVALID_FIELD,
    ),
    ("submit-no-round", "uni-pub", submit(round_id=9, org="uni"), errors.ROUND_NOT_FOUND),
    ("submit-twice", "acme-pub", submit(org="acme"), errors.ALREADY_SUBMITTED),
    ("submit-not-invited", "openml-pub", submit(round_id=2, org="openml"), errors.NOT_INVITED),
    ("submit-consumer", "acme-user", submit(round_id=2), MISSING_ROLE),
    ("final-no-round-id", "uni-pub", finalize(round_id=0), errors.INVALID_FIELD),
    ("final-bad-digest", "uni-pub", finalize(aggregate_digest="x"), errors.INVALID_FIELD),
    ("final-empty", "uni-pub", finalize(size_bytes=0), errors.INVALID_FIELD),
    ("final-none-included", "uni-pub", finalize(included=()), errors.INVALID_FIELD),
    ("final-twice-included", "uni-pub", finalize(included=("acme", "acme")), errors.INVALID_FIELD),
    ("final-no-round", "uni-pub", finalize(round_id=9), errors.ROUND_NOT_FOUND),
    ("final-not-opener", "acme-pub", finalize(included=("acme",)), errors.NOT_OPENER),
    ("final-not-submitted", "uni-pub", finalize(included=("acme", "uni")), errors.NOT_SUBMITTED),
    ("final-too-few", "uni-pub", finalize(included=("acme",)), errors.TOO_FEW),
]


@pytest.mark.parametrize(
    ("sender", "msg", "error"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refused_round_messages_change_no_round(
    acme_submitted: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    before = [round_record(acme_submitted, i).SerializeToString() for i in (1, 2)]
    expect(acme_submitted.run(sender, msg), error)
    after = [round_record(acme_submitted, i).SerializeToString() for i in (1, 2)]
    assert after == before
    assert acme_submitted.query("/federated/round", {"id": 3}).code != 0


def test_a_finalized_round_takes_no_more_updates(acme_submitted: Driver) -> None:
    acme_submitted.ok("uni-pub", submit(org="uni"))
    acme_submitted.ok("uni-pub", finalize(included=("acme", "uni")))
    expect(acme_submitted.run("openml-pub", submit(org="openml")), errors.ROUND_CLOSED)
    expect(acme_submitted.run("uni-pub", finalize(included=("acme", "uni"))), errors.ROUND_CLOSED)


def test_an_aggregate_front_run_is_taken_back_by_the_openers_claim(opened: Driver) -> None:
    """A participant who reads the opener's FinalizeRound in the mempool and publishes its
    aggregate digest first holds it; the opener's earlier claim, revealed by the finalize,
    takes it back, so the round still finalizes."""
    aggregate = digest("aggregate-1")
    salt = hashlib.sha256(b"opener's salt").digest()
    commitment = claims.commitment(aggregate, "uni", salt)
    opened.ok("uni-pub", tx_pb2.Msg(claim_digests=tx_pb2.ClaimDigests(commitments=[commitment])))
    for org, samples in (("acme", 300), ("openml", 600)):
        opened.ok(PUBLISHERS[org], submit(org=org, samples=samples))
    opened.ok("acme-pub", register("acme", "copy"))
    opened.ok("acme-pub", publish("acme/copy", "front", weights_digest=aggregate))
    late = opened.run("uni-pub", finalize(included=("acme", "openml")))
    expect(late, model_errors.DIGEST_HELD)
    opened.ok("uni-pub", finalize(included=("acme", "openml"), claim_salt=salt))
    assert version(opened, "2.0").weights_digest == aggregate
    holder = state_pb2.DigestHolder.FromString(
        opened.query("/models/holder", {"digest": aggregate}).value
    )
    assert (holder.org, holder.taken_from) == ("uni", "acme")


def test_a_claim_salt_of_the_wrong_length_is_refused(opened: Driver) -> None:
    expect(opened.run("uni-pub", finalize(claim_salt=b"short")), model_errors.INVALID_CLAIM)
    bad = submit(org="acme", samples=5)
    bad.submit_update.claim_salt = b"\x00" * 31
    expect(opened.run("acme-pub", bad), model_errors.INVALID_CLAIM)
