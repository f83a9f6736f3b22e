"""A hostile consortium member against revocation: a receipt of another organisation's version,
taken before its owner revoked it, must not license anything newly derived from it (a
publication, a round, a round's update or aggregate), as the revoked version's own uses stop;
derivatives published before the revocation keep working, and an owner may derive a fix from
its own revoked version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from driver import Driver, digest, licensed, publish, register, set_status, started
from test_datasets_flow import expect
from test_lineage import open_round

from app.models import errors as model_errors
from app.pb.modelgov.v1 import tx_pb2

BASE = "uni/base@1"
REVOKED = tx_pb2.VERSION_STATUS_REVOKED


def revoke(ref: str) -> tx_pb2.Msg:
    model, _, version = ref.rpartition("@")
    return set_status(model, version, REVOKED, "leaked data")


@pytest.fixture
def licensed_base(tmp_path: Path) -> Iterator[tuple[Driver, int]]:
    """uni/base@1 under a free license and acme's fine-tune receipt of it; acme registered
    acme/ft."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    [receipt] = licensed(driver, "uni-pub", "acme-user", [BASE])
    driver.ok("acme-pub", register("acme", "ft"))
    yield driver, receipt
    driver.close()


def fine_tune(receipt: int, version: str = "1") -> tx_pb2.Msg:
    return publish("acme/ft", version, parents=[BASE], license_receipts=[receipt])


DERIVATIONS: list[tuple[str, Callable[[int], tx_pb2.Msg]]] = [
    ("a-publication", fine_tune),
    ("a-round", lambda receipt: open_round(BASE, "acme/ft@1", [receipt])),
]


@pytest.mark.parametrize("derive", [c[1] for c in DERIVATIONS], ids=[c[0] for c in DERIVATIONS])
def test_a_receipt_taken_before_a_revocation_derives_nothing_after_it(
    licensed_base: tuple[Driver, int], derive: Callable[[int], tx_pb2.Msg]
) -> None:
    driver, receipt = licensed_base
    driver.ok("uni-pub", revoke(BASE))
    expect(driver.run("acme-pub", derive(receipt)), model_errors.UNLICENSED_INPUT)


def test_a_derivative_published_before_the_revocation_stays(
    licensed_base: tuple[Driver, int],
) -> None:
    """Only what is new is refused: acme/ft@1 was published before; its next version derives
    from acme/ft@1 (acme's own, live), not from the revoked base."""
    driver, receipt = licensed_base
    driver.ok("acme-pub", fine_tune(receipt))
    driver.ok("uni-pub", revoke(BASE))
    driver.ok("acme-pub", publish("acme/ft", "2", parents=["acme/ft@1"]))
    expect(driver.run("acme-pub", fine_tune(receipt, "3")), model_errors.UNLICENSED_INPUT)


def test_an_owner_derives_a_fix_from_its_own_revoked_version(
    licensed_base: tuple[Driver, int],
) -> None:
    driver, _ = licensed_base
    driver.ok("uni-pub", revoke(BASE))
    driver.ok("uni-pub", publish("uni/base", "2", parents=[BASE]))


def test_a_base_revoked_mid_round_takes_no_update_and_no_aggregate(
    licensed_base: tuple[Driver, int],
) -> None:
    """acme's round on uni's base opened under a receipt; uni revokes the base. uni's update
    (it was invited) and acme's aggregate would each be a new version derived from it."""
    driver, receipt = licensed_base
    driver.ok("acme-pub", open_round(BASE, "acme/ft@1", [receipt]))
    driver.ok("acme-pub", submit(1, "acme"))
    driver.ok("uni-pub", revoke(BASE))
    expect(driver.run("uni-pub", submit(1, "uni")), model_errors.UNLICENSED_INPUT)
    expect(driver.run("acme-pub", finalize(1, ["acme"])), model_errors.UNLICENSED_INPUT)


def submit(round_id: int, org: str) -> tx_pb2.Msg:
    body = tx_pb2.SubmitUpdate(
        round_id=round_id,
        update_digest=digest(f"update-{org}"),
        size_bytes=4096,
        sample_count=100,
    )
    return tx_pb2.Msg(submit_update=body)


def finalize(round_id: int, included: list[str]) -> tx_pb2.Msg:
    body = tx_pb2.FinalizeRound(
        round_id=round_id,
        aggregate_digest=digest(f"aggregate-{round_id}"),
        size_bytes=4096,
        included=included,
    )
    return tx_pb2.Msg(finalize_round=body)
