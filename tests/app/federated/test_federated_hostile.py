"""Hostile rounds, by kind: ids, heights, counts and sample counts at their extremes, and the
revenue split at the largest fee and sample counts. A FinalizeBlock that raised would fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, started
from rounds import MODEL, PUBLISHERS, base_published, finalize, open_round, round_record, submit

from app.attestations import errors as attestation_errors
from app.core.errors import ErrorCode
from app.core.valuemap import from_data
from app.credits.keeper import MAX_BALANCE
from app.federated import errors, keys
from app.federated.handlers import MAX_OPEN_PER_ORG
from app.federated.validation import MAX_INVITED, MAX_SAMPLES
from app.models import errors as model_errors
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2
from app.usage.payment import split

MAX_U64 = 2**64 - 1
MAX_U32 = 2**32 - 1


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


@pytest.fixture
def based(tmp_path: Path) -> Iterator[Driver]:
    """uni/base@1.0 is published; no round yet."""
    driver = started(tmp_path)
    base_published(driver)
    yield driver
    driver.close()


OPENS = [
    ("deadline-zero", {"deadline_height": 0}, errors.INVALID_FIELD),
    ("deadline-now", {"deadline_height": 2}, errors.BAD_DEADLINE),
    ("deadline-max", {"deadline_height": MAX_U64}, None),
    ("min-zero", {"min_participants": 0}, errors.INVALID_FIELD),
    ("min-above-invited", {"min_participants": 4}, errors.INVALID_FIELD),
    ("min-u32-max", {"min_participants": MAX_U32}, errors.INVALID_FIELD),
    ("no-invited", {"invited_orgs": [], "min_participants": 1}, errors.INVALID_FIELD),
    (
        "too-many-invited",
        {"invited_orgs": [f"o{i}" for i in range(MAX_INVITED + 1)]},
        errors.INVALID_FIELD,
    ),
    ("invited-twice", {"invited_orgs": ["uni", "uni"]}, errors.INVALID_FIELD),
    ("invited-unknown", {"invited_orgs": ["uni", "nobody"]}, errors.UNKNOWN_ORG),
    ("invited-newline", {"invited_orgs": ["uni", "acme\n"]}, errors.INVALID_FIELD),
    ("invited-non-ascii", {"invited_orgs": ["uni", "acm\u00e9"]}, errors.INVALID_FIELD),
    ("invited-empty", {"invited_orgs": ["uni", ""]}, errors.INVALID_FIELD),
    ("target-version-newline", {"target_version": "2.0\n"}, model_errors.INVALID_VERSION),
    ("target-model-newline", {"target_model": "uni/base\n"}, model_errors.INVALID_NAME),
    ("target-version-too-long", {"target_version": "v" * 60}, errors.INVALID_FIELD),
]


@pytest.mark.parametrize(("fields", "error"), [c[1:] for c in OPENS], ids=[c[0] for c in OPENS])
def test_opening_at_the_extremes(
    based: Driver, fields: dict[str, Any], error: ErrorCode | None
) -> None:
    result = based.run("uni-pub", open_round(**fields))
    assert result.log.isascii() and result.log.isprintable(), result.log
    if error is None:
        assert result.code == 0, result.log
        assert round_record(based).deadline_height == fields["deadline_height"]
    else:
        expect(result, error)


def test_a_round_with_the_last_deadline_runs_and_finalizes(based: Driver) -> None:
    based.ok("uni-pub", open_round(deadline_height=MAX_U64, min_participants=1))
    based.ok("acme-pub", submit(org="acme", samples=MAX_SAMPLES, size_bytes=MAX_U64))
    based.ok("uni-pub", finalize(included=("acme",), size_bytes=MAX_U64))
    assert round_record(based).status == federated_pb2.ROUND_STATUS_FINALIZED


SUBMITS = [
    ("round-zero", {"round_id": 0}, errors.INVALID_FIELD),
    ("round-missing", {"round_id": 2}, errors.ROUND_NOT_FOUND),
    ("round-u64-max", {"round_id": MAX_U64}, errors.ROUND_NOT_FOUND),
    ("samples-zero", {"sample_count": 0}, errors.INVALID_FIELD),
    ("samples-max", {"sample_count": MAX_SAMPLES}, None),
    ("samples-above-max", {"sample_count": MAX_SAMPLES + 1}, errors.INVALID_FIELD),
    ("samples-u64-max", {"sample_count": MAX_U64}, errors.INVALID_FIELD),
    ("size-zero", {"size_bytes": 0}, errors.INVALID_FIELD),
    ("size-u64-max", {"size_bytes": MAX_U64}, None),
    ("digest-newline", {"update_digest": "sha256:" + "0" * 64 + "\n"}, errors.INVALID_FIELD),
    (
        "metric-newline",
        {"metrics": [tx_pb2.Metric(name="loss\n", int_value=1)]},
        attestation_errors.INVALID_FIELD,
    ),
]


@pytest.mark.parametrize(("fields", "error"), [c[1:] for c in SUBMITS], ids=[c[0] for c in SUBMITS])
def test_submitting_at_the_extremes(
    based: Driver, fields: dict[str, Any], error: ErrorCode | None
) -> None:
    based.ok("uni-pub", open_round())
    result = based.run("acme-pub", submit(org="acme", **fields))
    if error is None:
        assert result.code == 0, result.log
    else:
        expect(result, error)


def test_round_ids_exhausted_refuse_a_new_round(based: Driver) -> None:
    based.app.pending.set(keys.LAST_ID, MAX_U64.to_bytes(8, "big"))
    based.block([])
    expect(based.run("uni-pub", open_round()), errors.IDS_EXHAUSTED)


PRICED = """
def authorize(ctx):
    return allow(fee=ctx.params["fee"], note="shared with contributors")
