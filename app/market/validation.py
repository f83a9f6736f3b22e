"""Stateless checks of market messages (``validate_basic``): they need no state to refuse.

Prices are credits, so they fit a balance (1 to 2^63-1); a price of 0 is refused (a free
handover is a transfer, free terms are a license). A lease lasts 1 to MAX_LEASE_BLOCKS blocks,
so its last height and its cost are plain integers the checks below bound.
"""

from __future__ import annotations

from app.core import names
from app.core.errors import TxError
from app.core.text import quote
from app.credits.keeper import MAX_BALANCE
from app.market import errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage.purposes import PURPOSES

MAX_LEASE_BLOCKS = 2**32
"""The longest lease: about 680 years of 5-second blocks; keeps end heights and costs small."""
BLOCKS_PER_PRICE = 1000
"""A lease's price is per this many blocks."""


def check_price(price: int, field: str) -> None:
    """A price of 1 to 2^63-1 credits; raises TxError(bad_price)."""
    if not 0 < price <= MAX_BALANCE:
        raise TxError(errors.BAD_PRICE, f"{field} {price} is not 1 to 2^63-1 credits")


def check_purposes(purposes: list[str]) -> None:
    """1 to len(PURPOSES) distinct documented purposes; raises TxError(invalid_field)."""
    if not purposes or len(purposes) > len(PURPOSES):
        raise TxError(errors.INVALID_FIELD, f"name 1 to {len(PURPOSES)} purposes")
    for purpose in purposes:
        if purpose not in PURPOSES:
            known = ", ".join(PURPOSES)
            raise TxError(errors.INVALID_FIELD, f"purpose {quote(purpose, 40)}: one of {known}")
    if len(set(purposes)) != len(purposes):
        raise TxError(errors.INVALID_FIELD, "a purpose is named twice")


def validate_list(msg: tx_pb2.ListModel, params: state_pb2.Params) -> None:
    """Checks of ListModel that need no state."""
    names.check_model_id(msg.model, errors.INVALID_FIELD)
    check_price(msg.price, "price")


def validate_delist(msg: tx_pb2.DelistModel, params: state_pb2.Params) -> None:
    """Checks of DelistModel that need no state."""
    names.check_model_id(msg.model, errors.INVALID_FIELD)


MAX_PINNED_VERSIONS = 64
"""Most versions a buy names as the ones it pays for: one store read each bounds the buy."""


def check_pinned_versions(versions: list[str]) -> None:
    """0 to MAX_PINNED_VERSIONS distinct version names; raises TxError(invalid_field)."""
    if len(versions) > MAX_PINNED_VERSIONS:
        raise TxError(errors.INVALID_FIELD, f"name at most {MAX_PINNED_VERSIONS} versions")
    for version in versions:
        names.check_version(version, errors.INVALID_FIELD)
    if len(set(versions)) != len(versions):
        raise TxError(errors.INVALID_FIELD, "a version is named twice")


def validate_buy(msg: tx_pb2.BuyModel, params: state_pb2.Params) -> None:
    """Checks of BuyModel that need no state."""
    names.check_model_id(msg.model, errors.INVALID_FIELD)
    check_price(msg.max_price, "max_price")
    check_pinned_versions(list(msg.versions))


def validate_offer(msg: tx_pb2.OfferLease, params: state_pb2.Params) -> None:
    """Checks of OfferLease that need no state."""
    names.check_model_id(msg.model, errors.INVALID_FIELD)
    names.check_version(msg.version, errors.INVALID_FIELD)
    check_price(msg.price_per_1000_blocks, "price_per_1000_blocks")
    check_purposes(list(msg.purposes))
    if msg.max_blocks > MAX_LEASE_BLOCKS:
        raise TxError(errors.BAD_BLOCKS, f"max_blocks is at most {MAX_LEASE_BLOCKS}")


def validate_withdraw(msg: tx_pb2.WithdrawLeaseOffer, params: state_pb2.Params) -> None:
    """Checks of WithdrawLeaseOffer that need no state."""
    names.check_model_id(msg.model, errors.INVALID_FIELD)
    names.check_version(msg.version, errors.INVALID_FIELD)


def validate_lease(msg: tx_pb2.LeaseVersion, params: state_pb2.Params) -> None:
    """Checks of LeaseVersion that need no state."""
    names.check_model_id(msg.model, errors.INVALID_FIELD)
    names.check_version(msg.version, errors.INVALID_FIELD)
    if not 0 < msg.blocks <= MAX_LEASE_BLOCKS:
        raise TxError(errors.BAD_BLOCKS, f"blocks {msg.blocks} is not 1 to {MAX_LEASE_BLOCKS}")
    check_price(msg.max_price, "max_price")
    check_purposes(list(msg.purposes))
    if msg.license:
        names.check_license_id(msg.license, errors.INVALID_FIELD)


def lease_cost(price_per_1000_blocks: int, blocks: int) -> int:
    """What a lease of ``blocks`` costs: the price per 1,000 blocks pro rata, rounded up (a
    lease is never free); raises TxError(price_overflow) above 2^63-1 credits."""
    cost = -(-price_per_1000_blocks * blocks // BLOCKS_PER_PRICE)
    if cost > MAX_BALANCE:
        raise TxError(
            errors.PRICE_OVERFLOW,
            f"{blocks} blocks at {price_per_1000_blocks} per 1,000 cost {cost}, above 2^63-1",
        )
    return cost
