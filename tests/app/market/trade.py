"""Builders and readers the market tests share: messages, balances, listings, leases."""

from __future__ import annotations

from typing import Any

from driver import Driver, publish, register

from app.core.errors import ErrorCode
from app.core.valuemap import from_data
from app.pb.modelgov.v1 import market_pb2, state_pb2, tx_pb2

MODEL = "uni/base"
FREE = """
def authorize(ctx):
    return allow(fee=0, note="free")
"""
PER_USE = """
def authorize(ctx):
    if ctx.purpose == "commercial-inference" and "lease" not in ctx:
        return deny("commercial use needs a lease")
    if "lease" in ctx and ctx.quantity > ctx.params["lease_cap"]:
        return deny("a lease covers at most " + str(ctx.params["lease_cap"]) + " units")
    return allow(fee=ctx.quantity * ctx.params["price"], note="per unit")
"""
"""A license that charges per use, asks for a lease for commercial use, and refines leases
with a cap on quantity (a script that reads ``ctx.lease``)."""


def list_model(price: int, model: str = MODEL) -> tx_pb2.Msg:
    return tx_pb2.Msg(list_model=tx_pb2.ListModel(model=model, price=price))


def delist(model: str = MODEL) -> tx_pb2.Msg:
    return tx_pb2.Msg(delist_model=tx_pb2.DelistModel(model=model))


def buy(max_price: int, model: str = MODEL, versions: tuple[str, ...] = ()) -> tx_pb2.Msg:
    body = tx_pb2.BuyModel(model=model, max_price=max_price, versions=list(versions))
    return tx_pb2.Msg(buy_model=body)


def offer(
    price: int = 1000,
    purposes: tuple[str, ...] = ("inference", "commercial-inference"),
    download: bool = True,
    max_blocks: int = 0,
    version: str = "1.0",
) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        offer_lease=tx_pb2.OfferLease(
            model=MODEL,
            version=version,
            price_per_1000_blocks=price,
            purposes=list(purposes),
            download=download,
            max_blocks=max_blocks,
        )
    )


def withdraw(version: str = "1.0") -> tx_pb2.Msg:
    return tx_pb2.Msg(withdraw_lease_offer=tx_pb2.WithdrawLeaseOffer(model=MODEL, version=version))


def lease(
    blocks: int,
    max_price: int = 10**9,
    version: str = "1.0",
    purposes: tuple[str, ...] = ("inference",),
    download: bool = False,
) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        lease_version=tx_pb2.LeaseVersion(
            model=MODEL,
            version=version,
            blocks=blocks,
            max_price=max_price,
            purposes=list(purposes),
            download=download,
        )
    )


def use(purpose: str = "inference", quantity: int = 2, max_fee: int = 10**6) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        use=tx_pb2.Use(
            model=MODEL, version="1.0", purpose=purpose, quantity=quantity, max_fee=max_fee
        )
    )


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    )


def attach(license_id: str, version: str = "1.0") -> tx_pb2.Msg:
    return tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=MODEL, version=version, license=license_id)
    )


def publish_model(driver: Driver, source: str = PER_USE) -> None:
    """uni registers uni/base, publishes 1.0 and attaches a license (price 5 per unit)."""
    driver.ok("uni-admin", register("uni", "base"), publish(MODEL, "1.0"))
    driver.ok("uni-admin", deploy("terms", source, price=5, lease_cap=10), attach("uni/terms"))


def balance(driver: Driver, org: str) -> int:
    answer = driver.query("/credits/balance", {"org": org})
    return state_pb2.Balance.FromString(answer.value).amount


def owner(driver: Driver, model: str = MODEL) -> str:
    answer = driver.query("/models/model", {"id": model})
    return state_pb2.Model.FromString(answer.value).owner_org


def listings(driver: Driver) -> list[market_pb2.Listing]:
    answer = driver.query("/market/listings")
    assert answer.code == 0, answer.log
    return [market_pb2.Listing.FromString(i) for i in state_pb2.Page.FromString(answer.value).items]


def offers(driver: Driver) -> list[market_pb2.LeaseOffer]:
    answer = driver.query("/market/offers")
    assert answer.code == 0, answer.log
    page = state_pb2.Page.FromString(answer.value)
    return [market_pb2.LeaseOffer.FromString(i) for i in page.items]


def leases(driver: Driver, **params: Any) -> list[market_pb2.Lease]:
    answer = driver.query("/market/leases", params)
    assert answer.code == 0, answer.log
    return [market_pb2.Lease.FromString(i) for i in state_pb2.Page.FromString(answer.value).items]


def last_receipt(driver: Driver) -> state_pb2.Receipt:
    answer = driver.query("/usage/receipts", {"model": MODEL})
    page = state_pb2.Page.FromString(answer.value)
    return state_pb2.Receipt.FromString(page.items[-1])


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def past_the_leases(driver: Driver) -> None:
    """Empty blocks until every lease sold so far has ended."""
    sold = leases(driver, model=MODEL, version="1.0")
    last = max((lease.end_height for lease in sold), default=0)
    while driver.height <= last:
        driver.block([])
