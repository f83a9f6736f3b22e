"""The attestations section of genesis: malformed records refused by kind."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import changed, doubled

from app.core.genesis import GenesisError
from app.machine import parse_genesis

A = "attestations.attestations"

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("attestations", "x"), "attestations"),
    ("unknown-field", changed("attestations.bogus", 1), "attestations.bogus"),
    ("last-id-below", changed("attestations.last_attestation_id", 1), f"{A}[1].id"),
    (
        "last-id-over-u64",
        changed("attestations.last_attestation_id", 2**64),
        "attestations.last_attestation_id",
    ),
    ("twice", doubled(A), f"{A}[2].id"),
    ("version", changed(f"{A}[0].version", "9"), f"{A}[0]"),
    ("org", changed(f"{A}[0].org", "x"), f"{A}[0].org"),
    ("metric", changed(f"{A}[0].metrics", [{"name": "a", "int_value": "1.5"}]), f"{A}[0]"),
    ("field", changed(f"{A}[0].bogus", 1), f"{A}[0]"),
]


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_attestations_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert refused.value.reason
