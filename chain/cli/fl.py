"""``modelgov fl``: recompute a federated round's aggregate off-chain and check it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from app.pb.modelgov.v1 import federated_pb2
from chain.cli.options import sender_options, signer
from chain.cli.output import OUTPUT_CHOICE, emit
from chain.client import Node
from chain.rpc import DEFAULT_NODE


@click.group()
def fl() -> None:
    """Federated learning: aggregate a round's updates, verify a finalized aggregate."""


def _round(node: Node, round_id: int) -> federated_pb2.Round:
    return node.record("/federated/round", {"id": round_id}, federated_pb2.Round)


def _aggregate(node: str, keyring: Path | None, from_: str, round_id: int, to: Path) -> Any:
    # torch takes seconds to import: only the commands that aggregate weights load it
    from chain.weights.fedavg import pull_updates, write_aggregate

    client = Node(node)
    record = _round(client, round_id)
    with tempfile.TemporaryDirectory(prefix="modelgov-fl-") as work:
        updates = pull_updates(client, signer(keyring, from_), record, Path(work))
        digest = write_aggregate(updates, to)
    return record, digest, [u.org for u in updates]


@fl.command("aggregate")
@click.argument("round_id", type=int)
@click.option("--to", type=click.Path(path_type=Path), required=True, help="safetensors file")
@click.option("--node", default=DEFAULT_NODE, show_default=True, help="RPC address of a node")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
@sender_options
def aggregate(
    round_id: int, to: Path, node: str, output: str, from_: str, keyring: Path | None
) -> None:
    """Pull the round's updates (the included ones once finalized), FedAvg, print the digest."""
    _, digest, orgs = _aggregate(node, keyring, from_, round_id, to)
    data = {"round": round_id, "path": str(to), "digest": digest, "orgs": orgs}
    emit(output, data, lambda d: f"{d['path']}: {d['digest']} ({', '.join(d['orgs'])})")


@fl.command("verify")
@click.argument("round_id", type=int)
@click.option("--node", default=DEFAULT_NODE, show_default=True, help="RPC address of a node")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
@sender_options
def verify(round_id: int, node: str, output: str, from_: str, keyring: Path | None) -> None:
    """Recompute a finalized round's aggregate; exit 1 when it differs from the ledger's."""
    with tempfile.TemporaryDirectory(prefix="modelgov-fl-") as work:
        target = Path(work) / "aggregate.safetensors"
        record, digest, _ = _aggregate(node, keyring, from_, round_id, target)
    if record.status != federated_pb2.ROUND_STATUS_FINALIZED:
        raise click.ClickException(f"round {round_id} is not finalized")
    same = digest == record.aggregate_digest
    data = {
        "round": round_id,
        "recomputed": digest,
        "finalized": record.aggregate_digest,
        "match": same,
    }
    emit(output, data, lambda d: "match" if d["match"] else f"MISMATCH: {d['recomputed']}")
    if not same:
        raise SystemExit(1)
