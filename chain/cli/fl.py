"""``modelgov fl``, ``modelgov tx fl`` and the federated reads under ``modelgov query``.

``tx fl open|submit|finalize`` run a federated-learning round on chain; ``fl aggregate`` and
``fl verify`` recompute a round's aggregate off-chain from the updates; ``query round``,
``rounds`` and ``contributors`` read rounds and who shares an aggregate's fees.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from app.pb.modelgov.v1 import federated_pb2, tx_pb2
from chain.cli.options import (
    Claim,
    Send,
    absent,
    list_options,
    node_options,
    parse_metric,
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

# --- modelgov fl: the aggregate, off-chain ----------------------------------------------------


@cli.group()
def fl() -> None:
    """Federated learning: aggregate a round's updates, verify a finalized aggregate."""


def _aggregate(client: Node, keyring: Path | None, from_: str, round_id: int, to: Path) -> Any:
    # torch takes seconds to import: only the commands that aggregate weights load it
    from chain.weights.fedavg import pull_updates, write_aggregate

    found = client.round(round_id)
    with tempfile.TemporaryDirectory(prefix="modelgov-fl-") as work:
        updates = pull_updates(client, signer(keyring, from_), found, Path(work))
        digest = write_aggregate(updates, to)
    return found, digest, [u.org for u in updates]


