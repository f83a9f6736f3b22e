"""A hostile renter against the market: a lease's rights must end with its last block. A use
a lease covered pays no fee, so its receipt is no consent to publish the leased weights in the
renter's own model (which would outlive the lease, carry none of the lessor's terms, and grant
the renter's organisation the weights as their owner); a redistribution use paid under the
license still is."""

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
