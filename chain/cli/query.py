"""``modelgov query``: read the registry and the consortium from a node."""

from __future__ import annotations

from typing import Any

import click

from app.core.valuemap import to_data
from app.pb.modelgov.v1 import state_pb2
from app.usage.purposes import PURPOSES
from chain.cli.options import reads, split_ref
from chain.cli.output import emit, record, table
from chain.client import Node


@click.group()
def query() -> None:
    """Read committed state (records are protobuf-decoded; JSON output is stable)."""


@query.command("model")
@click.argument("model_id", metavar="MODEL")
@reads
def model(model_id: str, client: Node, output: str) -> None:
    """Show one model."""
    found = client.record("/models/model", {"id": model_id}, state_pb2.Model)
    emit(output, record(found))


@query.command("version")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--prove", is_flag=True, help="verify a Merkle proof against the block's app hash")
@reads
def version(ref: str, prove: bool, client: Node, output: str) -> None:
    """Show one version; with --prove, check it against the committed app hash."""
    model_id, name = split_ref(ref)
    result = client.query("/models/version", {"model": model_id, "version": name}, prove=prove)
    data: dict[str, Any] = record(state_pb2.Version.FromString(result.value))
    if prove:
        verified = client.verified(result)
        data["proof"] = {"height": result.height, "verified": verified}
        if not verified:
            emit(output, data)
            raise click.ClickException("the proof does not verify against the app hash")
    emit(output, data)


@query.command("versions")
@click.argument("model_id", metavar="MODEL")
@click.option("--after", default="", help="the 'next' cursor of the previous page")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@reads
def versions(model_id: str, after: str, limit: int, client: Node, output: str) -> None:
    """List a model's versions in publication order."""
    items, nxt = client.page(
        "/models/versions", {"model": model_id, "after": after, "limit": limit}, state_pb2.Version
    )
    data = {"versions": [record(v) for v in items], "next": nxt}
    columns = ["version", "status", "weights_digest", "height", "parents"]
    emit(output, data, lambda d: _with_next(table(d["versions"], columns), d["next"]))


@query.command("models")
@click.option("--owner", default="", help="only the models this organisation owns")
@click.option("--after", default="", help="the 'next' cursor of the previous page")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@reads
def models(owner: str, after: str, limit: int, client: Node, output: str) -> None:
    """List models, of one owner or all, in id order."""
    items, nxt = client.page(
        "/models/models", {"owner": owner, "after": after, "limit": limit}, state_pb2.Model
    )
    data = {"models": [record(m) for m in items], "next": nxt}
    columns = ["id", "owner_org", "version_count", "description"]
    emit(output, data, lambda d: _with_next(table(d["models"], columns), d["next"]))


@query.command("lineage")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--depth", default=16, show_default=True, type=click.IntRange(1, 64))
@reads
def lineage(ref: str, depth: int, client: Node, output: str) -> None:
    """Show what a version derives from and what derives from it."""
    model_id, name = split_ref(ref)
    params = {"model": model_id, "version": name, "depth": depth}
    found = state_pb2.Lineage.FromString(client.query("/models/lineage", params).value)
    emit(output, {"version": ref, **record(found)})


@query.command("account")
@click.argument("address")
@reads
def account(address: str, client: Node, output: str) -> None:
    """Show an account: its organisation, roles and next nonce."""
    emit(output, record(client.account(address)))


@query.command("orgs")
@reads
def orgs(client: Node, output: str) -> None:
    """List the consortium's organisations."""
    items, _ = client.page("/members/orgs", {"limit": 200}, state_pb2.Org)
    data = {"orgs": [record(o) for o in items]}
    emit(output, data, lambda d: table(d["orgs"], ["id", "kind", "name"]))


def _with_next(text: str, nxt: str) -> str:
    return f"{text}\nmore: --after {nxt}" if nxt else text


@query.command("license")
@click.argument("license_id", metavar="LICENSE")
@click.option("--source", is_flag=True, help="print only the script's source")
@reads
def license_(license_id: str, source: bool, client: Node, output: str) -> None:
    """Show a deployed license: author, code hash, parameters, source."""
    found = client.record("/licenses/license", {"id": license_id}, state_pb2.License)
    if source:
        click.echo(found.source, nl=False)
        return
    data = record(found)
    data["params"] = to_data(found.params)
    emit(output, data)


