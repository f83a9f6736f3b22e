"""Balances in genesis: every org known, amounts whole, written at InitChain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from driver import Driver, app_state, default_accounts

from app.credits.genesis import export
from app.machine import parse_genesis as parse_consortium
from app.members.genesis import GenesisError
from app.pb.modelgov.v1 import state_pb2


def state_with(credits: Any) -> dict[str, Any]:
    state = app_state(default_accounts().values())
    state["credits"] = credits
    return state


def test_balances_are_parsed_sorted_and_zeros_kept() -> None:
    """A listed 0 is a zero balance record, as a transfer that empties a balance leaves one
    (an export of such a chain must start one with the same records)."""
    consortium = parse_consortium(state_with({"uni": 5, "acme": 0, "openml": 7}))
    assert consortium.balances == (("acme", 0), ("openml", 7), ("uni", 5))


@pytest.mark.parametrize(
    ("credits", "field"),
    [
        ([1, 2], "credits"),
        ({"nowhere": 1}, "credits.nowhere"),
        ({"uni": -1}, "credits.uni"),
        ({"uni": 1.5}, "credits.uni"),
        ({"uni": True}, "credits.uni"),
        ({"uni": 2**62, "acme": 2**62}, "credits"),
    ],
)
def test_bad_balances_name_their_field(credits: Any, field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_consortium(state_with(credits))
    assert refused.value.field == field


def test_init_chain_writes_the_balances(tmp_path: Path) -> None:
    driver = Driver(tmp_path, credits={"uni": 10, "acme": 20, "openml": 0})
    driver.init_chain()
    driver.block([])
    page = state_pb2.Page.FromString(driver.query("/credits/balances", {}).value)
    found = [state_pb2.Balance.FromString(i) for i in page.items]
    assert [(b.org, b.amount) for b in found] == [("acme", 20), ("openml", 0), ("uni", 10)]
    assert export(driver.store) == {"credits": {"acme": 20, "openml": 0, "uni": 10}}
    driver.close()


def test_a_removed_organisation_may_hold_credits() -> None:
    state = state_with({"gone": 3})
    state["members"] = {"removed_orgs": [{"id": "gone", "name": "Gone Ltd", "kind": "commercial"}]}
    assert parse_consortium(state).balances == (("gone", 3),)
