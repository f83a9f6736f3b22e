"""The federated section of genesis: malformed rounds and contributors refused by kind."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import changed, doubled, exported

from app.core.genesis import GenesisError
from app.machine import parse_genesis

R = "federated.rounds"
C = "federated.contributors"


def _two_open_rounds_for_one_target() -> dict[str, Any]:
    state = exported()
    first, second = state["federated"]["rounds"]
    first["status"] = "ROUND_STATUS_OPEN"
    first["target_version"] = second["target_version"]
    return state


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("federated", []), "federated"),
    ("unknown-field", changed("federated.bogus", 1), "federated.bogus"),
    ("last-id-below", changed("federated.last_round_id", 1), f"{R}[1].id"),
    ("round-twice", doubled(R), f"{R}[2].id"),
    ("round-opener", changed(f"{R}[0].opener_org", "x"), f"{R}[0].opener_org"),
    ("round-base", changed(f"{R}[0].base", "uni/base@9"), f"{R}[0].base"),
    ("round-target-model", changed(f"{R}[0].target_model", "uni/x"), f"{R}[0].target_model"),
    ("round-target-nul", changed(f"{R}[0].target_version", "\x00"), f"{R}[0].target_version"),
    ("round-status", changed(f"{R}[0].status", 0), f"{R}[0].status"),
    ("round-status-unknown", changed(f"{R}[0].status", 9), f"{R}[0].status"),
    ("round-field", changed(f"{R}[0].bogus", 1), f"{R}[0]"),
    ("two-open-for-a-target", _two_open_rounds_for_one_target(), f"{R}[1].target_version"),
    ("contributors-version", changed(f"{C}[0].version", "9"), f"{C}[0]"),
    ("contributors-model-type", changed(f"{C}[0].model", 3), f"{C}[0]"),
    ("contributors-round", changed(f"{C}[0].round_id", 7), f"{C}[0].round_id"),
    ("contributor-org", changed(f"{C}[0].contributors[0].org", "x"), f"{C}[0].contributors[0].org"),
    ("contributors-twice", doubled(C), f"{C}[1]"),
    ("contributors-field", changed(f"{C}[0].bogus", 1), f"{C}[0]"),
]


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_federated_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert refused.value.reason