@query.command("attachment")
@click.argument("ref", metavar="MODEL@VERSION")
@reads
def attachment(ref: str, client: Node, output: str) -> None:
    """Show which license governs a version and every earlier attachment."""
    model_id, version = split_ref(ref)
    items, _ = client.page(
        "/licenses/history",
        {"model": model_id, "version": version, "limit": 200},
        state_pb2.Attachment,
    )
    data = {"version": ref, "history": [record(a) for a in items]}
    emit(output, data, lambda d: table(d["history"], ["seq", "license", "code_hash", "height"]))


@query.command("receipts")
@click.option("--model", default="")
@click.option("--version", "version_", default="", help="with --model")
@click.option("--consumer", default="", help="consumer account address")
@click.option("--consumer-org", default="")
@click.option("--licensor", default="")
@click.option("--from-height", default=0, type=click.IntRange(0))
@click.option("--to-height", default=2**63, type=click.IntRange(0))
@click.option("--after", default=0, type=click.IntRange(0), help="the 'next' of the last page")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@reads
def receipts(
    model: str,
    version_: str,
    consumer: str,
    consumer_org: str,
    licensor: str,
    from_height: int,
    to_height: int,
    after: int,
    limit: int,
    client: Node,
    output: str,
) -> None:
    """List usage receipts, filtered, in the order they were written."""
    params = {
        "model": model,
        "version": version_,
        "consumer": consumer,
        "consumer_org": consumer_org,
        "licensor": licensor,
        "from_height": from_height,
        "to_height": to_height,
        "after": after,
        "limit": limit,
    }
    items, nxt = client.page("/usage/receipts", params, state_pb2.Receipt)
    data = {"receipts": [record(r) for r in items], "next": nxt}
    columns = ["id", "height", "model", "version", "consumer_org", "purpose", "quantity", "fee"]
    emit(output, data, lambda d: _with_next(table(d["receipts"], columns), d["next"]))


@query.command("totals")
@click.argument("licensor")
@reads
def totals(licensor: str, client: Node, output: str) -> None:
    """What a licensor has earned: receipts, quantity, fees."""
    found = state_pb2.LicensorTotals.FromString(
        client.query("/usage/totals", {"licensor": licensor}).value
    )
    emit(output, record(found))


@query.command("balance")
@click.argument("org", required=False, default="")
@reads
def balance(org: str, client: Node, output: str) -> None:
    """An organisation's credits, or every organisation's."""
    if org:
        found = state_pb2.Balance.FromString(client.query("/credits/balance", {"org": org}).value)
        emit(output, record(found))
        return
    items, _ = client.page("/credits/balances", {"limit": 200}, state_pb2.Balance)
    data = {"balances": [record(b) for b in items]}
    emit(output, data, lambda d: table(d["balances"], ["org", "amount"]))


@query.command("evaluate")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--address", required=True, help="the account that would use it")
@click.option("--purpose", required=True, type=click.Choice(PURPOSES))
@click.option("--quantity", default=1, show_default=True, type=click.IntRange(1, 2**32))
@reads
def evaluate(
    ref: str, address: str, purpose: str, quantity: int, client: Node, output: str
) -> None:
    """Ask the version's license what it would decide now (a dry run; nothing is paid)."""
    model_id, version = split_ref(ref)
    height, time = client.next_block()
    params = {
        "address": address,
        "model": model_id,
        "version": version,
        "purpose": purpose,
        "quantity": quantity,
        "height": height,
        "time": time,
    }
    found = state_pb2.Decision.FromString(client.query("/licenses/evaluate", params).value)
    emit(
        output,
        record(found),
        lambda d: (
            (f"allow, fee {d['fee']}: {d['note']}" if d["allowed"] else f"deny: {d['reason']}")
            + f"  ({d['license']})"
        ),
    )


@query.command("providers")
@click.argument("digest")
@reads
def providers(digest: str, client: Node, output: str) -> None:
    """The weights stores announced for a digest, and the versions that reference it."""
    stores, _ = client.page(
        "/models/providers", {"digest": digest, "limit": 200}, state_pb2.Provider
    )
    versions, _ = client.page(
        "/models/by_digest", {"digest": digest, "limit": 200}, state_pb2.Version
    )
    data = {
        "digest": digest,
        "providers": [record(p) for p in stores],
        "versions": [f"{v.model}@{v.version}" for v in versions],
    }
    emit(
        output,
        data,
        lambda d: (
            table(d["providers"], ["url", "org", "height"])
            + "\nversions: "
            + (", ".join(d["versions"]) or "none")
        ),
    )
