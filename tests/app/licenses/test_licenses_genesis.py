"""The licenses section of genesis: malformed licenses and attachments refused by kind."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import changed, doubled

from app.core.genesis import GenesisError
from app.machine import parse_genesis

L = "licenses.licenses"
A = "licenses.attachments"

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("licenses", 1), "licenses"),
    ("unknown-field", changed("licenses.bogus", []), "licenses.bogus"),
    ("licenses-not-list", changed(L, "x"), L),
    ("license-field", changed(f"{L}[0].bogus", 1), f"{L}[0]"),
    ("license-params", changed(f"{L}[1].params", {"entries": 3}), f"{L}[1]"),
    ("license-id", changed(f"{L}[0].id", "uni"), f"{L}[0].id"),
    ("license-id-upper", changed(f"{L}[0].id", "uni/Free"), f"{L}[0].id"),
    ("license-org", changed(f"{L}[0].org", "nobody"), f"{L}[0].org"),
    ("license-not-its-name", changed(f"{L}[0].name", "other"), f"{L}[0].id"),
    ("license-twice", doubled(L), f"{L}[2].id"),
    ("attachment-version", changed(f"{A}[0].version", "9.9"), f"{A}[0]"),
    ("attachment-license", changed(f"{A}[0].license", "uni/none"), f"{A}[0].license"),
    ("attachment-twice", doubled(A), f"{A}[2].seq"),
    ("attachment-gap", changed(f"{A}[1].seq", 2), A),
    ("attachment-seq-type", changed(f"{A}[1].seq", "one"), f"{A}[1]"),
]


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_licenses_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert refused.value.reason