"""


def test_the_largest_fee_split_over_the_largest_sample_counts(tmp_path: Path) -> None:
    driver = started(tmp_path, credits={"acme": MAX_BALANCE})
    try:
        base_published(driver)
        driver.ok("uni-pub", open_round())
        for org in ("acme", "openml", "uni"):
            driver.ok(PUBLISHERS[org], submit(org=org, samples=MAX_SAMPLES - len(org)))
        driver.ok("uni-pub", finalize())
        license_msg = tx_pb2.DeployLicense(
            name="max", source=PRICED, params=from_data({"fee": MAX_BALANCE})
        )
        attach = tx_pb2.AttachLicense(model=MODEL, version="2.0", license="uni/max")
        driver.ok(
            "uni-pub", tx_pb2.Msg(deploy_license=license_msg), tx_pb2.Msg(attach_license=attach)
        )
        use = tx_pb2.Use(
            model=MODEL, version="2.0", purpose="inference", quantity=1, max_fee=MAX_U64
        )
        driver.ok("acme-user", tx_pb2.Msg(use=use))
        held = [
            state_pb2.Balance.FromString(driver.query("/credits/balance", {"org": o}).value).amount
            for o in ("acme", "openml", "uni")
        ]
        assert held == [amount for _, amount in split(MAX_BALANCE, _contributors())]
        assert sum(held) == MAX_BALANCE
    finally:
        driver.close()


def _contributors() -> list[federated_pb2.Contributor]:
    return [
        federated_pb2.Contributor(org=org, sample_count=MAX_SAMPLES - len(org))
        for org in ("acme", "openml", "uni")
    ]


def test_the_split_of_the_extremes_sums_to_the_fee() -> None:
    many = [
        federated_pb2.Contributor(org=f"o{i:02d}", sample_count=MAX_SAMPLES - i)
        for i in range(MAX_INVITED)
    ]
    for fee in (0, 1, MAX_BALANCE - 1, MAX_BALANCE):
        shares = split(fee, many)
        assert sum(amount for _, amount in shares) == fee
        assert all(0 <= amount <= fee for _, amount in shares)


def test_contributors_without_samples_are_a_broken_invariant() -> None:
    with pytest.raises(ValueError):
        split(10, [federated_pb2.Contributor(org="uni", sample_count=0)])


FINALIZES = [
    ("round-zero", {"round_id": 0}, errors.INVALID_FIELD),
    ("round-u64-max", {"round_id": MAX_U64}, errors.ROUND_NOT_FOUND),
    ("size-zero", {"size_bytes": 0}, errors.INVALID_FIELD),
    ("no-included", {"included": []}, errors.INVALID_FIELD),
    ("included-newline", {"included": ["acme\n"]}, errors.INVALID_FIELD),
    ("too-few", {"included": ["acme"]}, errors.TOO_FEW),
    ("not-submitted", {"included": ["acme", "openml"]}, errors.NOT_SUBMITTED),
]


@pytest.mark.parametrize(
    ("fields", "error"), [c[1:] for c in FINALIZES], ids=[c[0] for c in FINALIZES]
)
def test_finalizing_at_the_extremes(
    based: Driver, fields: dict[str, Any], error: ErrorCode
) -> None:
    based.ok("uni-pub", open_round())
    based.ok("acme-pub", submit(org="acme"))
    based.ok("uni-pub", submit(org="uni"))
    result = based.run("uni-pub", finalize(**{"included": ("acme", "uni"), **fields}))
    expect(result, error)
    assert round_record(based).status == federated_pb2.ROUND_STATUS_OPEN


ONE_INVITED: dict[str, Any] = {"invited_orgs": ["acme"], "min_participants": 1}


def test_one_org_cannot_pile_up_open_rounds_for_one_end_of_block(based: Driver) -> None:
    """Rounds still open at their deadline are closed by the end of that block, with no gas to
    pay for it: 12 800 rounds opened by one publisher in 4 blocks, all with one deadline, took
    4.8 s of that block's FinalizeBlock here (a block's gas admits 38 000 such opens, and any
    number of blocks may aim at one height). An organisation has at most MAX_OPEN_PER_ORG
    rounds open at once; one closed frees its place."""
    msgs = [
        open_round(target_version=f"t{i}", deadline_height=50, **ONE_INVITED)
        for i in range(MAX_OPEN_PER_ORG)
    ]
    for start in range(0, len(msgs), 16):
        based.ok("uni-pub", *msgs[start : start + 16])
    over = open_round(target_version="over", deadline_height=60, **ONE_INVITED)
    expect(based.run("uni-pub", over), errors.TOO_MANY_OPEN)
    while based.height < 50:
        based.block([])
    based.ok("uni-pub", over)  # the deadline closed them all: places are free again
