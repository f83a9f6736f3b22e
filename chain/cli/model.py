"""``modelgov model``, ``modelgov tx model`` and the registry's reads under ``modelgov query``.

``model push|pull|load`` move weights the way a model hub does: push hashes the weights, stores
them in your node, publishes the version and announces the store; pull finds the version's
stores on chain, resumes, verifies, and tells you what to do when the license says no.
``tx model`` registers models and publishes, deprecates or transfers them; ``query model``,
``version``, ``versions``, ``models`` and ``lineage`` read them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from app.models.validation import FORMATS
from app.pb.modelgov.v1 import tx_pb2
from chain.cli.options import (
    Claim,
    Send,
    keyring_option,
    list_options,
    node_options,
    parse_metric,
    reads,
    sender_options,
    signed,
    signed_claiming,
    signer,
    split_ref,
    version_of,
)
from chain.cli.output import emit, emit_list, record, table
from chain.cli.root import cli, query, tx
from chain.client import Node
from chain.plan import NodePorts
from chain.rpc import DEFAULT_NODE
from chain.weights.cache import cached, default_cache, download
from chain.weights.claims import default_state_dir
from chain.weights.client import pull, push

EXISTING = click.Path(exists=True, path_type=Path)
FORMAT = click.Choice(FORMATS)
STORE_ENV = "MODELGOV_STORE"


def default_store_url(node: str) -> str:
    """``$MODELGOV_STORE``, else the weights server beside the node's RPC on the testnet's
    port scheme (``chain.testnet.NodePorts``)."""
    if os.environ.get(STORE_ENV):
        return os.environ[STORE_ENV]
    scheme = NodePorts.of(0)
    url = urlsplit(node)
    port = (url.port or urlsplit(DEFAULT_NODE).port or scheme.rpc) + scheme.weights - scheme.rpc
    return f"{url.scheme}://{url.hostname}:{port}"


# --- modelgov model: weights in and out ---------------------------------------------------


@cli.group()
def model() -> None:
    """Push, pull and load model weights."""


@model.command("push")
@click.argument("path", type=EXISTING)
@click.option("--model", "model_name", required=True, help="NAME (your org) or ORG/NAME")
@click.option("--version", "version_name", required=True)
@click.option("--license", "license_id", default="", help="ORG/NAME of a deployed license")
@click.option("--parent", "parents", multiple=True, help="MODEL@VERSION it derives from")
@click.option("--metric", "metrics", multiple=True, help="NAME=VALUE, e.g. accuracy=0.913 (repeat)")
@click.option(
    "--card",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the model card (default: README.md of a pushed folder)",
)
@click.option("--description", default="", help="what this version is (and the model, if new)")
@click.option("--format", "fmt", type=FORMAT, default=None, help="detected when omitted")
@click.option(
    "--consent",
    "consents",
    multiple=True,
    type=click.IntRange(min=1),
    help="a redistribution receipt id of the holder of weights another org published first",
)
@click.option("--store-url", default="", help="your node's weights server (default: beside --node)")
@node_options
@sender_options
def push_cmd(
    path: Path,
    model_name: str,
    version_name: str,
    license_id: str,
    parents: tuple[str, ...],
    metrics: tuple[str, ...],
    card: Path | None,
    description: str,
    fmt: str | None,
    consents: tuple[int, ...],
    store_url: str,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Publish PATH as a complete version in one transaction.

    Everything the chain would refuse (names, version, metrics, parents, license) is checked
    before a byte is uploaded. A digest nobody holds yet is claimed first (one block) and the
    publication reveals the claim, so nobody who reads it in the mempool can publish the digest
    first; the claim's salt waits in $MODELGOV_HOME/claims until the version is published (run
    the same push again after an interruption). Then the weights go to your node's store, and
    one transaction registers the model if needed, publishes the version and announces the
    store. A version left without a license is warned about."""
    client = Node(node, chain_id)
    parsed = tuple(parse_metric(m) for m in metrics)

    def say(step: str) -> None:
        click.echo(step, err=True)

    version = push(
        client,
        signer(keyring, from_),
        store_url or default_store_url(node),
        path,
        model_name,
        version_name,
        license_id,
        parents,
        fmt or "",
        progress=True,
        consents=consents,
        state_dir=default_state_dir(),
        say=say,
        metrics=parsed,
        card=card,
        description=description,
    )
    emit(output, record(version))


