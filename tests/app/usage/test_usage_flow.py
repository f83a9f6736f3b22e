"""Licenses, uses, receipts and credits through the whole app, block by block."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, publish, register, set_status, started

from app.core.errors import MISSING_ROLE, ErrorCode
from app.core.valuemap import from_data
from app.credits import errors as credit_errors
from app.licenses import errors as license_errors
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors

PAY_PER_USE = """
def authorize(ctx):
    if ctx.purpose in ctx.params["denied"]:
        return deny("purpose " + ctx.purpose + " is not licensed")
    return allow(fee=ctx.quantity * ctx.params["price"], note="paid per unit")
"""
FREE = """
def authorize(ctx):
    return allow(fee=0, note="attribution: Example University")
"""
SPIN = """
def authorize(ctx):
    total = 0
    for i in range(100000):
        for j in range(100000):
            total += j
    return allow(fee=0)
"""
MODEL = "uni/base"


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    )


def attach(license_id: str, version: str = "1.0") -> tx_pb2.Msg:
    return tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=MODEL, version=version, license=license_id)
    )


def use(
    purpose: str = "inference", quantity: int = 3, max_fee: int = 1000, version: str = "1.0"
) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        use=tx_pb2.Use(
            model=MODEL, version=version, purpose=purpose, quantity=quantity, max_fee=max_fee
        )
    )


def pay(to_org: str, amount: int) -> tx_pb2.Msg:
    return tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=to_org, amount=amount))


def balance(driver: Driver, org: str) -> int:
    answer = driver.query("/credits/balance", {"org": org})
    return state_pb2.Balance.FromString(answer.value).amount


def receipts(driver: Driver, **params: Any) -> tuple[list[state_pb2.Receipt], str]:
    answer = driver.query("/usage/receipts", params)
    assert answer.code == 0, answer.log
    page = state_pb2.Page.FromString(answer.value)
    return [state_pb2.Receipt.FromString(i) for i in page.items], page.next


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Driver]:
    """uni publishes uni/base@1.0 under a pay-per-use license (price 7, redistribution denied)."""
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))
    driver.ok("uni-pub", deploy("ppu", PAY_PER_USE, price=7, denied=["redistribution"]))
    driver.ok("uni-pub", attach("uni/ppu"))
    yield driver
    driver.close()


def test_an_allowed_use_pays_the_owner_and_writes_a_receipt(market: Driver) -> None:
    result = market.ok("acme-user", use(quantity=3))
    assert balance(market, "acme") == 100_000 - 21
    assert balance(market, "uni") == 1_000 + 21
    [receipt], _ = receipts(market, model=MODEL)
    assert (receipt.id, receipt.fee, receipt.quantity, receipt.purpose) == (1, 21, 3, "inference")
    assert (receipt.consumer_org, receipt.licensor_org, receipt.license) == (
        "acme",
        "uni",
        "uni/ppu",
    )
    assert receipt.code_hash.startswith("sha256:") and receipt.note == "paid per unit"
    assert receipt.height == market.height and receipt.gas_used > 0
    assert receipt.consumer == market["acme-user"].address
    assert any(e.type == "usage.receipt" for e in result.events)
    [move] = [e for e in result.events if e.type == "credits.transfer"]
    assert [(a.key, a.value) for a in move.attributes] == [
        ("from", "acme"),
        ("to", "uni"),
        ("amount", "21"),
        ("reason", "use"),
    ]
    totals = state_pb2.LicensorTotals.FromString(
        market.query("/usage/totals", {"licensor": "uni"}).value
    )
    assert (totals.receipts, totals.quantity, totals.fees) == (1, 3, 21)


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        (use(purpose="redistribution"), errors.DENIED),
        (use(max_fee=20), errors.FEE_ABOVE_MAX),
        (use(quantity=100_000, max_fee=10**9), credit_errors.INSUFFICIENT),
        (use(version="9.9"), errors.VERSION_NOT_FOUND),
        (use(purpose="mining"), errors.INVALID_PURPOSE),
        (use(quantity=0), errors.INVALID_QUANTITY),
    ],
    ids=["denied", "fee-above-max", "insufficient", "no-version", "bad-purpose", "zero-quantity"],
)
def test_a_refused_use_changes_nothing_but_the_nonce(
    market: Driver, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    before = (balance(market, "acme"), balance(market, "uni"))
    nonce = market.committed_nonce("acme-user")
    expect(market.run("acme-user", msg), error)
    assert (balance(market, "acme"), balance(market, "uni")) == before
    assert receipts(market)[0] == []
    stateless = error in (errors.INVALID_PURPOSE, errors.INVALID_QUANTITY)
    assert market.committed_nonce("acme-user") == nonce + (0 if stateless else 1)


def test_the_denial_carries_the_scripts_reason(market: Driver) -> None:
    result = market.run("acme-user", use(purpose="redistribution"))
    assert "uni/ppu: 'purpose redistribution is not licensed'" in result.log


def test_no_license_and_revoked_versions_are_refused(market: Driver) -> None:
    market.ok("uni-pub", publish(MODEL, "2.0"))
    expect(market.run("acme-user", use(version="2.0")), errors.NO_LICENSE)
    market.ok("uni-pub", set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_REVOKED, "leaked data"))
    expect(market.run("acme-user", use()), errors.VERSION_REVOKED)


def test_a_script_out_of_gas_is_refused_and_the_node_goes_on(market: Driver) -> None:
    market.ok("uni-pub", deploy("spin", SPIN))
    market.ok("uni-pub", attach("uni/spin"))
    result = market.run("acme-user", use())
    expect(result, errors.OUT_OF_GAS)
    assert balance(market, "acme") == 100_000
    market.ok("uni-pub", attach("uni/ppu"))
    market.ok("acme-user", use(quantity=1))


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("import os\ndef authorize(ctx):\n    return allow()\n", "line 1"),
        ("def authorize(ctx):\n    return allow(fee=1.5)\n", "line 2"),
        ("def check(ctx):\n    return allow()\n", "authorize"),
        ("def authorize(ctx):\n    return ctx.__class__\n", "line 2"),
    ],
    ids=["import", "float", "no-authorize", "dunder"],
)
def test_a_bad_script_never_reaches_a_block(market: Driver, source: str, detail: str) -> None:
    tx = market.sign("uni-pub", [deploy("bad", source)], nonce=market.committed_nonce("uni-pub"))
    checked = market.check(tx)
    expect(checked, license_errors.INVALID_SCRIPT)
    assert detail in checked.log
    assert not market.process([tx]) or market.block([tx]).tx_results[0].code != 0


def test_attach_refusals(market: Driver) -> None:
    expect(market.run("acme-pub", attach("uni/ppu")), model_errors.NOT_OWNER)
    expect(market.run("uni-pub", attach("uni/nope")), license_errors.LICENSE_NOT_FOUND)
    expect(market.run("uni-pub", deploy("ppu", FREE)), license_errors.LICENSE_EXISTS)
    expect(market.run("acme-user", attach("uni/ppu")), MISSING_ROLE)


def test_a_new_attachment_governs_later_uses_only(market: Driver) -> None:
    market.ok("acme-user", use(quantity=2))
    market.ok("uni-pub", deploy("free", FREE))
    market.ok("uni-pub", attach("uni/free"))
    market.ok("acme-user", use(quantity=2))
    first, second = receipts(market, model=MODEL)[0]
    assert (first.license, first.fee) == ("uni/ppu", 14)
    assert (second.license, second.fee) == ("uni/free", 0)
    history = state_pb2.Page.FromString(
        market.query("/licenses/history", {"model": MODEL, "version": "1.0"}).value
    )
    assert [state_pb2.Attachment.FromString(i).license for i in history.items] == [
        "uni/ppu",
        "uni/free",
    ]


def test_publish_with_a_license_attaches_it(market: Driver) -> None:
    body = publish(MODEL, "3.0")
    body.publish_version.license = "uni/ppu"
    market.ok("uni-pub", body)
    current = market.query("/licenses/attachment", {"model": MODEL, "version": "3.0"})
    assert state_pb2.Attachment.FromString(current.value).license == "uni/ppu"


def test_the_dry_run_answers_what_the_block_decides(market: Driver) -> None:
    params = {"address": market["acme-user"].address, "model": MODEL, "version": "1.0"}
    allowed = state_pb2.Decision.FromString(
        market.query("/licenses/evaluate", {**params, "purpose": "inference", "quantity": 4}).value
    )
    assert (allowed.allowed, allowed.fee, allowed.license) == (True, 28, "uni/ppu")
    denied = state_pb2.Decision.FromString(
        market.query("/licenses/evaluate", {**params, "purpose": "redistribution"}).value
    )
    assert not denied.allowed and "not licensed" in denied.reason
    before = market.app.store.root
    market.query("/licenses/evaluate", {**params, "purpose": "inference"})
    assert market.app.store.root == before


def test_receipt_queries_filter_and_page(market: Driver) -> None:
    market.ok("uni-pub", publish(MODEL, "2.0"))
    market.ok("uni-pub", attach("uni/ppu", "2.0"))
    for version in ("1.0", "2.0", "1.0"):
        market.ok("acme-user", use(version=version, quantity=1))
    assert [r.id for r in receipts(market)[0]] == [1, 2, 3]
    assert [r.id for r in receipts(market, model=MODEL, version="1.0")[0]] == [1, 3]
    assert [r.id for r in receipts(market, consumer_org="acme")[0]] == [1, 2, 3]
    assert [r.id for r in receipts(market, consumer=market["acme-user"].address)[0]] == [1, 2, 3]
    assert receipts(market, licensor="acme")[0] == []
    third = receipts(market)[0][2]
    assert [r.id for r in receipts(market, from_height=third.height)[0]] == [3]
    assert [r.id for r in receipts(market, to_height=third.height - 1)[0]] == [1, 2]
    page, nxt = receipts(market, limit=2)
    assert [r.id for r in page] == [1, 2] and nxt == "2"
    assert [r.id for r in receipts(market, limit=2, after=int(nxt))[0]] == [3]
    bad = market.query("/usage/receipts", {"version": "1.0"})
    assert bad.code != 0


def test_credit_transfers(market: Driver) -> None:
    market.ok("acme-admin", pay("openml", 500))
    assert (balance(market, "acme"), balance(market, "openml")) == (99_500, 5_500)
    expect(market.run("acme-admin", pay("nowhere", 1)), credit_errors.UNKNOWN_ORG)
    expect(market.run("acme-admin", pay("acme", 1)), credit_errors.SAME_ORG)
    expect(market.run("acme-admin", pay("uni", 10**6)), credit_errors.INSUFFICIENT)
    expect(market.run("acme-admin", pay("uni", 0)), credit_errors.BAD_AMOUNT)


def test_the_sum_of_balances_never_changes_in_a_random_run(market: Driver) -> None:
    rng = random.Random(20261124)
    total = sum(market.credits.values())
    senders = {"acme-user": "use", "acme-admin": "pay", "uni-admin": "pay"}
    for _ in range(25):
        txs = []
        for name, kind in senders.items():
            if kind == "use":
                purpose = rng.choice(["inference", "research", "redistribution"])
                msg = use(purpose=purpose, quantity=rng.randint(1, 50), max_fee=rng.randint(0, 400))
            else:
                msg = pay(rng.choice(["uni", "acme", "openml"]), rng.randint(1, 3000))
            txs.append(market.sign(name, [msg]))
        market.block(txs)
        balances = state_pb2.Page.FromString(market.query("/credits/balances", {}).value)
        amounts = [state_pb2.Balance.FromString(i).amount for i in balances.items]
        assert sum(amounts) == total


def test_a_long_scan_stops_with_a_cursor_and_returns_only_matches(
    market: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.usage import queries

    for _ in range(3):
        market.ok("acme-user", use(quantity=1))
    monkeypatch.setattr(queries, "MAX_SCAN", 2)
    first, nxt = receipts(market, model=MODEL, licensor="acme")
    assert first == [] and nxt == "2"
    rest, end = receipts(market, model=MODEL, licensor="acme", after=int(nxt))
    assert rest == [] and end == ""
    mine, _ = receipts(market, model=MODEL, licensor="uni", after=1)
    assert [r.id for r in mine] == [2, 3]
