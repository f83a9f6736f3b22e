"""``modelgov weights`` and ``modelgov model``: hash, push, pull, load, announce, collect.

push and pull behave like a model hub's: push hashes the weights, stores them in your node,
publishes the version and announces the store; pull finds the version's stores on chain,
resumes, verifies, and tells you what to do when the license says no.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from app.pb.modelgov.v1 import state_pb2
from chain.cli.options import Send, reads, sender_options, signed, signer, split_ref
from chain.cli.output import OUTPUT_CHOICE, emit, record, table
from chain.client import Node
from chain.weights.claims import default_state_dir
from chain.weights.client import check_held, collect_garbage, pull, push
from chain.weights.digest import check_digest, hash_path
from chain.weights.store import BlobStore

EXISTING = click.Path(exists=True, path_type=Path)
STORE_PORT_OFFSET = 5  # weights B+6 beside RPC B+1 on the testnet scheme
PROVE_TRIES = 10  # a proof needs every key at the decision's height; blocks may move on


def default_store_url(node: str) -> str:
    """``$MODELGOV_STORE``, else the node's host at the RPC port + 5 (the testnet scheme)."""
    if os.environ.get("MODELGOV_STORE"):
        return os.environ["MODELGOV_STORE"]
    url = urlsplit(node)
    port = (url.port or 26657) + STORE_PORT_OFFSET
    return f"{url.scheme}://{url.hostname}:{port}"


@click.group()
def weights() -> None:
    """Weights digests and the node's blob store."""


@weights.command("hash")
@click.argument("path", type=EXISTING)
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def hash_(path: Path, output: str) -> None:
    """Print the weights digest of a file, or of a directory through its manifest."""
    hashed = hash_path(path, progress=True)
    data = {"digest": hashed.digest, "size": hashed.size, "files": len(hashed.entries) or 1}
    emit(output, data, lambda d: d["digest"])


@weights.command("gc")
@click.option("--store", "store_dir", required=True, type=click.Path(path_type=Path))
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
@click.option(
    "--store",
    "store_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="the local store that holds the blob",
)
@click.option("--url", "store_url", required=True, help="that store's public base URL")
@signed
def announce(digest: str, store_dir: Path, store_url: str, send: Send) -> None:
    """Announce on chain that a store serves DIGEST (only if it holds it intact)."""
    from app.pb.modelgov.v1 import tx_pb2

    check_digest(digest)
    check_held(BlobStore(store_dir), digest)
    send(tx_pb2.Msg(announce_provider=tx_pb2.AnnounceProvider(digest=digest, url=store_url)))


@weights.command("access")
@click.argument("digest")
@click.option("--address", required=True, help="the account asking (hex address)")
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


def _access_text(data: dict[str, Any]) -> str:
    verdict = "allowed" if data["allowed"] else "refused"
    text = f"{verdict} ({data['rule']}) at height {data['height']}: {data['reason']}"
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
    found = client.record("/models/holder", {"digest": digest}, state_pb2.DigestHolder)
    files = [record(f) for f in client.manifest_files(digest)]
    emit(output, {**record(found), "files": files})


@click.group()
def model() -> None:
    """Push, pull and load model weights."""


@model.command("push")
@click.argument("path", type=EXISTING)
@click.option("--model", "model_name", required=True, help="NAME (your org) or ORG/NAME")
@click.option("--version", "version_name", required=True)
@click.option("--license", "license_id", default="", help="ORG/NAME of a deployed license")
@click.option("--parent", "parents", multiple=True, help="MODEL@VERSION it derives from")
@click.option("--format", "fmt", default="", help="detected from the files when omitted")
@click.option(
    "--consent",
    "consents",
    multiple=True,
    type=click.IntRange(min=1),
    help="a redistribution receipt id of the holder of weights another org published first",
)
@click.option("--store-url", default="", help="your node's weights server (default: beside --node)")
@click.option("--node", default=lambda: os.environ.get("MODELGOV_NODE", "http://127.0.0.1:26657"))
@click.option("--chain-id", default="")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
@sender_options
def push_cmd(
    path: Path,
    model_name: str,
    version_name: str,
    license_id: str,
    parents: tuple[str, ...],
    fmt: str,
    consents: tuple[int, ...],
    store_url: str,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Hash PATH, store it in your node, publish the version, announce the store.

    A digest nobody holds yet is claimed first (one block) and the publication reveals the
    claim, so nobody who reads it in the mempool can publish the digest first; the claim's
    salt waits in $MODELGOV_HOME/claims until the version is published (run the same push
    again after an interruption)."""
    client = Node(node, chain_id)

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
        fmt,
        progress=True,
        consents=consents,
        state_dir=default_state_dir(),
        say=say,
    )
    emit(output, record(version))


@model.command("pull")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--to", "to", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--node", default=lambda: os.environ.get("MODELGOV_NODE", "http://127.0.0.1:26657"))
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
@sender_options
def pull_cmd(ref: str, to: Path, node: str, output: str, from_: str, keyring: Path | None) -> None:
    """Download a version's weights into --to, resuming and verifying them."""
    from tqdm import tqdm

    split_ref(ref)
    with tqdm(unit="B", unit_scale=True, desc=ref, leave=False) as bar:

        def advance(count: int) -> None:
            bar.update(count)

        report = pull(Node(node), signer(keyring, from_), ref, to, advance)
    data: dict[str, Any] = {
        "path": str(report.path),
        "digest": report.digest,
        "provider": report.provider,
        "verified": True,
        "failures": report.failures,
    }
    emit(
        output,
        data,
        lambda d: (
            f"{d['path']}: {d['digest']} verified (from {d['provider']})"
            + "".join(f"\n  skipped: {f}" for f in d["failures"])
        ),
    )


@model.command("load")
@click.argument("path", type=EXISTING)
@click.option("--digest", required=True, help="the digest the weights must have")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def load(path: Path, digest: str, output: str) -> None:
    """Verify and safely load weights; list their tensors."""
    from chain.weights.torch_io import load_state_dict

    state = load_state_dict(path, digest)
    rows = [{"tensor": k, "shape": list(v.shape), "dtype": str(v.dtype)} for k, v in state.items()]
    emit(
        output,
        {"digest": digest, "tensors": rows},
        lambda d: table(d["tensors"], ["tensor", "shape", "dtype"]),
    )
