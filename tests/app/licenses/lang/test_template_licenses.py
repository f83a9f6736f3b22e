"""The license templates of genesis/licenses/: allowed and denied cases with exact fees and text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.licenses.lang import Decision, Program, check_script, run_authorize
from app.licenses.lang.context import example_context

TEMPLATES = Path(__file__).resolve().parents[4] / "genesis" / "licenses"
NAMES = [
    "open",
    "non-commercial",
    "responsible-use",
    "scale-gated",
    "pay-per-use",
    "quota",
    "research-only",
]


def template(name: str) -> Program:
    return check_script((TEMPLATES / f"{name}.lic").read_text())


def decide(name: str, **ctx: Any) -> Decision:
    return run_authorize(template(name), example_context(**ctx)).decision


def allowed(fee: int, note: str) -> Decision:
    return Decision(True, fee, note, "")


def denied(reason: str) -> Decision:
    return Decision(False, 0, "", reason)


def test_every_template_is_present_checked_and_documented() -> None:
    assert sorted(p.stem for p in TEMPLATES.glob("*.lic")) == sorted(NAMES)
    for name in NAMES:
        source = (TEMPLATES / f"{name}.lic").read_text()
        assert source.startswith(f"# {name}: ")
        assert "# Parameters:" in source
        template(name)


COMPANY = {"org": "acme", "org_kind": "commercial"}
OPEN_NOTE = "open license (Apache-2.0-like); attribution: "
NC_NOTE = "non-commercial use (CC-BY-NC-like); attribution: see the model card"
NC_COMPANY = (
    "non-commercial license: commercial organisations may use this model only for "
    "research or evaluation, not "
)
RU_NOTE = (
    "responsible use (OpenRAIL-M-like): subject to the use restrictions in the model card; "
    "pass them on with any derivative"
)
RAIL = {
    "denied_purposes": {
        "redistribution": "no redistribution without the restrictions",
        "commercial-inference": "no automated decisions about people",
    }
}
SG_NOTE = "community license (Llama-like): built with acme/vision"
BIG = {"org": "megacorp", "org_kind": "commercial", "attributes": {"monthly_active_users": 800}}
GATE = {"mau_threshold": 500}
TIERS = {"tiers": [[100, 10], [1000, 8], [None, 5]]}
BOUNDED_TIERS = {"tiers": [[100, 10], [1000, 8]], "denied_purposes": ["redistribution"]}
RO_DENY = "research-only license: "

CASES: list[tuple[str, dict[str, Any], Decision]] = [
    ("open", {}, allowed(0, OPEN_NOTE + "see the model card")),
    (
        "open",
        {
            "purpose": "redistribution",
            "caller": COMPANY,
            "params": {"attribution": "Acme Vision (c) 2024"},
        },
        allowed(0, OPEN_NOTE + "Acme Vision (c) 2024"),
    ),
    ("non-commercial", {"purpose": "fine-tune"}, allowed(0, NC_NOTE)),
    ("non-commercial", {"purpose": "research", "caller": COMPANY}, allowed(0, NC_NOTE)),
    ("non-commercial", {"purpose": "evaluation", "caller": COMPANY}, allowed(0, NC_NOTE)),
    (
        "non-commercial",
        {"purpose": "commercial-inference"},
        denied("non-commercial license: commercial-inference is not allowed"),
    ),
    (
        "non-commercial",
        {"purpose": "redistribution"},
        denied("non-commercial license: redistribution is not allowed"),
    ),
    (
        "non-commercial",
        {"purpose": "inference", "caller": COMPANY},
        denied(NC_COMPANY + "inference"),
    ),
    ("non-commercial", {"purpose": "download", "caller": COMPANY}, denied(NC_COMPANY + "download")),
    ("responsible-use", {"purpose": "inference", "params": RAIL}, allowed(0, RU_NOTE)),
    ("responsible-use", {"purpose": "redistribution"}, allowed(0, RU_NOTE)),
    (
        "responsible-use",
        {"purpose": "commercial-inference", "params": RAIL},
        denied(
            "responsible-use license: commercial-inference is restricted: "
            "no automated decisions about people"
        ),
    ),
    (
        "responsible-use",
        {"purpose": "redistribution", "params": RAIL},
        denied(
            "responsible-use license: redistribution is restricted: "
            "no redistribution without the restrictions"
        ),
    ),
    ("scale-gated", {}, allowed(0, SG_NOTE)),
    ("scale-gated", {"caller": BIG}, allowed(0, SG_NOTE)),
    ("scale-gated", {"caller": {**BIG, "attributes": {}}, "params": GATE}, allowed(0, SG_NOTE)),
    (
        "scale-gated",
        {"caller": {**BIG, "attributes": {"monthly_active_users": 500}}, "params": GATE},
        allowed(0, SG_NOTE),
    ),
    (
        "scale-gated",
        {"caller": BIG, "params": GATE},
        denied(
            "scale-gated license: megacorp has 800 monthly active users, above 500; "
            "a grant from acme is required"
        ),
    ),
    (
        "scale-gated",
        {"caller": BIG, "params": {**GATE, "granted_orgs": ["megacorp"]}},
        allowed(0, SG_NOTE + "; large-scale use granted by acme"),
    ),
    (
        "pay-per-use",
        {"quantity": 10, "params": TIERS},
        allowed(100, "pay-per-use, units 1-10: 10 x 10 (up to 100) = 100"),
    ),
    (
        "pay-per-use",
        {"quantity": 150, "usage": {"model_total": 50}, "params": TIERS},
        allowed(
            1300, "pay-per-use, units 51-200: 50 x 10 (up to 100) + 100 x 8 (up to 1000) = 1300"
        ),
    ),
    (
        "pay-per-use",
        {"quantity": 1000, "usage": {"model_total": 900}, "params": TIERS},
        allowed(
            5300, "pay-per-use, units 901-1900: 100 x 8 (up to 1000) + 900 x 5 (above 1000) = 5300"
        ),
    ),
    (
        "pay-per-use",
        {"quantity": 1, "usage": {"model_total": 100}, "params": BOUNDED_TIERS},
        allowed(8, "pay-per-use, units 101-101: 1 x 8 (up to 1000) = 8"),
    ),
    (
        "pay-per-use",
        {"quantity": 2, "usage": {"model_total": 999}, "params": BOUNDED_TIERS},
        denied("pay-per-use license: units up to 1001 go beyond the last tier (1000 units)"),
    ),
    (
        "pay-per-use",
        {"purpose": "redistribution", "params": BOUNDED_TIERS},
        denied("pay-per-use license: redistribution is not offered"),
    ),
    ("pay-per-use", {}, denied("pay-per-use license: no price tiers are configured")),
    (
        "quota",
        {"quantity": 10, "params": {"quota": 100}},
        allowed(0, "quota license: 90 of 100 units left in this period"),
    ),
    (
        "quota",
        {
            "quantity": 40,
            "usage": {"model_period": 60},
            "params": {"quota": 100, "fee_per_unit": 3},
        },
        allowed(120, "quota license: 0 of 100 units left in this period"),
    ),
    (
        "quota",
        {"quantity": 41, "usage": {"model_period": 60}, "params": {"quota": 100}},
        denied(
            "quota license: 41 units asked, 40 of 100 left in this period (it ends at 1701592000)"
        ),
    ),
    (
        "quota",
        {"quantity": 1, "usage": {"model_period": 1000}},
        denied(
            "quota license: 1 units asked, 0 of 1000 left in this period (it ends at 1701592000)"
        ),
    ),
    ("research-only", {}, allowed(0, "research-only license; cite: see the model card")),
    (
        "research-only",
        {"purpose": "download", "params": {"citation": "Doe et al. 2024"}},
        allowed(0, "research-only license; cite: Doe et al. 2024"),
    ),
    (
        "research-only",
        {"purpose": "inference"},
        denied(RO_DENY + "inference is not allowed (research, evaluation or download only)"),
    ),
    (
        "research-only",
        {"caller": COMPANY},
        denied(RO_DENY + "only academic organisations may use this model, acme is commercial"),
    ),
    (
        "research-only",
        {"caller": {"org": "gov", "org_kind": "government"}},
        denied(RO_DENY + "only academic organisations may use this model, gov is government"),
    ),
]


@pytest.mark.parametrize(
    ("name", "ctx", "expected"), CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]
)
def test_template_decisions(name: str, ctx: dict[str, Any], expected: Decision) -> None:
    assert decide(name, **ctx) == expected


@pytest.mark.parametrize("name", NAMES)
def test_templates_run_well_within_the_gas_limit(name: str) -> None:
    ctx = example_context(quantity=5000, params={**TIERS, **RAIL})
    assert run_authorize(template(name), ctx).gas_used < 5_000
