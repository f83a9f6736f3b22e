"""A hostile renter against the market: a lease's rights must end with its last block. A use
a lease covered pays no fee, so its receipt neither consents to publishing the leased weights
in the renter's own model (a copy that would outlive the lease, carry none of the lessor's
terms and grant the weights as their owner) nor licenses a derivative of them (which outlives
the lease too); the same uses paid under the license still do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, digest, publish, register, started
from trade import MODEL, expect, last_receipt, lease, offer, past_the_leases, publish_model, use

from app.models import errors as model_errors
from app.pb.modelgov.v1 import tx_pb2

WEIGHTS = digest(f"{MODEL}@1.0")


@pytest.fixture
def renter(tmp_path: Path) -> Iterator[Driver]:
    """uni offers uni/base@1.0 for rent with redistribution at 1 credit per 1,000 blocks; acme
    registered acme/copy."""
    driver = started(tmp_path)
    publish_model(driver)
    driver.ok("uni-admin", offer(price=1, purposes=("redistribution",), download=False))
    driver.ok("acme-pub", register("acme", "copy"))
    yield driver
    driver.close()


def republish(receipt: int) -> tx_pb2.Msg:
    return publish("acme/copy", "1", weights_digest=WEIGHTS, consent_receipts=[receipt])


@pytest.mark.parametrize("when", ["while-the-lease-runs", "after-it-ended"])
def test_a_leased_redistribution_consents_to_no_copy(renter: Driver, when: str) -> None:
    renter.ok("acme-admin", lease(blocks=10, purposes=("redistribution",)))
    renter.ok("acme-user", use(purpose="redistribution", quantity=1))
    receipt = last_receipt(renter)
    assert receipt.lease_id and receipt.fee == 0
    if when == "after-it-ended":
        past_the_leases(renter)
    expect(renter.run("acme-pub", republish(receipt.id)), model_errors.BAD_CONSENT)


def test_a_redistribution_paid_under_the_license_consents(renter: Driver) -> None:
    """The control: the same use outside a lease pays the license's fee and consents."""
    renter.ok("acme-user", use(purpose="redistribution", quantity=1))
    receipt = last_receipt(renter)
    assert not receipt.lease_id and receipt.fee == 5
    renter.ok("acme-pub", republish(receipt.id))


def fine_tune(receipt: int) -> tx_pb2.Msg:
    return publish("acme/ft", "1", parents=[f"{MODEL}@1.0"], license_receipts=[receipt])


@pytest.mark.parametrize("when", ["while-the-lease-runs", "after-it-ended"])
def test_a_leased_fine_tune_licenses_no_derivative(tmp_path: Path, when: str) -> None:
    """A fine-tune use under a lease is free; the derivative it would license outlives the
    lease (a round on the base, likewise). The control: a fine-tune paid under the license
    licenses it."""
    driver = started(tmp_path)
    publish_model(driver)
    driver.ok("uni-admin", offer(price=1, purposes=("fine-tune",), download=False))
    driver.ok("acme-pub", register("acme", "ft"))
    driver.ok("acme-admin", lease(blocks=10, purposes=("fine-tune",)))
    driver.ok("acme-user", use(purpose="fine-tune", quantity=1))
    leased = last_receipt(driver)
    assert leased.lease_id and leased.fee == 0
    if when == "after-it-ended":
        past_the_leases(driver)
    expect(driver.run("acme-pub", fine_tune(leased.id)), model_errors.UNLICENSED_INPUT)
    past_the_leases(driver)
    driver.ok("acme-user", use(purpose="fine-tune", quantity=1))
    paid = last_receipt(driver)
    assert not paid.lease_id and paid.fee == 5
    driver.ok("acme-pub", fine_tune(paid.id))
    driver.close()