@fl.command("aggregate")
@click.argument("round_id", type=int)
@click.option("--to", type=click.Path(path_type=Path), required=True, help="safetensors file")
@node_options
@sender_options
def aggregate(
    round_id: int,
    to: Path,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Pull the round's updates (the included ones once finalized), FedAvg, print the digest."""
    _, digest, orgs = _aggregate(Node(node, chain_id), keyring, from_, round_id, to)
    data = {"round": round_id, "path": str(to), "digest": digest, "orgs": orgs}
    emit(output, data, lambda d: f"{d['path']}: {d['digest']} ({', '.join(d['orgs'])})")


@fl.command("verify")
@click.argument("round_id", type=int)
@node_options
@sender_options
def verify(
    round_id: int, node: str, chain_id: str, output: str, from_: str, keyring: Path | None
) -> None:
    """Recompute a finalized round's aggregate; exit 1 when it differs from the ledger's."""
    with tempfile.TemporaryDirectory(prefix="modelgov-fl-") as work:
        target = Path(work) / "aggregate.safetensors"
        found, digest, _ = _aggregate(Node(node, chain_id), keyring, from_, round_id, target)
    if found.status != federated_pb2.ROUND_STATUS_FINALIZED:
        raise click.ClickException(f"round {round_id} is not finalized")
    same = digest == found.aggregate_digest
    data = {
        "round": round_id,
        "recomputed": digest,
        "finalized": found.aggregate_digest,
        "match": same,
    }
    emit(output, data, lambda d: "match" if d["match"] else f"MISMATCH: {d['recomputed']}")
    if not same:
        raise SystemExit(1)


# --- modelgov tx fl: rounds on chain ----------------------------------------------------------


@tx.group("fl")
def fl_tx() -> None:
    """Open, contribute to and finalize federated-learning rounds."""


@fl_tx.command("open")
@click.option("--base", required=True, metavar="MODEL@VERSION", help="the version all start from")
@click.option(
    "--target",
    required=True,
    metavar="MODEL@VERSION",
    help="the version the aggregate becomes (your org's model, not yet published)",
)
@click.option("--invite", "invited", multiple=True, required=True, help="an invited org (repeat)")
@click.option("--min-participants", required=True, type=click.IntRange(1))
@click.option("--deadline-height", required=True, type=click.IntRange(1))
@click.option(
    "--receipt",
    "receipts",
    multiple=True,
    type=click.IntRange(min=1),
    help="your receipt of a fine-tune use of another org's base (it licenses the target model)",
)
@click.option(
    "--receipt-terms/--any-terms",
    default=True,
    show_default=True,
    help="refuse the round if the base has another license attached now than the one the "
    "receipt was taken under (--any-terms: take the terms in force, whatever they are)",
)
@signed
def open_round(
    base: str,
    target: str,
    invited: tuple[str, ...],
    min_participants: int,
    deadline_height: int,
    receipts: tuple[int, ...],
    receipt_terms: bool,
    send: Send,
) -> None:
    """Open a round."""
    base_model, base_version = split_ref(base)
    target_model, target_version = split_ref(target)
    send(
        tx_pb2.Msg(
            open_round=tx_pb2.OpenRound(
                base_model=base_model,
                base_version=base_version,
                target_model=target_model,
                target_version=target_version,
                invited_orgs=list(invited),
                min_participants=min_participants,
                deadline_height=deadline_height,
                license_receipts=receipts,
                receipt_terms=receipt_terms,
            )
        )
    )


@fl_tx.command("submit")
@click.argument("round_id", type=click.IntRange(1))
@click.option("--digest", required=True, help="sha256:<hex> of the update's weights")
@click.option("--size", "size_bytes", required=True, type=click.IntRange(1))
@click.option("--samples", required=True, type=click.IntRange(1), help="training samples used")
@click.option("--metric", "metrics", multiple=True, help="NAME=VALUE (repeat)")
@signed_claiming
def submit(
    round_id: int,
    digest: str,
    size_bytes: int,
    samples: int,
    metrics: tuple[str, ...],
    send: Send,
    claim: Claim,
) -> None:
    """Submit your organisation's update to a round (its digest claimed first, as a publish)."""
    salt = claim(digest)
    send(
        tx_pb2.Msg(
            submit_update=tx_pb2.SubmitUpdate(
                round_id=round_id,
                update_digest=digest,
                size_bytes=size_bytes,
                sample_count=samples,
                metrics=[parse_metric(m) for m in metrics],
                claim_salt=salt,
            )
        )
    )


@fl_tx.command("finalize")
@click.argument("round_id", type=click.IntRange(1))
@click.option(
    "--digest", required=True, help="sha256:<hex> of the aggregate (modelgov fl aggregate)"
)
@click.option("--size", "size_bytes", required=True, type=click.IntRange(1))
@click.option(
    "--include",
    "included",
    multiple=True,
    required=True,
    help="an org whose update the aggregate averages (repeat)",
)
@signed_claiming
def finalize(
    round_id: int,
    digest: str,
    size_bytes: int,
    included: tuple[str, ...],
    send: Send,
    claim: Claim,
) -> None:
    """Publish the round's aggregate as its target version (its digest claimed first: a
    participant who reads the finalize in a mempool cannot take it)."""
    salt = claim(digest)
    send(
        tx_pb2.Msg(
            finalize_round=tx_pb2.FinalizeRound(
                round_id=round_id,
                aggregate_digest=digest,
                size_bytes=size_bytes,
                included=list(included),
                claim_salt=salt,
            )
        )
    )


# --- modelgov query: rounds -------------------------------------------------------------------


@query.command("round")
@click.argument("round_id", type=click.IntRange(1))
@reads
def round_(round_id: int, client: Node, output: str) -> None:
    """Show a federated round: its invitation, submissions and status."""
    emit(output, record(client.round(round_id)))


@query.command("rounds")
@list_options
@reads
def rounds(after: str, limit: int, client: Node, output: str) -> None:
    """List federated rounds in id order."""
    items, nxt = client.rounds().take(limit, after)
    columns = ["id", "status", "target_model", "target_version", "deadline_height"]
    emit_list(output, "rounds", [record(r) for r in items], nxt, columns)


@query.command("contributors")
@click.argument("ref", metavar="MODEL@VERSION")
@reads
def contributors(ref: str, client: Node, output: str) -> None:
    """Who shares the fees of an aggregate version, by their samples."""
    found = client.contributors(*split_ref(ref))
    if found is None:
        raise absent(f"contributors of {ref}")
    emit(output, {"version": ref, **record(found)})
