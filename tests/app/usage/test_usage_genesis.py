"""The usage section of genesis: malformed receipts, counters and period counters refused by
kind; what the receipts sum to must fit the counters they are summed into."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import changed, doubled, exported

from app.core.genesis import GenesisError
from app.machine import parse_genesis

R = "usage.receipts"
P = "usage.period_counters"


def _overflowing() -> dict[str, Any]:
    state = exported()
    for receipt in state["usage"]["receipts"][:2]:
        receipt["quantity"] = str(2**63)
    return state


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("usage", []), "usage"),
    ("unknown-field", changed("usage.bogus", 1), "usage.bogus"),
    ("last-id-below", changed("usage.last_receipt_id", 2), f"{R}[2].id"),
    ("last-id-negative", changed("usage.last_receipt_id", -1), "usage.last_receipt_id"),
    ("last-id-float", changed("usage.last_receipt_id", 3.0), "usage.last_receipt_id"),
    ("receipt-twice", doubled(R), f"{R}[4].id"),
    ("receipt-id-zero", changed(f"{R}[0].id", 0), f"{R}[0].id"),
    ("receipt-version", changed(f"{R}[0].version", "9"), f"{R}[0]"),
    ("receipt-consumer", changed(f"{R}[0].consumer", ""), f"{R}[0].consumer"),
    ("receipt-consumer-org", changed(f"{R}[0].consumer_org", "x"), f"{R}[0].consumer_org"),
    ("receipt-licensor", changed(f"{R}[0].licensor_org", "x"), f"{R}[0].licensor_org"),
    ("receipt-quantity", changed(f"{R}[0].quantity", str(2**64)), f"{R}[0]"),
    ("receipt-field", changed(f"{R}[0].bogus", 1), f"{R}[0]"),
    ("receipts-overflow", _overflowing(), R),
    ("period-kind", changed(f"{P}[0].kind", "org"), f"{P}[0].kind"),
    ("period-version", changed(f"{P}[0].version", "9"), f"{P}[0]"),
    ("period-model-version", changed(f"{P}[1].version", "1.0"), f"{P}[1].version"),
    ("period-model", changed(f"{P}[1].model", "uni/none"), f"{P}[1].model"),
    ("period-org", changed(f"{P}[0].org", "x"), f"{P}[0].org"),
    ("period-seconds", changed(f"{P}[0].period_seconds", 0), f"{P}[0].period_seconds"),
    ("period-index", changed(f"{P}[0].period", 2**64), f"{P}[0].period"),
    ("period-quantity", changed(f"{P}[0].quantity", "9"), f"{P}[0].quantity"),
    ("period-field", changed(f"{P}[0].bogus", 1), f"{P}[0].bogus"),
    ("period-twice", doubled(P), f"{P}[2]"),
]


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_usage_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert refused.value.reason
