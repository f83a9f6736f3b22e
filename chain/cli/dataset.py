"""``modelgov tx dataset`` and the datasets' reads under ``modelgov query``.

A dataset lives in the models' namespace (``ORG/NAME``): it is licensed, used, pushed and
pulled like a model (``tx license attach``, ``tx use ... --purpose training``, ``query
receipts``, ``query versions``, ``model pull``), and a model version names what it was trained
on with ``tx model publish --trained-on ORG/NAME@VERSION``.
"""

from __future__ import annotations

from pathlib import Path

import click

from app.pb.modelgov.v1 import tx_pb2
from chain.cli.model import default_store_url
from chain.cli.options import (
    Claim,
    Send,
    list_options,
    node_options,
    reads,
    sender_options,
    signed,
    signed_claiming,
    signer,
    split_ref,
)
from chain.cli.output import emit, emit_list, record
from chain.cli.root import cli, query, tx
from chain.client import Node
from chain.weights.claims import default_state_dir
from chain.weights.client import pull
from chain.weights.datasets import push_dataset


@cli.group("dataset")
def dataset_group() -> None:
    """Push and pull datasets' bytes through the gated stores."""


@dataset_group.command("push")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", "dataset_id", required=True, help="NAME (your org) or ORG/NAME")
@click.option("--version", "version_name", required=True)
@click.option("--format", "fmt", required=True, help="csv, jsonl, parquet, arrow, ...")
@click.option("--license", "license_id", default="", help="ORG/NAME of a deployed license")
@click.option("--store-url", default="", help="your node's weights server (default: beside --node)")
@node_options
@sender_options
def push_cmd(
    path: Path,
    dataset_id: str,
    version_name: str,
    fmt: str,
    license_id: str,
    store_url: str,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Hash PATH, store it in your node, publish the dataset version, announce the store."""
    version = push_dataset(
        Node(node, chain_id),
        signer(keyring, from_),
        store_url or default_store_url(node),
        path,
        dataset_id,
        version_name,
        fmt,
        license_id,
        state_dir=default_state_dir(),
        say=lambda step: click.echo(step, err=True),
    )
    emit(output, record(version))


@dataset_group.command("pull")
@click.argument("ref", metavar="ORG/NAME@VERSION")
@click.option("--to", "to", required=True, type=click.Path(file_okay=False, path_type=Path))
@node_options
@sender_options
def pull_cmd(
    ref: str, to: Path, node: str, chain_id: str, output: str, from_: str, keyring: Path | None
) -> None:
    """Download a dataset version into --to, verified against its digest (the owner, or a
    receipt of a download purpose such as training, lets you)."""
    split_ref(ref)
    report = pull(Node(node, chain_id), signer(keyring, from_), ref, to)
    data = {"path": str(report.path), "digest": report.digest, "provider": report.provider}
    emit(output, data, lambda d: f"{d['path']}: {d['digest']} verified (from {d['provider']})")


@tx.group("dataset")
def dataset_tx() -> None:
    """Register datasets and publish their versions."""


@dataset_tx.command("register")
@click.argument("name")
@click.option("--org", required=True, help="owner organisation (the sender's own)")
@click.option("--description", default="", help="what the dataset holds")
@signed
def register(name: str, org: str, description: str, send: Send) -> None:
    """Register dataset NAME for ORG; its id becomes ORG/NAME (no model may have it)."""
    msg = tx_pb2.RegisterDataset(owner_org=org, name=name, description=description)
    send(tx_pb2.Msg(register_dataset=msg))


@dataset_tx.command("publish")
@click.argument("dataset_id", metavar="ORG/NAME")
@click.argument("version")
@click.option("--digest", required=True, help="the data's digest, sha256:<64 hex>")
@click.option("--size", "size_bytes", required=True, type=click.IntRange(min=1), help="bytes")
@click.option("--format", "fmt", required=True, help="csv, jsonl, parquet, arrow, ...")
@click.option("--uri", "uris", multiple=True, help="where the data can be fetched (repeat)")
@click.option("--card-digest", default="", help="digest of the dataset card")
@click.option("--license", "license_id", default="", help="ORG/NAME of a deployed license")
@signed_claiming
def publish(
    dataset_id: str,
    version: str,
    digest: str,
    size_bytes: int,
    fmt: str,
    uris: tuple[str, ...],
    card_digest: str,
    license_id: str,
    send: Send,
    claim: Claim,
) -> None:
    """Publish VERSION of a dataset: an immutable record of its bytes, held and served like
    weights. A digest no one holds yet is claimed first (one block)."""
    salt = claim(digest)
    msg = tx_pb2.PublishDataset(
        dataset=dataset_id,
        version=version,
        digest=digest,
        size_bytes=size_bytes,
        format=fmt,
        storage_uris=uris,
        card_digest=card_digest,
        license=license_id,
        claim_salt=salt,
    )
    send(tx_pb2.Msg(publish_dataset=msg))


@query.command("datasets")
@list_options
@reads
def datasets(after: str, limit: int, client: Node, output: str) -> None:
    """List datasets in id order."""
    items, nxt = client.datasets().take(limit, after)
    columns = ["id", "owner_org", "version_count", "description"]
    emit_list(output, "datasets", [record(d) for d in items], nxt, columns)


@query.command("dataset")
@click.argument("dataset_id", metavar="ORG/NAME")
@reads
def dataset(dataset_id: str, client: Node, output: str) -> None:
    """Show one dataset."""
    emit(output, record(client.dataset(dataset_id)))


@query.command("trained")
@click.argument("ref", metavar="ORG/NAME@VERSION")
@list_options
@reads
def trained(ref: str, after: str, limit: int, client: Node, output: str) -> None:
    """List the model versions trained on a dataset version."""
    dataset_id, name = split_ref(ref)
    items, nxt = client.trained(dataset_id, name).take(limit, after)
    emit_list(output, "trained", [{"ref": r} for r in items], nxt, ["ref"])
