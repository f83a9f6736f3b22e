"""Pushing a dataset's bytes: the same gated stores, blobs, claims and announcements as weights.

A dataset lives in the models' namespace, so a store accepts its upload from a publisher of its
owner (``/models/write_access``) and serves it to whoever the ledger lets read the digest
(``/models/read_access``: the owner, the holder, or a receipt of a download purpose, training
included); ``chain.weights.client.pull`` pulls a dataset version as it pulls weights.
"""

from __future__ import annotations

from pathlib import Path

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.client import Node
from chain.keys import Key
from chain.weights.claims import SaltFile, Say, claim_for_publish
from chain.weights.client import manifest_files, push_blobs
from chain.weights.digest import hash_path


def push_dataset(
    node: Node,
    key: Key,
    store_url: str,
    path: Path,
    dataset: str,
    version: str,
    fmt: str,
    license_id: str = "",
    state_dir: Path | None = None,
    say: Say | None = None,
) -> state_pb2.Version:
    """Hash PATH (a file or a directory), upload it to the caller's store, claim the digest if
    nobody holds it, publish the dataset version revealing the claim, announce the store; the
    published version record. The dataset must be registered (``tx dataset register``)."""
    hashed = hash_path(path)
    org = node.account(key.address).org
    dataset_id = dataset if "/" in dataset else f"{org}/{dataset}"
    push_blobs(key, store_url, hashed, path, dataset_id)
    saved = SaltFile(state_dir, node.chain_id, org, hashed.digest) if state_dir else None
    body = tx_pb2.PublishDataset(
        dataset=dataset_id,
        version=version,
        digest=hashed.digest,
        size_bytes=hashed.size,
        format=fmt,
        storage_uris=[f"{store_url.rstrip('/')}/v1/blobs/{hashed.digest}"],
        license=license_id,
        files=manifest_files(hashed.entries),
    )
    body.claim_salt = claim_for_publish(node, key, org, hashed.digest, saved, say)
    node.send(key, [tx_pb2.Msg(publish_dataset=body)])
    if saved is not None:
        saved.remove()
    announce = tx_pb2.AnnounceProvider(digest=hashed.digest, url=store_url.rstrip("/"))
    node.send(key, [tx_pb2.Msg(announce_provider=announce)])
    return node.version(dataset_id, version)