@model.command("pull")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option(
    "--to",
    "to",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="download here (default: the cache, keyed by digest; the path is printed)",
)
@node_options
@sender_options
def pull_cmd(
    ref: str,
    to: Path | None,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Download a version's weights (VERSION may be an alias or latest), resuming and
    verifying them; a second pull of the same weights into the cache downloads nothing."""
    client = Node(node, chain_id)
    found = version_of(client, ref)
    warn_inactive(found)
    report = _pull_version(client, signer(keyring, from_), found, to)
    emit(
        output,
        report,
        lambda d: (
            f"{d['path']}: {d['ref']} {d['digest']} verified (from {d['provider'] or 'cache'})"
            + "".join(f"\n  skipped: {f}" for f in d["failures"])
        ),
    )


def warn_inactive(version: Any) -> None:
    """Say on stderr when a version is deprecated or revoked (and why)."""
    if version.status != tx_pb2.VERSION_STATUS_ACTIVE:
        state = record(version)["status"]
        click.echo(
            f"warning: {version.model}@{version.version} is {state}: {version.status_reason}",
            err=True,
        )


def _pull_version(client: Node, key: Any, version: Any, to: Path | None) -> dict[str, Any]:
    """Pull into ``to``, or through the cache; what the command reports."""
    from tqdm import tqdm

    ref = f"{version.model}@{version.version}"
    data: dict[str, Any] = {"ref": ref, "digest": version.weights_digest, "verified": True}
    hit = cached(default_cache(), version.weights_digest) if to is None else None
    if hit is not None:
        return {**data, "path": str(hit), "provider": "", "cached": True, "failures": []}
    total = version.size_bytes or None
    with tqdm(total=total, unit="B", unit_scale=True, desc=ref, leave=False) as bar:

        def advance(count: int) -> None:
            bar.update(count)

        if to is not None:
            report = pull(client, key, ref, to, advance)
            path, provider, failures = report.path, report.provider, report.failures
        else:
            path, provider = download(client, key, default_cache(), version, advance)
            failures = []
    return {**data, "path": str(path), "provider": provider, "cached": False, "failures": failures}


@model.command("load")
@click.argument("target", metavar="PATH|MODEL@VERSION")
@click.option("--digest", default="", help="the digest PATH must have (looked up for a version)")
@node_options
@click.option("--from", "from_", default="", help="key that may download (for MODEL@VERSION)")
@keyring_option
def load(
    target: str,
    digest: str,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Verify and safely load weights; list their tensors. PATH needs --digest; a version's
    digest comes from the chain and its weights from the cache (pulled first if need be)."""
    from chain.weights.torch_io import load_state_dict

    path = Path(target)
    if not path.exists():
        if "@" not in target:
            raise click.BadParameter(f"{target!r} is neither a path nor MODEL@VERSION")
        if not from_:
            raise click.UsageError("loading MODEL@VERSION downloads it: give --from KEY")
        client = Node(node, chain_id)
        found = version_of(client, target)
        warn_inactive(found)
        path = Path(_pull_version(client, signer(keyring, from_), found, None)["path"])
        digest = found.weights_digest
    elif not digest:
        raise click.UsageError("loading a PATH needs --digest (or name MODEL@VERSION)")
    state = load_state_dict(path, digest)
    rows = [{"tensor": k, "shape": list(v.shape), "dtype": str(v.dtype)} for k, v in state.items()]
    emit(
        output,
        {"digest": digest, "tensors": rows},
        lambda d: table(d["tensors"], ["tensor", "shape", "dtype"]),
    )


# --- modelgov tx model ----------------------------------------------------------------------


@tx.group("model")
def model_tx() -> None:
    """Register models, publish versions, deprecate or revoke them, transfer ownership."""


@model_tx.command("register")
@click.argument("name")
@click.option("--org", required=True, help="owner organisation (the sender's own)")
@click.option("--description", default="", help="what the model is for")
@click.option("--default-license", default="", help="ORG/NAME of a license new versions inherit")
@signed
def register(name: str, org: str, description: str, default_license: str, send: Send) -> None:
    """Register model NAME for ORG; its id becomes ORG/NAME."""
    registered = tx_pb2.RegisterModel(
        owner_org=org, name=name, description=description, default_license=default_license
    )
    send(tx_pb2.Msg(register_model=registered))


@model_tx.command("default-license")
@click.argument("model_id", metavar="MODEL")
@click.argument("license_id", metavar="LICENSE", default="")
@signed
def default_license(model_id: str, license_id: str, send: Send) -> None:
    """Set the license (ORG/NAME) MODEL's future versions inherit when published without one;
    without LICENSE, clear it. Published versions keep theirs."""
    msg = tx_pb2.SetDefaultLicense(model=model_id, license=license_id)
    send(tx_pb2.Msg(set_default_license=msg))


@model_tx.group("alias")
def alias() -> None:
    """Name a version (MODEL@NAME resolves to it) or remove the name."""


@alias.command("set")
@click.argument("ref", metavar="MODEL@VERSION")
@click.argument("name")
@signed
def alias_set(ref: str, name: str, send: Send) -> None:
    """Point the alias NAME of MODEL at VERSION (moving it if it pointed elsewhere)."""
    model_id, version = split_ref(ref)
    send(tx_pb2.Msg(set_alias=tx_pb2.SetAlias(model=model_id, alias=name, version=version)))


@alias.command("remove")
@click.argument("model_id", metavar="MODEL")
@click.argument("name")
@signed
def alias_remove(model_id: str, name: str, send: Send) -> None:
    """Remove the alias NAME of MODEL."""
    send(tx_pb2.Msg(set_alias=tx_pb2.SetAlias(model=model_id, alias=name)))


@model_tx.command("publish")
@click.argument("model_id", metavar="MODEL")
@click.argument("version")
@click.option("--digest", required=True, help="weights digest, sha256:<64 hex>")
@click.option("--size", "size_bytes", required=True, type=click.IntRange(min=1), help="bytes")
@click.option("--format", "fmt", required=True, type=FORMAT, help="the weights' file format")
@click.option("--framework", default="pytorch", show_default=True)
@click.option("--uri", "uris", multiple=True, help="where the weights can be fetched (repeat)")
@click.option("--parent", "parents", multiple=True, help="MODEL@VERSION it derives from (repeat)")
@click.option("--metric", "metrics", multiple=True, help="NAME=VALUE, e.g. accuracy=0.913 (repeat)")
@click.option("--dataset-digest", "datasets", multiple=True, help="sha256:<hex> (repeat)")
@click.option("--card-digest", default="", help="digest of the model card")
@click.option("--license", "license_id", default="", help="ORG/NAME of a deployed license")
@click.option(
    "--trained-on", "trained_on", multiple=True, help="ORG/NAME@VERSION of a dataset (repeat)"
)
@click.option(
    "--receipt",
    "receipts",
    multiple=True,
    type=click.IntRange(min=1),
    help="your receipt of a training (dataset) or fine-tune (parent) use of another org's input "
    "(a receipt licenses one derivative model)",
)
@click.option(
    "--receipt-terms/--any-terms",
    default=True,
    show_default=True,
    help="refuse the publication if an input licensed by --receipt has another license "
    "attached now than the one the receipt was taken under (--any-terms: take the terms in "
    "force, whatever they are)",
)
@signed_claiming
def publish(
    model_id: str,
    version: str,
    digest: str,
    size_bytes: int,
    fmt: str,
    framework: str,
    uris: tuple[str, ...],
    parents: tuple[str, ...],
    metrics: tuple[str, ...],
    datasets: tuple[str, ...],
    card_digest: str,
    license_id: str,
    trained_on: tuple[str, ...],
    receipts: tuple[int, ...],
    receipt_terms: bool,
    send: Send,
    claim: Claim,
) -> None:
    """Publish VERSION of MODEL: an immutable record of its weights and lineage. A digest no
    one holds yet is claimed first (one block), so it cannot be front-run. Another org's
    parent or dataset needs your receipt of its fine-tune or training use (--receipt)."""
    salt = claim(digest)
    msg = tx_pb2.Msg(
        publish_version=tx_pb2.PublishVersion(
            model=model_id,
            version=version,
            weights_digest=digest,
            size_bytes=size_bytes,
            format=fmt,
            framework=framework,
            storage_uris=uris,
            parents=parents,
            metrics=[parse_metric(m) for m in metrics],
            dataset_digests=datasets,
            model_card_digest=card_digest,
            claim_salt=salt,
            license=license_id,
            trained_on=trained_on,
            license_receipts=receipts,
            receipt_terms=receipt_terms,
        )
    )
    send(msg)


@model_tx.command("deprecate")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--reason", required=True, help="why users should move on (shown to them)")
@click.option("--revoke", is_flag=True, help="revoke instead: final, for broken or unsafe weights")
@signed
def deprecate(ref: str, reason: str, revoke: bool, send: Send) -> None:
    """Deprecate (or with --revoke, revoke) a published version."""
    model_id, version = split_ref(ref)
    status = tx_pb2.VERSION_STATUS_REVOKED if revoke else tx_pb2.VERSION_STATUS_DEPRECATED
    msg = tx_pb2.Msg(
        set_version_status=tx_pb2.SetVersionStatus(
            model=model_id, version=version, status=status, reason=reason
        )
    )
    send(msg)


@model_tx.command("transfer")
@click.argument("model_id", metavar="MODEL")
@click.option("--to", "new_owner", required=True, help="the organisation that will own it")
@signed
def transfer(model_id: str, new_owner: str, send: Send) -> None:
    """Transfer MODEL to another organisation (needs the admin role)."""
    msg = tx_pb2.Msg(transfer_model=tx_pb2.TransferModel(model=model_id, new_owner_org=new_owner))
    send(msg)


# --- modelgov query: models and versions ------------------------------------------------------


@query.command("model")
@click.argument("model_id", metavar="MODEL")
@reads
def model_(model_id: str, client: Node, output: str) -> None:
    """Show one model."""
    emit(output, record(client.model(model_id)))


@query.command("models")
@click.option("--owner", default="", help="only the models this organisation owns")
@list_options
@reads
def models(owner: str, after: str, limit: int, client: Node, output: str) -> None:
    """List models, of one owner or all, in id order."""
    items, nxt = client.models(owner).take(limit, after)
    columns = ["id", "owner_org", "version_count", "description"]
    emit_list(output, "models", [record(m) for m in items], nxt, columns)


@query.command("version")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--prove", is_flag=True, help="verify a Merkle proof against the block's app hash")
@reads
def version(ref: str, prove: bool, client: Node, output: str) -> None:
    """Show one version (MODEL@VERSION, MODEL@ALIAS or MODEL@latest); with --prove, check it
    against the committed app hash."""
    if not prove:
        emit(output, record(version_of(client, ref)))
        return
    found = version_of(client, ref)
    proven = client.proven_version(found.model, found.version)
    data: dict[str, Any] = record(proven.record)
    data["proof"] = {"height": proven.height, "verified": proven.verified}
    emit(output, data)
    if not proven.verified:
        raise click.ClickException("the proof does not verify against the app hash")


@query.command("versions")
@click.argument("model_id", metavar="MODEL")
@list_options
@reads
def versions(model_id: str, after: str, limit: int, client: Node, output: str) -> None:
    """List a model's versions in publication order."""
    items, nxt = client.versions(model_id).take(limit, after)
    columns = ["version", "status", "weights_digest", "height", "parents"]
    emit_list(output, "versions", [record(v) for v in items], nxt, columns)


@query.command("lineage")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--depth", default=16, show_default=True, type=click.IntRange(1, 64))
@reads
def lineage(ref: str, depth: int, client: Node, output: str) -> None:
    """Show what a version derives from and what derives from it."""
    model_id, name = split_ref(ref)
    emit(output, {"version": ref, **record(client.lineage(model_id, name, depth))})


@query.command("aliases")
@click.argument("model_id", metavar="MODEL")
@list_options
@reads
def aliases(model_id: str, after: str, limit: int, client: Node, output: str) -> None:
    """List a model's aliases (MODEL@NAME) and the versions they name."""
    items, nxt = client.aliases(model_id).take(limit, after)
    columns = ["alias", "version", "height", "set_by"]
    emit_list(output, "aliases", [record(a) for a in items], nxt, columns)
