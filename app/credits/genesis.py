"""Balances in genesis ``app_state.credits``: {org id: amount}, every org known, amounts whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.text import quote
from app.credits.keeper import MAX_BALANCE, CreditsKeeper


def parse_balances(
    raw: Any, org_ids: set[str], error: type[ValueError]
) -> tuple[tuple[str, int], ...]:
    """Validated (org, amount) pairs sorted by org; raises ``error(field, reason)``."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise error("credits", "must be an object of organisation id to amount")
    total = 0
    for org, amount in raw.items():
        if org not in org_ids:
            raise error(f"credits.{org}", f"no organisation {quote(org, 64)} in orgs")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise error(f"credits.{org}", "must be a non-negative integer")
        total += amount
    if total > MAX_BALANCE:
        raise error("credits", "the total exceeds 2^63-1")
    return tuple(sorted((org, amount) for org, amount in raw.items() if amount > 0))


def init_balances(keeper: CreditsKeeper, balances: tuple[tuple[str, int], ...]) -> None:
    """Write the genesis balances."""
    for org, amount in balances:
        keeper.set_balance(org, amount)
