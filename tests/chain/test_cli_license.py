"""``modelgov license check|simulate`` on the templates, without a node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.cli.main import cli

TEMPLATES = Path(__file__).resolve().parents[2] / "genesis" / "licenses"


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.lic")), ids=lambda p: p.name)
def test_every_template_passes_the_deploy_check(path: Path) -> None:
    result = CliRunner().invoke(cli, ["license", "check", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["code_hash"].startswith("sha256:")
    assert data["worst_case_gas"] is None or data["worst_case_gas"] > 0


def test_check_names_line_and_column_of_a_refusal(tmp_path: Path) -> None:
    script = tmp_path / "bad.lic"
    script.write_text("def authorize(ctx):\n    return allow(fee=1 / 2)\n")
    result = CliRunner().invoke(cli, ["license", "check", str(script)])
    assert result.exit_code == 1
    assert f"{script}:2:" in result.output


def test_simulate_pay_per_use_across_tiers() -> None:
    params = json.dumps({"tiers": [[10, 5], [None, 2]]})
    context = json.dumps({"usage": {"model_total": 8}})
    result = CliRunner().invoke(
        cli,
        [
            "license",
            "simulate",
            str(TEMPLATES / "pay-per-use.lic"),
            "--params",
            params,
            "--context",
            context,
            "--quantity",
            "4",
            "--purpose",
            "inference",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["allowed"], data["fee"]) == (True, 2 * 5 + 2 * 2)
    assert data["gas_used"] > 0


def test_simulate_research_only_denies_a_commercial_org() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "license",
            "simulate",
            str(TEMPLATES / "research-only.lic"),
            "--org-kind",
            "commercial",
            "--purpose",
            "research",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deny: ")


def test_simulate_refuses_floats_in_its_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["license", "simulate", str(TEMPLATES / "open.lic"), "--params", '{"x": 0.5}'],
    )
    assert result.exit_code == 2
    assert "float" in result.output
