"""``modelgov query``: read the registry and the consortium from a node."""

from __future__ import annotations

from typing import Any

import click

from app.pb.modelgov.v1 import state_pb2
from chain.cli.options import node_at, node_options
from chain.cli.output import emit, record, table


@click.group()
def query() -> None:
    """Read committed state (records are protobuf-decoded; JSON output is stable)."""


def _split(ref: str) -> tuple[str, str]:
    model_id, _, version = ref.rpartition("@")
    if not model_id or not version:
        raise click.BadParameter(f"{ref!r} is not MODEL@VERSION", param_hint="MODEL@VERSION")
    return model_id, version


@query.command("model")
@click.argument("model_id", metavar="MODEL")
@node_options
def model(model_id: str, node: str, chain_id: str, output: str) -> None:
    """Show one model."""
    found = node_at(node, chain_id).record("/models/model", {"id": model_id}, state_pb2.Model)
    emit(output, record(found))


@query.command("version")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--prove", is_flag=True, help="verify a Merkle proof against the block's app hash")
@node_options
def version(ref: str, prove: bool, node: str, chain_id: str, output: str) -> None:
    """Show one version; with --prove, check it against the committed app hash."""
    model_id, name = _split(ref)
    client = node_at(node, chain_id)
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
@node_options
def versions(model_id: str, after: str, limit: int, node: str, chain_id: str, output: str) -> None:
    """List a model's versions in publication order."""
    items, nxt = node_at(node, chain_id).page(
        "/models/versions", {"model": model_id, "after": after, "limit": limit}, state_pb2.Version
    )
    data = {"versions": [record(v) for v in items], "next": nxt}
    columns = ["version", "status", "weights_digest", "height", "parents"]
    emit(output, data, lambda d: _with_next(table(d["versions"], columns), d["next"]))


@query.command("models")
@click.option("--owner", default="", help="only the models this organisation owns")
@click.option("--after", default="", help="the 'next' cursor of the previous page")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@node_options
def models(owner: str, after: str, limit: int, node: str, chain_id: str, output: str) -> None:
    """List models, of one owner or all, in id order."""
    items, nxt = node_at(node, chain_id).page(
        "/models/models", {"owner": owner, "after": after, "limit": limit}, state_pb2.Model
    )
    data = {"models": [record(m) for m in items], "next": nxt}
    columns = ["id", "owner_org", "version_count", "description"]
    emit(output, data, lambda d: _with_next(table(d["models"], columns), d["next"]))


@query.command("lineage")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--depth", default=16, show_default=True, type=click.IntRange(1, 64))
@node_options
def lineage(ref: str, depth: int, node: str, chain_id: str, output: str) -> None:
    """Show what a version derives from and what derives from it."""
    model_id, name = _split(ref)
    params = {"model": model_id, "version": name, "depth": depth}
    found = state_pb2.Lineage.FromString(
        node_at(node, chain_id).query("/models/lineage", params).value
    )
    emit(output, {"version": ref, **record(found)})


@query.command("account")
@click.argument("address")
@node_options
def account(address: str, node: str, chain_id: str, output: str) -> None:
    """Show an account: its organisation, roles and next nonce."""
    emit(output, record(node_at(node, chain_id).account(address)))


@query.command("orgs")
@node_options
def orgs(node: str, chain_id: str, output: str) -> None:
    """List the consortium's organisations."""
    items, _ = node_at(node, chain_id).page("/members/orgs", {"limit": 200}, state_pb2.Org)
    data = {"orgs": [record(o) for o in items]}
    emit(output, data, lambda d: table(d["orgs"], ["id", "kind", "name"]))


def _with_next(text: str, nxt: str) -> str:
    return f"{text}\nmore: --after {nxt}" if nxt else text
