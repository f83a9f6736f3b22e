"""``modelgov license``, ``modelgov tx license`` and the license reads under ``modelgov query``.

``license check|simulate`` try a script locally before it is deployed; ``tx license deploy``
and ``attach`` put it on chain and make it govern a version; ``query license``, ``licenses``,
``attachment`` and ``evaluate`` read what is deployed and ask a license what it would decide.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.core.valuemap import from_data, to_data
from app.members.roles import ORG_KINDS
from app.pb.modelgov.v1 import tx_pb2
from app.usage.purposes import PURPOSES
from chain.cli.options import ACCOUNT, Send, list_options, reads, signed, split_ref
from chain.cli.output import OUTPUT_CHOICE, emit, emit_list, record
from chain.cli.root import cli, query, tx
from chain.client import Node

if TYPE_CHECKING:
    from app.licenses.lang import Limits
# The interpreter (app.licenses.lang) is imported by the commands that run it, so that the rest
# of the CLI starts without it.

SCRIPT = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.group("license")
def license_() -> None:
    """Check and dry-run license scripts without a node."""


def load(path: Path, limits: Limits) -> Any:
    """Read and check a script; a refusal becomes a usage error naming line and column."""
    from app.licenses.lang import ScriptError, check_script

    try:
        return check_script(path.read_text(), limits)
    except ScriptError as exc:
        raise click.ClickException(f"{path}:{exc.line}:{exc.col}: {exc.reason}") from None


@license_.command("check")
@click.argument("path", type=SCRIPT)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def check(path: Path, output: str) -> None:
    """Check a script the way a deploy is checked; print its code hash and gas bound."""
    from app.licenses.lang import Limits, worst_case_gas

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
@click.option("--org-kind", type=click.Choice(ORG_KINDS), default=None)
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
    from app.licenses.lang import Limits, ScriptRuntimeError, run_authorize
    from app.licenses.lang.context import example_context

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


# --- modelgov tx license --------------------------------------------------------------------


@tx.group("license")
def license_tx() -> None:
    """Deploy license scripts and attach them to versions."""


@license_tx.command("deploy")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--params", "params_json", default="{}", help="JSON object (or @FILE): ctx.params")
@click.option("--description", default="", help="the terms in words, for people")
@signed
def deploy(name: str, path: Path, params_json: str, description: str, send: Send) -> None:
    """Deploy the script at PATH as license ORG/NAME (the sender's org)."""
    try:
        params = from_data(json_arg(params_json, "--params"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--params") from None
    msg = tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(
            name=name, source=path.read_text(), params=params, description=description
        )
    )
    send(msg)


@license_tx.command("attach")
@click.argument("ref", metavar="MODEL@VERSION")
@click.argument("license_id", metavar="LICENSE")
@signed
def attach(ref: str, license_id: str, send: Send) -> None:
    """Make LICENSE govern MODEL@VERSION from the next block on."""
    model_id, version = split_ref(ref)
    msg = tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=model_id, version=version, license=license_id)
    )
    send(msg)


# --- modelgov query: licenses -------------------------------------------------------------


@query.command("license")
@click.argument("license_id", metavar="LICENSE")
@click.option("--source", is_flag=True, help="print only the script's source")
@reads
def license_query(license_id: str, source: bool, client: Node, output: str) -> None:
    """Show a deployed license: author, code hash, parameters, source."""
    found = client.license(license_id)
    if source:
        click.echo(found.source, nl=False)
        return
    data = record(found)
    data["params"] = to_data(found.params)
    emit(output, data)


@query.command("licenses")
@list_options
@reads
def licenses(after: str, limit: int, client: Node, output: str) -> None:
    """List deployed licenses in id order."""
    items, nxt = client.licenses().take(limit, after)
    rows = [{**record(x), "params": to_data(x.params)} for x in items]
    emit_list(output, "licenses", rows, nxt, ["id", "code_hash", "height", "description"])


@query.command("attachment")
@click.argument("ref", metavar="MODEL@VERSION")
@list_options
@reads
def attachment(ref: str, after: str, limit: int, client: Node, output: str) -> None:
    """Show which license governs a version now, and every attachment it had."""
    model_id, version = split_ref(ref)
    current = client.attachment(model_id, version)
    history, nxt = client.history(model_id, version).take(limit, after)
    rows = [record(a) for a in history]
    columns = ["seq", "license", "code_hash", "height"]
    extra = {"version": ref, "current": record(current) if current is not None else None}
    emit_list(output, "history", rows, nxt, columns, **extra)


@query.command("evaluate")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option(
    "--address", required=True, type=ACCOUNT, help="the account (or key) that would use it"
)
@click.option("--purpose", required=True, type=click.Choice(PURPOSES))
@click.option("--quantity", default=1, show_default=True, type=click.IntRange(1, 2**32))
@reads
def evaluate(
    ref: str, address: str, purpose: str, quantity: int, client: Node, output: str
) -> None:
    """Ask the version's license what it would decide now (a dry run; nothing is paid)."""
    model_id, version = split_ref(ref)
    found = client.evaluate(address, model_id, version, purpose, quantity)
    emit(
        output,
        record(found),
        lambda d: (
            (f"allow, fee {d['fee']}: {d['note']}" if d["allowed"] else f"deny: {d['reason']}")
            + f"  ({d['license']})"
        ),
    )
