"""The credits domain's genesis: ``credits``, {org id: balance}, every org known, amounts whole.

An organisation listed is written with its balance even when it is 0: a transfer that empties a
balance leaves a zero record, and an export of such a chain must start one with the same
records. Removed organisations may hold credits (they are never burnt), so a balance may name
one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.genesis import GenesisContext, GenesisError, obj
from app.credits.keeper import MAX_BALANCE, CreditsKeeper, CreditsReader
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("credits",)

Balances = tuple[tuple[str, int], ...]


def default() -> dict[str, Any]:
    """No organisation holds credits."""
    return {"credits": {}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Balances:
    """(org, amount) pairs sorted by org; raises GenesisError naming the first bad field."""
    raw = part.get("credits")
    if raw is None:
        return ()
    balances = obj(raw, "credits")
    total = 0
    for org, amount in balances.items():
        context.check_org(org, f"credits.{org}")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise GenesisError(f"credits.{org}", "must be a non-negative integer")
        total += amount
    if total > MAX_BALANCE:
        raise GenesisError("credits", "the total exceeds 2^63-1")
    return tuple(sorted(balances.items()))


def init(state: Overlay, parsed: Balances) -> None:
    """Write the balances."""
    keeper = CreditsKeeper(state)
    for org, amount in parsed:
        keeper.set_balance(org, amount)


def export(state: Reader) -> dict[str, Any]:
    """Every balance record, by org id."""
    return {"credits": dict(CreditsReader(state).balances())}
