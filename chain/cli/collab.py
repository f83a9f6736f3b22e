"""``modelgov tx attest``, ``modelgov tx fl open|submit|finalize``, ``modelgov query
attestations|round``: the records and rounds of collaborative training."""

from __future__ import annotations

from typing import Any

import click

from app.pb.modelgov.v1 import federated_pb2, tx_pb2
from chain.cli.options import Claim, Send, reads, signed, signed_claiming, split_ref
from chain.cli.output import emit, record, table
from chain.cli.tx import parse_metric
from chain.client import Node


@click.command("attest")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--kind", required=True, type=click.Choice(["training", "evaluation", "validation"]))
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


@click.group("fl")
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
@signed
def open_round(
    base: str,
    target: str,
    invited: tuple[str, ...],
    min_participants: int,
    deadline_height: int,
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


@click.command("attestations")
@click.option("--version", "ref", default="", metavar="MODEL@VERSION")
@click.option("--org", default="", help="attestations an organisation made")
@click.option("--after", default="")
@click.option("--limit", default=50, type=click.IntRange(1, 200))
@reads
def attestations(ref: str, org: str, after: str, limit: int, client: Node, output: str) -> None:
    """List attestations about a version, or made by an organisation."""
    if bool(ref) == bool(org):
        raise click.UsageError("give exactly one of --version MODEL@VERSION or --org ORG")
    params: dict[str, Any] = {"after": after, "limit": limit}
    if ref:
        model, version = split_ref(ref)
        path, params = "/attestations/by_version", {**params, "model": model, "version": version}
    else:
        path, params = "/attestations/by_org", {**params, "org": org}
    items, nxt = client.page(path, params, federated_pb2.Attestation)
    data = {"attestations": [record(a) for a in items], "next": nxt}
    emit(
        output,
        data,
        lambda d: table(d["attestations"], ["id", "model", "version", "kind", "org", "height"]),
    )


@click.command("round")
@click.argument("round_id", type=click.IntRange(1))
@reads
def round_(round_id: int, client: Node, output: str) -> None:
    """Show a federated round: its invitation, submissions and status."""
    emit(output, record(client.record("/federated/round", {"id": round_id}, federated_pb2.Round)))
