"""The license templates of genesis/licenses/: allowed and denied cases with exact fees and text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.licenses.lang import (
    Decision,
    Program,
    check_script,
    run_authorize,
    run_decision,
    run_royalty,
)
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
    "data-training",
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


# --- terms that follow lineage (issue 13): derive(ctx), royalty(ctx), ctx.derivative ---------


def child(model: str = "acme/Llama-support", license_id: str = "acme/ru") -> dict[str, Any]:
    """ctx.derivative of a fine-tune published (or used) on behalf of ``model``."""
    return {
        "model": model,
        "version": "1",
        "owner": "acme",
        "asset": "model",
        "license": license_id,
        "relation": "parent",
        "depth": 1,
    }


def derive(name: str, **ctx: Any) -> Decision:
    return run_decision(template(name), "derive", example_context(**ctx)).decision


DERIVE_CASES: list[tuple[str, dict[str, Any], Decision]] = [
    ("responsible-use", {"derivative": child()}, allowed(0, "")),
    (
        "responsible-use",
        {"derivative": child(license_id="")},
        denied(
            "responsible-use license: a derivative of acme/vision must carry a license that "
            "passes its use restrictions on"
        ),
    ),
    (
        "responsible-use",
        {"derivative": child(license_id="acme/open"), "params": {"required_licenses": ["a/ru"]}},
        denied(
            "responsible-use license: a derivative of acme/vision must be licensed under one "
            "of ['a/ru'], not acme/open"
        ),
    ),
    (
        "responsible-use",
        {"derivative": child(license_id="a/ru"), "params": {"required_licenses": ["a/ru"]}},
        allowed(0, ""),
    ),
    ("scale-gated", {"derivative": child()}, allowed(0, "")),
    (
        "scale-gated",
        {"derivative": child(model="acme/support-bot")},
        denied(
            "scale-gated license: a derivative of acme/vision must be named Llama...; "
            "support-bot is not"
        ),
    ),
    (
        "scale-gated",
        {"derivative": child(model="acme/Lla")},
        denied(
            "scale-gated license: a derivative of acme/vision must be named Llama...; Lla is not"
        ),
    ),
    (
        "scale-gated",
        {"derivative": child(model="acme/\u00c9-bot"), "params": {"derivative_prefix": "\u00c9"}},
        allowed(0, ""),
    ),
]


@pytest.mark.parametrize(("name", "ctx", "expected"), DERIVE_CASES)
def test_derive_of_the_templates(name: str, ctx: dict[str, Any], expected: Decision) -> None:
    found = derive(name, **ctx)
    assert (found.allowed, found.reason) == (expected.allowed, expected.reason)


DATA_NOTE = "data-training license: 3 training use(s) of acme/vision@1.0; derivatives owe a royalty"
DATA_CASES: list[tuple[dict[str, Any], Decision]] = [
    ({"purpose": "training", "quantity": 3}, allowed(300, DATA_NOTE)),
    (
        {"purpose": "training", "quantity": 3, "params": {"price_per_use": 7}},
        allowed(21, DATA_NOTE),
    ),
    ({"purpose": "evaluation"}, allowed(0, "data-training license: free evaluation")),
    (
        {"purpose": "inference"},
        denied(
            "data-training license: inference of acme/vision is not licensed; training is, per use"
        ),
    ),
    (
        {"purpose": "commercial-inference", "derivative": child()},
        allowed(0, "trained on acme/vision@1.0"),
    ),
    (
        {
            "purpose": "commercial-inference",
            "derivative": child(),
            "params": {"denied_downstream": ["commercial-inference"]},
        },
        denied(
            "data-training license of acme/vision: models trained on it may not be used for "
            "commercial-inference"
        ),
    ),
]


@pytest.mark.parametrize(("ctx", "expected"), DATA_CASES)
def test_the_data_template_licenses_training_per_use(
    ctx: dict[str, Any], expected: Decision
) -> None:
    assert decide("data-training", **ctx) == expected


@pytest.mark.parametrize(
    ("ctx", "points"),
    [
        ({}, 0),
        ({"derivative": child()}, 500),
        ({"derivative": child(), "params": {"royalty_bps": 10_000}}, 10_000),
        ({"derivative": child(), "params": {"royalty_bps": 0}}, 0),
    ],
)
def test_the_data_template_asks_a_royalty_of_derivatives_only(
    ctx: dict[str, Any], points: int
) -> None:
    assert run_royalty(template("data-training"), example_context(**ctx))[0] == points


def test_which_templates_define_which_hooks() -> None:
    hooks = {n: {h for h in ("derive", "royalty") if h in template(n).functions} for n in NAMES}
    assert hooks["responsible-use"] == hooks["scale-gated"] == {"derive"}
    assert hooks["data-training"] == {"royalty"}
    assert not any(
        hooks[n] for n in NAMES if n not in ("responsible-use", "scale-gated", "data-training")
    )


def test_the_restrictions_bind_a_derivatives_uses() -> None:
    found = decide("responsible-use", purpose="redistribution", params=RAIL, derivative=child())
    assert found == denied(
        "responsible-use license of acme/vision, binding on its derivative acme/Llama-support: "
        "redistribution is restricted: no redistribution without the restrictions"
    )
    gated = decide("scale-gated", caller=BIG, params=GATE, derivative=child())
    assert not gated.allowed and "a grant from acme is required" in gated.reason
