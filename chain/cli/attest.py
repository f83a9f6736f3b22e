"""``modelgov tx attest`` and ``modelgov query attestations``: training, evaluation and
validation records about a version."""

from __future__ import annotations

import click

from app.attestations.validation import KINDS
from app.pb.modelgov.v1 import tx_pb2
from chain.cli.options import Send, list_options, parse_metric, reads, signed, split_ref
from chain.cli.output import emit_list, record
from chain.cli.root import query, tx
from chain.client import Node


@tx.command("attest")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--kind", required=True, type=click.Choice(KINDS))
@click.option("--dataset-digest", default="", help="sha256:<hex> of the data used")
@click.option("--metric", "metrics", multiple=True, help="NAME=VALUE, e.g. auroc=0.912 (repeat)")
@click.option("--artifact-digest", default="", help="sha256:<hex> of a log, report or checkpoint")
@click.option("--method", default="", help="how the run was done, in words")
@signed
def attest(
    ref: str,
    kind: str,
    dataset_digest: str,
    metrics: tuple[str, ...],
    artifact_digest: str,
    method: str,
    send: Send,
) -> None:
    """Record a training, evaluation or validation run about a version (auditor role)."""
    model, version = split_ref(ref)
    send(
        tx_pb2.Msg(
            attest=tx_pb2.Attest(
                model=model,
                version=version,
                kind=kind,
                dataset_digest=dataset_digest,
                metrics=[parse_metric(m) for m in metrics],
                artifact_digest=artifact_digest,
                method=method,
            )
        )
    )


@query.command("attestations")
@click.option("--version", "ref", default="", metavar="MODEL@VERSION")
@click.option("--org", default="", help="attestations an organisation made")
@list_options
@reads
def attestations(ref: str, org: str, after: str, limit: int, client: Node, output: str) -> None:
    """List attestations about a version, or made by an organisation."""
    if bool(ref) == bool(org):
        raise click.UsageError("give exactly one of --version MODEL@VERSION or --org ORG")
    if ref:
        listing = client.attestations_of_version(*split_ref(ref))
    else:
        listing = client.attestations_by_org(org)
    items, nxt = listing.take(limit, after)
    columns = ["id", "model", "version", "kind", "org", "height"]
    emit_list(output, "attestations", [record(a) for a in items], nxt, columns)
