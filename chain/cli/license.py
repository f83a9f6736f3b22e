"""``modelgov license``: check and simulate license scripts locally, before deploying them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from app.licenses.lang import (
    Limits,
    ScriptError,
    ScriptRuntimeError,
    check_script,
    run_authorize,
    worst_case_gas,
)
from app.licenses.lang.context import example_context
from app.usage.purposes import PURPOSES
from chain.cli.output import OUTPUT_CHOICE, emit

SCRIPT = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def license_() -> None:
    """Check and dry-run license scripts without a node."""


def load(path: Path, limits: Limits) -> Any:
    """Read and check a script; a refusal becomes a usage error naming line and column."""
    try:
        return check_script(path.read_text(), limits)
    except ScriptError as exc:
        raise click.ClickException(f"{path}:{exc.line}:{exc.col}: {exc.reason}") from None


@license_.command("check")
@click.argument("path", type=SCRIPT)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def check(path: Path, output: str) -> None:
    """Check a script the way a deploy is checked; print its code hash and gas bound."""
    limits = Limits()
    program = load(path, limits)
    bound = worst_case_gas(program)
    data = {
        "file": str(path),
        "code_hash": program.code_hash,
        "bytes": len(path.read_text().encode()),
        "worst_case_gas": bound,
        "gas_limit": limits.gas_limit,
    }
    emit(
        output,
        data,
        lambda d: (
            f"{d['file']}: ok, {d['code_hash']}\nworst-case gas: "
            + (
                f"{d['worst_case_gas']} of {d['gas_limit']}"
                if bound is not None
                else "unbounded "
                "(loops over data or recursion); the gas limit stops it at " + str(d["gas_limit"])
            )
        ),
    )


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def json_arg(text: str, name: str) -> dict[str, Any]:
    """A JSON object given inline or as @FILE."""
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        value = json.loads(raw, parse_float=_no_float)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(f"not a JSON object: {exc}", param_hint=name) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=name)
    return value


def _no_float(text: str) -> Any:
    raise ValueError(f"{text} is a float; license data holds integers only")


@license_.command("simulate")
@click.argument("path", type=SCRIPT)
@click.option(
    "--context",
    "context_json",
    default="{}",
    help="JSON object (or @FILE) merged over the example context",
)
@click.option("--params", "params_json", default="", help="JSON object (or @FILE): ctx.params")
@click.option("--purpose", type=click.Choice(PURPOSES), default=None)
@click.option("--quantity", type=click.IntRange(1), default=None)
@click.option("--org", default=None, help="the caller's organisation id")
@click.option(
    "--org-kind",
    type=click.Choice(["academic", "commercial", "government", "nonprofit"]),
    default=None,
)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def simulate(
    path: Path,
    context_json: str,
    params_json: str,
    purpose: str | None,
    quantity: int | None,
    org: str | None,
    org_kind: str | None,
    output: str,
) -> None:
    """Run authorize(ctx) locally and show the decision, fee and gas."""
    limits = Limits()
    program = load(path, limits)
    ctx = deep_merge(example_context(), json_arg(context_json, "--context"))
    flags: dict[str, Any] = {"purpose": purpose, "quantity": quantity}
    caller = {"org": org, "org_kind": org_kind}
    ctx.update({k: v for k, v in flags.items() if v is not None})
    ctx["caller"] = deep_merge(ctx["caller"], {k: v for k, v in caller.items() if v is not None})
    if params_json:
        ctx["params"] = json_arg(params_json, "--params")
    try:
        outcome = run_authorize(program, ctx, limits)
    except ScriptRuntimeError as exc:
        raise click.ClickException(f"{path}:{exc.line}:{exc.col}: {exc.reason}") from None
    d = outcome.decision
    data = {
        "allowed": d.allowed,
        "fee": d.fee,
        "note": d.note,
        "reason": d.reason,
        "gas_used": outcome.gas_used,
        "context": ctx,
    }
    emit(
        output,
        data,
        lambda x: (
            (f"allow, fee {x['fee']}: {x['note']}" if x["allowed"] else f"deny: {x['reason']}")
            + f"  (gas {x['gas_used']})"
        ),
    )
