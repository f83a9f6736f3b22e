"""``modelgov weights`` and the reads about weights digests under ``modelgov query``.

``weights`` hashes weights, collects a store's garbage, announces a store on chain and asks
the ledger who may read or write which weights; ``query providers``, ``by-digest``,
``digests``, ``holder``, ``manifest``, ``claim`` and ``consent`` read what the chain records
about digests (``query holder`` is ``weights holder``).
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

import click

from app.pb.modelgov.v1 import tx_pb2
from chain.cli.model import default_store_url
from chain.cli.options import (
    ACCOUNT,
    Send,
    absent,
    keyring_option,
    list_options,
    node_option,
    reads,
    signed,
    signer,
)
from chain.cli.output import OUTPUT_CHOICE, emit, emit_list, record, table, with_next
from chain.cli.root import cli, query
from chain.client import Node
from chain.watch import WatchError, subscriptions
from chain.weights.client import check_held, collect_garbage
from chain.weights.digest import check_digest, hash_path
from chain.weights.follow import (
    Follow,
    Follower,
    add_follow,
    load_follows,
    load_status,
    remove_follow,
)
from chain.weights.store import BlobStore

EXISTING = click.Path(exists=True, path_type=Path)
PROVE_TRIES = 10  # a proof needs every key at the decision's height; blocks may move on


@cli.group()
def weights() -> None:
    """Weights digests and the node's blob store."""


STORE_DIR_ENV = "MODELGOV_STORE_DIR"
store_option = click.option(
    "--store",
    "store_dir",
    envvar=STORE_DIR_ENV,
    required=True,
    type=click.Path(path_type=Path),
    help=f"the node's weights store (a testnet node's is <testnet>/nodeN/weights; "
    f"default ${STORE_DIR_ENV})",
)
"""The store a command works on, given once per shell with the variable on the node."""


@weights.command("hash")
@click.argument("path", type=EXISTING)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def hash_(path: Path, output: str) -> None:
    """Print the weights digest of a file, or of a directory through its manifest."""
    hashed = hash_path(path, progress=True)
    data = {"digest": hashed.digest, "size": hashed.size, "files": len(hashed.entries) or 1}
    emit(output, data, lambda d: d["digest"])


