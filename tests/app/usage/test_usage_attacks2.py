"""Credits are conserved by every path that moves them, together: a seeded run of uses (a
plain version, a derivative paying an upstream royalty, a federated aggregate split over
contributors whose sample counts are 2^48 against 1), rents, sales, listings and transfers,
each with integer extremes (quantity 2^32, fees and prices 2^63-1, max fees 2^64-1, a fee past
2^63-1), from every organisation including the payee itself. After every block the balances
still add up to genesis' sum, and every refusal is a registered code (FinalizeBlock never
raises: the driver would)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from driver import Driver, default_accounts, licensed, make_account, publish, register, started

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import state_pb2, tx_pb2

U63 = 2**63 - 1
U64 = 2**64 - 1
BASE = "uni/base@1"
DERIVATIVE = "acme/ft@1"
AGGREGATE = "uni/agg@2"
DEAR = "openml/spare@1"
PER_UNIT = """
def authorize(ctx):
    return allow(fee=ctx.quantity * ctx.params["price"])


def royalty(ctx):
    return ctx.params["bps"] if ctx.derivative is not None else 0
"""
CONSUMERS = ("uni-user", "acme-user", "openml-admin")
ADMINS = ("uni-admin", "acme-admin", "openml-admin")


def deploy(name: str, **params: int) -> tx_pb2.Msg:
    body = tx_pb2.DeployLicense(name=name, source=PER_UNIT, params=from_data(params))
    return tx_pb2.Msg(deploy_license=body)


def attach(ref: str, license_id: str) -> tx_pb2.Msg:
    model, _, version = ref.rpartition("@")
    body = tx_pb2.AttachLicense(model=model, version=version, license=license_id)
    return tx_pb2.Msg(attach_license=body)


def aggregate(driver: Driver) -> None:
    """uni's round on its base into uni/agg@2: acme with 2^48 samples, openml 1, uni 3."""
    body = tx_pb2.OpenRound(
        base_model="uni/base",
        base_version="1",
        target_model="uni/agg",
        target_version="2",
        invited_orgs=["acme", "openml", "uni"],
        min_participants=3,
        deadline_height=10_000,
    )
    driver.ok("uni-pub", register("uni", "agg"), tx_pb2.Msg(open_round=body))
    for account, samples in (("acme-pub", 2**48), ("openml-admin", 1), ("uni-pub", 3)):
        org = driver[account].org
        update = tx_pb2.SubmitUpdate(
            round_id=1,
            update_digest="sha256:" + f"{len(org):02x}{org}".encode().hex().ljust(64, "0"),
            size_bytes=1,
            sample_count=samples,
        )
        driver.ok(account, tx_pb2.Msg(submit_update=update))
    final = tx_pb2.FinalizeRound(
        round_id=1,
        aggregate_digest="sha256:" + "ab" * 32,
        size_bytes=1,
        included=["acme", "openml", "uni"],
    )
    driver.ok("uni-pub", tx_pb2.Msg(finalize_round=final))


@pytest.fixture
def economy(tmp_path: Path) -> Iterator[Driver]:
    accounts = default_accounts()
    accounts["uni-user"] = make_account("uni-user", "uni", "consumer")
    accounts["openml-admin"] = make_account(
        "openml-admin", "openml", "admin", "publisher", "consumer"
    )
    driver = started(tmp_path, accounts=accounts)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1"))
    driver.ok("uni-pub", deploy("base", price=7, bps=3333), attach(BASE, "uni/base"))
    [receipt] = licensed(driver, "uni-pub", "acme-user", [BASE])
    driver.ok("uni-pub", attach(BASE, "uni/base"))  # the per-unit terms again, after `licensed`
    fine_tune = publish("acme/ft", "1", parents=[BASE], license_receipts=[receipt])
    driver.ok("acme-pub", register("acme", "ft"), fine_tune)
    driver.ok("acme-pub", deploy("ft", price=13, bps=0), attach(DERIVATIVE, "acme/ft"))
    aggregate(driver)
    driver.ok("uni-pub", deploy("agg", price=11, bps=0), attach(AGGREGATE, "uni/agg"))
    driver.ok("openml-admin", register("openml", "spare"), publish("openml/spare", "1"))
    driver.ok("openml-admin", deploy("dear", price=U63, bps=0))
    driver.ok("openml-admin", attach(DEAR, "openml/dear"))
    offer = tx_pb2.OfferLease(
        model="uni/base", version="1", price_per_1000_blocks=999, purposes=["inference"]
    )
    driver.ok("uni-admin", tx_pb2.Msg(offer_lease=offer))
    yield driver
    driver.close()


Op = Callable[[random.Random], tuple[str, tx_pb2.Msg]]


def _use(rng: random.Random) -> tuple[str, tx_pb2.Msg]:
    model, _, version = rng.choice([BASE, DERIVATIVE, AGGREGATE, DEAR]).rpartition("@")
    body = tx_pb2.Use(
        model=model,
        version=version,
        purpose=rng.choice(["inference", "download", "fine-tune"]),
        quantity=rng.choice([1, 2, 3, 2**32, rng.randint(1, 5000)]),
        max_fee=rng.choice([0, 1, U63, U64, rng.randint(0, 10**6)]),
    )
    return rng.choice(CONSUMERS), tx_pb2.Msg(use=body)


def _transfer(rng: random.Random) -> tuple[str, tx_pb2.Msg]:
    amount = rng.choice([1, U63, rng.randint(1, 200_000)])
    body = tx_pb2.TransferCredits(to_org=rng.choice(["uni", "acme", "openml"]), amount=amount)
    return rng.choice(ADMINS), tx_pb2.Msg(transfer_credits=body)


def _lease(rng: random.Random) -> tuple[str, tx_pb2.Msg]:
    body = tx_pb2.LeaseVersion(
        model="uni/base",
        version="1",
        blocks=rng.choice([1, 2, 1001, 2**32]),
        max_price=rng.choice([1, 2, U63]),
        purposes=["inference"],
    )
    return rng.choice(ADMINS), tx_pb2.Msg(lease_version=body)


def _trade(rng: random.Random) -> tuple[str, tx_pb2.Msg]:
    model = rng.choice(["openml/spare", "acme/ft", "uni/agg"])
    price = rng.choice([1, U63, rng.randint(1, 50_000)])
    if rng.random() < 0.5:
        return rng.choice(ADMINS), tx_pb2.Msg(list_model=tx_pb2.ListModel(model=model, price=price))
    body = tx_pb2.BuyModel(model=model, max_price=price)
    return rng.choice(ADMINS), tx_pb2.Msg(buy_model=body)


OPS: tuple[Op, ...] = (_use, _use, _use, _transfer, _lease, _trade)


def balances(driver: Driver) -> dict[str, int]:
    page = state_pb2.Page.FromString(driver.query("/credits/balances", {}).value)
    found = [state_pb2.Balance.FromString(item) for item in page.items]
    return {b.org: b.amount for b in found}


def test_every_path_conserves_credits(economy: Driver) -> None:
    total = sum(balances(economy).values())
    assert total == sum(economy.credits.values())
    rng = random.Random(20261203)
    moved = 0
    for _ in range(40):
        picked = [rng.choice(OPS)(rng) for _ in range(4)]
        txs = [economy.sign(sender, [msg]) for sender, msg in picked]
        block = economy.block(txs)
        for result in block.tx_results:
            assert result.code == 0 or result.codespace, result.log
            moved += sum(1 for e in result.events if e.type == "credits.transfer")
        assert sum(balances(economy).values()) == total
    assert moved > 20  # the run moved credits along many paths, not only refusals
