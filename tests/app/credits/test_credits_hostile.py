"""Hostile transfers and genesis balances, by kind: amounts at their extremes, odd org names,
balances at the top of their range. A FinalizeBlock that raised would fail the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, app_state, default_accounts, started

from app.core.errors import ErrorCode
from app.credits import errors, keys
from app.credits.keeper import MAX_BALANCE
from app.machine import parse_genesis as parse_consortium
from app.members.genesis import GenesisError
from app.pb.modelgov.v1 import state_pb2, tx_pb2

ORGS = ("acme", "openml", "uni")


def pay(to_org: str, amount: int) -> tx_pb2.Msg:
    return tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=to_org, amount=amount))


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def balances(driver: Driver) -> tuple[int, ...]:
    return tuple(
        state_pb2.Balance.FromString(driver.query("/credits/balance", {"org": org}).value).amount
        for org in ORGS
    )


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path)
    yield driver
    driver.close()


AMOUNTS = [
    ("zero", "uni", 0, errors.BAD_AMOUNT),
    ("more-than-held", "uni", 100_001, errors.INSUFFICIENT),
    ("max-balance", "uni", MAX_BALANCE, errors.INSUFFICIENT),
    ("max-balance-plus-one", "uni", MAX_BALANCE + 1, errors.BAD_AMOUNT),
    ("uint64-max", "uni", 2**64 - 1, errors.BAD_AMOUNT),
    ("to-itself", "acme", 1, errors.SAME_ORG),
    ("unknown-org", "nobody", 1, errors.UNKNOWN_ORG),
    ("empty-org", "", 1, errors.UNKNOWN_ORG),
    ("trailing-newline", "uni\n", 1, errors.UNKNOWN_ORG),
    ("non-ascii", "un\u0131", 1, errors.UNKNOWN_ORG),
    ("astral", "uni\U0001f600", 1, errors.UNKNOWN_ORG),
    ("nbsp", "uni\u00a0", 1, errors.UNKNOWN_ORG),
]


@pytest.mark.parametrize(
    ("to_org", "amount", "error"), [c[1:] for c in AMOUNTS], ids=[c[0] for c in AMOUNTS]
)
def test_a_refused_transfer_moves_nothing(
    chain: Driver, to_org: str, amount: int, error: ErrorCode
) -> None:
    before = balances(chain)
    result = chain.run("acme-admin", pay(to_org, amount))
    expect(result, error)
    assert result.log.isascii() and result.log.isprintable(), result.log
    assert balances(chain) == before


def test_the_whole_balance_moves(chain: Driver) -> None:
    chain.ok("acme-admin", pay("uni", 100_000))
    assert balances(chain) == (0, 5_000, 101_000)


def test_a_transfer_into_a_full_balance_is_refused(tmp_path: Path) -> None:
    driver = started(tmp_path, credits={"uni": MAX_BALANCE - 10, "acme": 10})
    try:
        driver.app.pending.set(
            keys.balance_key("uni"),
            state_pb2.Balance(org="uni", amount=MAX_BALANCE).SerializeToString(),
        )
        driver.block([])
        expect(driver.run("acme-admin", pay("uni", 1)), errors.BALANCE_OVERFLOW)
        assert balances(driver) == (10, 0, MAX_BALANCE)
    finally:
        driver.close()


def test_genesis_holds_the_whole_range(tmp_path: Path) -> None:
    driver = started(tmp_path, credits={"acme": MAX_BALANCE})
    try:
        driver.ok("acme-admin", pay("uni", MAX_BALANCE))
        assert balances(driver) == (0, 0, MAX_BALANCE)
    finally:
        driver.close()


GENESIS = [
    ("total-above-max", {"uni": MAX_BALANCE, "acme": 1}, "credits"),
    ("above-max", {"uni": MAX_BALANCE + 1}, "credits"),
    ("uint64-max", {"uni": 2**64 - 1}, "credits"),
    ("negative", {"uni": -1}, "credits.uni"),
    ("bool", {"uni": True}, "credits.uni"),
    ("float", {"uni": 1.0}, "credits.uni"),
    ("trailing-newline-org", {"uni\n": 1}, "credits.uni\n"),
]


@pytest.mark.parametrize(
    ("credits", "field"), [c[1:] for c in GENESIS], ids=[c[0] for c in GENESIS]
)
def test_genesis_balances_out_of_range_are_refused(credits: dict[str, Any], field: str) -> None:
    state = app_state(default_accounts().values())
    state["credits"] = credits
    with pytest.raises(GenesisError) as caught:
        parse_consortium(state)
    assert caught.value.field == field