@weights.command("gc")
@store_option
@click.option("--dry-run", is_flag=True, help="list what would go, delete nothing")
@reads
def gc(store_dir: Path, dry_run: bool, output: str, client: Node) -> None:
    """Delete blobs that no on-chain version and no recent upload references."""
    removed = collect_garbage(BlobStore(store_dir), client, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    emit(
        output,
        {"removed": removed, "dry_run": dry_run},
        lambda d: f"{verb} {len(d['removed'])} blobs" + "".join(f"\n  {x}" for x in d["removed"]),
    )


@weights.command("announce")
@click.argument("digest")
@store_option
@click.option("--url", "store_url", required=True, help="that store's public base URL")
@signed
def announce(digest: str, store_dir: Path, store_url: str, send: Send) -> None:
    """Announce on chain that a store serves DIGEST (only if it holds it intact)."""
    check_digest(digest)
    check_held(BlobStore(store_dir), digest)
    send(tx_pb2.Msg(announce_provider=tx_pb2.AnnounceProvider(digest=digest, url=store_url)))


@weights.command("access")
@click.argument("digest")
@click.option("--address", required=True, type=ACCOUNT, help="the account asking (address or key)")
@click.option("--path", "path", default="", help="one file of a directory")
@click.option("--prove", is_flag=True, help="verify the answer's keys against the app hash")
@reads
def access(digest: str, address: str, path: str, prove: bool, output: str, client: Node) -> None:
    """Ask the ledger whether ADDRESS may download DIGEST now, and why (exit 1 if not)."""
    check_digest(digest)
    for _ in range(PROVE_TRIES if prove else 1):
        decision, height = client.read_access(address, digest, path, client.next_block())
        proven = client.prove_keys(list(decision.keys), height) if prove else None
        if proven is not False:
            break
    data = {**record(decision), "height": height}
    if prove:
        data["proven"] = bool(proven)
    emit(output, data, _access_text)
    if not decision.allowed or proven is False:
        raise SystemExit(1)


@weights.command("write-access")
@click.argument("model_id", metavar="MODEL")
@click.option("--address", required=True, type=ACCOUNT, help="the account asking (address or key)")
@reads
def write_access(model_id: str, address: str, output: str, client: Node) -> None:
    """Ask the ledger whether ADDRESS may upload weights of MODEL to a store now (exit 1 if
    not)."""
    decision = client.write_access(address, model_id)
    emit(output, record(decision), _access_text)
    if not decision.allowed:
        raise SystemExit(1)


def _access_text(data: dict[str, Any]) -> str:
    verdict = "allowed" if data["allowed"] else "refused"
    at = f" at height {data['height']}" if "height" in data else ""
    text = f"{verdict} ({data['rule']}){at}: {data['reason']}"
    if data.get("hint"):
        text += f"\n  what to do: {data['hint']}"
    if "proven" in data:
        text += f"\n  {len(data['keys'])} keys {'proven' if data['proven'] else 'NOT proven'}"
    return text


@weights.command("holder")
@click.argument("digest")
@reads
def holder(digest: str, output: str, client: Node) -> None:
    """Which organisation holds DIGEST (published it first), and the directory's files if the
    chain knows them."""
    check_digest(digest)
    found = client.holder(digest)
    if found is None:
        raise absent(f"a holder of {digest}")
    files = [record(f) for f in client.files(digest)]
    emit(output, {**record(found), "files": files})


query.add_command(holder)


# --- modelgov query: what the chain records about digests -------------------------------------


@query.command("providers")
@click.argument("digest")
@list_options
@reads
def providers(digest: str, after: str, limit: int, client: Node, output: str) -> None:
    """The weights stores announced for a digest, and the versions that reference it."""
    stores, nxt = client.providers(digest).take(limit, after)
    versions, more = client.by_digest(digest).take(limit)
    data = {
        "digest": digest,
        "providers": [record(p) for p in stores],
        "next": nxt,
        "versions": [f"{v.model}@{v.version}" for v in versions],
        "versions_next": more,
    }
    emit(output, data, _providers_text)


def _providers_text(d: dict[str, Any]) -> str:
    text = with_next(table(d["providers"], ["url", "org", "height"]), d["next"])
    text += "\nversions: " + (", ".join(d["versions"]) or "none")
    if d["versions_next"]:
        cursor = shlex.quote(d["versions_next"])
        text += f"\nmore versions: modelgov query by-digest {d['digest']} --after {cursor}"
    return text


@query.command("by-digest")
@click.argument("digest")
@list_options
@reads
def by_digest(digest: str, after: str, limit: int, client: Node, output: str) -> None:
    """The versions whose weights have DIGEST, in ref order."""
    items, nxt = client.by_digest(digest).take(limit, after)
    columns = ["model", "version", "status", "height"]
    emit_list(output, "versions", [record(v) for v in items], nxt, columns, digest=digest)


@query.command("digests")
@list_options
@reads
def digests(after: str, limit: int, client: Node, output: str) -> None:
    """Every weights digest a published version references, once each."""
    items, nxt = client.digests().take(limit, after)
    data = {"digests": items, "next": nxt}
    emit(output, data, lambda d: with_next("\n".join(d["digests"]), d["next"]))


@query.command("manifest")
@click.argument("digest")
@list_options
@reads
def manifest(digest: str, after: str, limit: int, client: Node, output: str) -> None:
    """The directory DIGEST as the chain lists it: the version that listed it and its files."""
    found = client.manifest(digest)
    if found is None:
        raise absent(f"the files of {digest}")
    files, nxt = client.files(digest).take(limit, after)
    rows = [record(f) for f in files]
    emit_list(output, "files", rows, nxt, ["path", "size", "digest"], manifest=record(found))


@query.command("claim")
@click.argument("org")
@click.argument("commitment", metavar="COMMITMENT_HEX")
@reads
def claim(org: str, commitment: str, client: Node, output: str) -> None:
    """An organisation's digest claim by its commitment (64 hex digits)."""
    try:
        raw = bytes.fromhex(commitment)
    except ValueError:
        raise click.BadParameter("not hex", param_hint="COMMITMENT_HEX") from None
    found = client.claim(org, raw)
    if found is None:
        raise absent(f"a claim {commitment} of {org}")
    emit(output, record(found))


@query.command("consent")
@click.argument("digest")
@click.argument("org")
@reads
def consent(digest: str, org: str, client: Node, output: str) -> None:
    """The holder whose consent lets ORG name DIGEST in its versions (while it holds it)."""
    holder_org = client.consent(digest, org)
    if holder_org is None:
        raise absent(f"a consent for {org} to name {digest}")
    data = {"digest": digest, "org": org, "holder": holder_org}
    emit(output, data, lambda d: f"{d['org']} may name {d['digest']}: {d['holder']} consented")


# --- following models: replicas of every new version (chain.weights.follow) ------------------


@weights.command("follow")
@click.argument("model", metavar="ORG/NAME")
@store_option
@click.option("--from", "from_", required=True, help="the key that pays, reads and announces")
@click.option(
    "--url", "store_url", default="", help="this store's public URL (default: beside --node)"
)
@click.option(
    "--max-fee",
    default=0,
    type=click.IntRange(0, 2**63 - 1),
    help="most credits a download may cost",
)
@keyring_option
@node_option
def follow(
    model: str, store_dir: Path, from_: str, store_url: str, max_fee: int,
    keyring: Path | None, node: str,
) -> None:  # fmt: skip
    """Keep a replica of every new version of MODEL in this node's store (its weights server
    fetches, verifies, keeps and announces them while --from's organisation may hold them)."""
    try:
        subscriptions(model)
    except WatchError as exc:
        raise click.BadParameter(str(exc), param_hint="ORG/NAME") from None
    signer(keyring, from_)  # the key must exist now, not at the first pass
    ring = str(keyring.resolve()) if keyring else ""
    url = (store_url or default_store_url(node)).rstrip("/")
    entry = Follow(model=model, key=from_, url=url, max_fee=max_fee, keyring=ring)
    follows = add_follow(store_dir, entry)
    click.echo(f"{store_dir} follows {', '.join(f.model for f in follows)}")


@weights.command("unfollow")
@click.argument("model", metavar="ORG/NAME")
@store_option
def unfollow(model: str, store_dir: Path) -> None:
    """Stop replicating MODEL's new versions (what the store holds stays)."""
    if not remove_follow(store_dir, model):
        raise click.ClickException(f"{store_dir} does not follow {model}")
    click.echo(f"{store_dir} no longer follows {model}")


@weights.command("follows")
@store_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def follows(store_dir: Path, output: str) -> None:
    """What the store follows, and what became of each version: replicated, or why not."""
    found = [dataclasses.asdict(f) for f in load_follows(store_dir)]
    status = load_status(store_dir)
    rows = [{"ref": ref, **entry} for ref, entry in sorted(status.items())]
    data = {"follows": found, "versions": rows}
    text = (
        table(found, ["model", "key", "url", "max_fee"])
        + "\n"
        + table(rows, ["ref", "result", "reason"])
    )
    emit(output, data, lambda _: text)


@weights.command("replicate")
@store_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
@node_option
def replicate(store_dir: Path, output: str, node: str) -> None:
    """One pass over the followed models now (the weights server makes one every few
    seconds); prints each version's outcome."""
    outcomes = Follower(store_dir, node).once()
    rows = [dataclasses.asdict(o) for o in outcomes]
    emit(output, {"versions": rows}, lambda _: table(rows, ["ref", "result", "reason"]))
