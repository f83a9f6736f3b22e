"""Fees of an aggregate version are split among its contributors pro rata to sample counts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import Driver, started
from rounds import MODEL, PUBLISHERS, base_published, finalize, open_round, submit

from app.core.valuemap import from_data
from app.credits import errors as credit_errors
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2
from app.usage.payment import split

PRICED = """
def authorize(ctx):
    return allow(fee=ctx.quantity * ctx.params["price"], note="shared with contributors")
"""


def contributors(*pairs: tuple[str, int]) -> list[federated_pb2.Contributor]:
    return [federated_pb2.Contributor(org=org, sample_count=n) for org, n in pairs]


@pytest.mark.parametrize(
    ("fee", "pairs", "expected"),
    [
        (
            21,
            [("acme", 300), ("openml", 600), ("uni", 100)],
            [("acme", 6), ("openml", 13), ("uni", 2)],
        ),
        (10, [("acme", 1), ("openml", 1), ("uni", 1)], [("acme", 4), ("openml", 3), ("uni", 3)]),
        (2, [("acme", 1), ("openml", 5), ("uni", 5)], [("acme", 0), ("openml", 1), ("uni", 1)]),
        (0, [("acme", 7), ("uni", 3)], [("acme", 0), ("uni", 0)]),
        (100, [("uni", 1)], [("uni", 100)]),
        (5, [("b", 2), ("a", 2), ("c", 1)], [("a", 2), ("b", 2), ("c", 1)]),
    ],
    ids=["pro-rata", "tie-by-org", "most-samples-first", "free", "single", "floor-exact"],
)
def test_the_split_and_its_remainder_rule(
    fee: int, pairs: list[tuple[str, int]], expected: list[tuple[str, int]]
) -> None:
    assert split(fee, contributors(*pairs)) == expected


def test_the_split_always_sums_to_the_fee_and_never_exceeds_one_over_pro_rata() -> None:
    rng = random.Random(5)
    for _ in range(500):
        pairs = [(f"org{i}", rng.randint(1, 10**6)) for i in range(rng.randint(1, 12))]
        fee = rng.randint(0, 10**9)
        shares = dict(split(fee, contributors(*pairs)))
        total = sum(n for _, n in pairs)
        assert sum(shares.values()) == fee
        for org, n in pairs:
            assert 0 <= shares[org] - fee * n // total <= 1


def balances(driver: Driver) -> dict[str, int]:
    page = state_pb2.Page.FromString(driver.query("/credits/balances", {"limit": 200}).value)
    found = [state_pb2.Balance.FromString(raw) for raw in page.items]
    return {b.org: b.amount for b in found}


@pytest.fixture
def aggregate(tmp_path: Path) -> Iterator[Driver]:
    """uni/base@2.0 aggregates acme (300 samples), openml (600) and uni (100); price 7."""
    driver = started(tmp_path)
    base_published(driver)
    driver.ok("uni-pub", open_round())
    for org, samples in (("acme", 300), ("openml", 600), ("uni", 100)):
        driver.ok(PUBLISHERS[org], submit(org=org, samples=samples))
    driver.ok("uni-pub", finalize())
    deploy = tx_pb2.DeployLicense(name="shared", source=PRICED, params=from_data({"price": 7}))
    attach = tx_pb2.AttachLicense(model=MODEL, version="2.0", license="uni/shared")
    driver.ok("uni-pub", tx_pb2.Msg(deploy_license=deploy), tx_pb2.Msg(attach_license=attach))
    yield driver
    driver.close()


def use(quantity: int, max_fee: int = 10**9) -> tx_pb2.Msg:
    body = tx_pb2.Use(
        model=MODEL, version="2.0", purpose="inference", quantity=quantity, max_fee=max_fee
    )
    return tx_pb2.Msg(use=body)


def test_a_use_of_the_aggregate_pays_every_contributor(aggregate: Driver) -> None:
    before = balances(aggregate)
    result = aggregate.ok("acme-user", use(3))
    after = balances(aggregate)
    assert after["openml"] - before["openml"] == 13
    assert after["uni"] - before["uni"] == 2
    assert before["acme"] - after["acme"] == 21 - 6  # acme's own share stays with it
    assert sum(after.values()) == sum(before.values())
    [event] = [e for e in result.events if e.type == "usage.receipt"]
    paid = {a.key: a.value for a in event.attributes}["paid"]
    assert paid == "acme:6,openml:13,uni:2"


def test_balances_sum_stays_constant_over_many_uses(aggregate: Driver) -> None:
    total = sum(balances(aggregate).values())
    for quantity in (1, 2, 5, 11, 13):
        aggregate.ok("acme-user", use(quantity))
        assert sum(balances(aggregate).values()) == total


def test_a_payer_short_of_credits_pays_nobody(aggregate: Driver) -> None:
    before = balances(aggregate)
    result = aggregate.run("acme-user", use(100_000))
    assert (result.codespace, result.code) == (
        credit_errors.INSUFFICIENT.codespace,
        credit_errors.INSUFFICIENT.code,
    )
    assert balances(aggregate) == before
