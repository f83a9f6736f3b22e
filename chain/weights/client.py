"""Push and pull: the client side of the weights stores, with resumable, verified downloads.

A download goes to ``<target>.part`` and resumes from its size with a Range request; the bytes
are verified against the digest before they take the target's name, and a mismatch is deleted
and blamed on the provider that sent it.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import requests

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.client import ClientError, Node, TxOutcome
from chain.keys import Key
from chain.weights.auth import authorization
from chain.weights.claims import ClaimNode, SaltFile, Say, claim_for_publish
from chain.weights.digest import (
    MANIFEST_HEADER,
    Hashed,
    ManifestEntry,
    WeightsError,
    check_digest,
    hash_path,
)
from chain.weights.store import MAX_MANIFEST_BYTES, BlobStore

CHUNK = 1024 * 1024
EXTENSIONS = {"safetensors": ".safetensors", "pytorch": ".pt", "onnx": ".onnx", "gguf": ".gguf"}
PENDING_GRACE_SECONDS = 24 * 3600
MAX_FILES = 4096
TX_OVERHEAD = 512
CLAIM_SALT_BYTES = 34
"""What the claim's salt (32 bytes and its field header) adds to the publication."""
RETRY_AFTER_403_SECONDS = 1.5
STALL_CHUNK = 64 * 1024
STALL_SECONDS = 60.0
"""A download that moves no STALL_CHUNK in STALL_SECONDS (about 1 KiB/s) is given up."""


class TransferError(Exception):
    """A push or pull failed; the message says which provider and why, and what to do."""


@dataclass
class PullReport:
    """What a pull did: where the weights are and which providers failed on the way."""

    path: Path
    digest: str
    provider: str = ""
    failures: list[str] = field(default_factory=list)


def signed_get(
    key: Key, url: str, path: str, headers: dict[str, str] | None = None, stream: bool = False
) -> requests.Response:
    """GET ``url + path`` signed with ``key`` for the store at ``url``."""
    signed = authorization(key.private_key, "GET", path, url)
    all_headers = {"Authorization": signed, **(headers or {})}
    return requests.get(  # a store never redirects: a provider must not send us elsewhere
        url.rstrip("/") + path,
        headers=all_headers,
        stream=stream,
        timeout=30,
        allow_redirects=False,
    )


def may_upload(key: Key, store_url: str, digest: str, size: int, model: str) -> bool:
    """Ask the store before sending a body: True if it holds the blob already; raises
    TransferError with its reason (403, 413, 507...) when it would refuse the upload."""
    query = urlencode({"model": model, "size": size})
    try:
        reply = signed_get(key, store_url, f"/v1/uploads/{digest}?{query}")
    except requests.RequestException as exc:
        raise TransferError(f"cannot reach the store at {store_url}: {exc}") from None
    if reply.status_code != 200:
        raise TransferError(f"{store_url} refused the upload: {_reason(reply)}")
    return bool(reply.json().get("held"))


def upload(key: Key, store_url: str, digest: str, source: Path | bytes, model: str) -> None:
    """PUT a blob to a store (unless it holds it already); raises TransferError with the
    store's reason."""
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    if may_upload(key, store_url, digest, size, model):
        return
    path = f"/v1/blobs/{digest}?{urlencode({'model': model})}"
    headers = {"Authorization": authorization(key.private_key, "PUT", path, store_url)}
    try:
        if isinstance(source, bytes):
            reply = requests.put(
                store_url.rstrip("/") + path, data=source, headers=headers, timeout=600
            )
        else:
            with source.open("rb") as body:
                headers["Content-Length"] = str(source.stat().st_size)
                reply = requests.put(
                    store_url.rstrip("/") + path, data=body, headers=headers, timeout=600
                )
    except requests.RequestException as exc:
        raise TransferError(f"cannot reach the store at {store_url}: {exc}") from None
    if reply.status_code not in (200, 201):
        raise TransferError(f"{store_url} refused the upload: {_reason(reply)}")


def _reason(reply: requests.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return f"HTTP {reply.status_code}"
    hint = f" ({body['hint']})" if body.get("hint") else ""
    return f"HTTP {reply.status_code}: {body.get('reason', '')}{hint}"


def push_blobs(key: Key, store_url: str, hashed: Hashed, source: Path, model: str) -> None:
    """Upload a file, or a directory's files and then its manifest."""
    if hashed.manifest is None:
        upload(key, store_url, hashed.digest, source, model)
        return
    for entry in hashed.entries:
        upload(key, store_url, "sha256:" + entry.sha256, source / entry.path, model)
    upload(key, store_url, hashed.digest, hashed.manifest, model)


def manifest_files(
    entries: tuple[ManifestEntry, ...] | list[ManifestEntry],
) -> list[tx_pb2.ManifestFile]:
    """A directory's files as a PublishVersion lists them, in manifest order."""
    return [
        tx_pb2.ManifestFile(path=e.path, size=e.size, digest="sha256:" + e.sha256) for e in entries
    ]


def publish_msg(
    model: str,
    version: str,
    hashed: Hashed,
    fmt: str,
    store_url: str,
    license_id: str,
    parents: tuple[str, ...],
    consents: tuple[int, ...] = (),
) -> tx_pb2.Msg:
    """The PublishVersion of pushed weights, pointing at the store that now holds them; a
    directory lists its files so the chain knows what its digest covers."""
    return tx_pb2.Msg(
        publish_version=tx_pb2.PublishVersion(
            model=model,
            version=version,
            weights_digest=hashed.digest,
            size_bytes=hashed.size,
            format=fmt,
            framework="pytorch",
            storage_uris=[f"{store_url.rstrip('/')}/v1/blobs/{hashed.digest}"],
            parents=parents,
            license=license_id,
            files=manifest_files(hashed.entries),
            consent_receipts=consents,
        )
    )


def sources(node: Node, version: state_pb2.Version) -> list[str]:
    """Store base URLs to try: the version's storage URIs, then announced providers."""
    urls = []
    for uri in version.storage_uris:
        if uri.startswith(("http://", "https://")) and "/v1/blobs/" in uri:
            urls.append(uri.split("/v1/blobs/")[0])
    urls.extend(p.url for p in node.providers(version.weights_digest))
    return list(dict.fromkeys(urls))


def download(
    key: Key,
    urls: list[str],
    blob_path: str,
    sha256_hex: str,
    target: Path,
    progress: Callable[[int], None] | None,
    failures: list[str],
    size: int,
) -> str:
    """Fetch one blob of ``size`` bytes (as the chain declares it) from the first provider
    that serves it right; returns that provider.

    Any member can announce a provider for any digest, so no provider's answer is final: a
    refusal (403) from one moves on to the next, and one that sends more than ``size`` bytes
    is cut off there, so a hostile provider can neither stop a pull nor fill the disk."""
    part = target.with_name(target.name + ".part")
    for url in urls:
        try:
            resumed = _fetch_or_retry(key, url, blob_path, part, progress, size)
            if resumed and _sha256(part) != sha256_hex:
                # the part's start may be another provider's (one that broke off on purpose):
                # this provider's bytes are judged whole, not appended to those
                part.unlink()
                _fetch_or_retry(key, url, blob_path, part, progress, size)
        except TransferError as exc:
            failures.append(str(exc))
            continue
        got = _sha256(part)
        if got == sha256_hex:
            part.replace(target)
            return url
        part.unlink()
        failures.append(
            f"{url} sent bytes hashing to sha256:{got}, not sha256:{sha256_hex}; discarded"
        )
    raise TransferError("no provider served verified bytes:\n  " + "\n  ".join(failures))


def _fetch_or_retry(
    key: Key, url: str, path: str, part: Path, progress: Callable[[int], None] | None, size: int
) -> bool:
    """Fetch; after a 403, once more a block later: a store decides on its own node's state,
    which may not have the block with a receipt just obtained through another node yet (the
    wait is the client's; the store never waits). True when the part was resumed."""
    try:
        return _fetch(key, url, path, part, progress, size)
    except TransferError as exc:
        if "HTTP 403" not in str(exc):
            raise
        time.sleep(RETRY_AFTER_403_SECONDS)
        return _fetch(key, url, path, part, progress, size)


def _fetch(
    key: Key, url: str, path: str, part: Path, progress: Callable[[int], None] | None, size: int
) -> bool:
    """Fetch into ``part``, resuming it; True when this appended to bytes already there.
    Raises TransferError for a refusal, a body that breaks off, one that moves no STALL_CHUNK
    in STALL_SECONDS, or more bytes than ``size``."""
    have = part.stat().st_size if part.exists() else 0
    if have > size:  # not a part of this blob (a leftover, or another file's name)
        part.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        reply = signed_get(key, url, path, headers, stream=True)
    except requests.RequestException as exc:
        raise TransferError(f"{url}: unreachable ({exc})") from None
    with reply:
        if reply.status_code == 416 and have:
            return True  # the part is complete already
        if reply.status_code not in (200, 206):
            raise TransferError(f"{url}: {_reason(reply)}")
        mode = "ab" if reply.status_code == 206 else "wb"
        if progress is not None and have and mode == "ab":
            progress(have)
        written = have if mode == "ab" else 0
        stall = _Stall(reply)
        try:
            with part.open(mode) as out:
                for chunk in reply.iter_content(STALL_CHUNK):
                    stall.moved()
                    if written + len(chunk) > size:
                        out.truncate(0)
                        raise TransferError(
                            f"{url}: sent more than the {size} bytes the chain declares"
                        )
                    out.write(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
        except requests.RequestException as exc:
            if stall.stalled:
                raise TransferError(
                    f"{url}: too slow (no {STALL_CHUNK} bytes in {STALL_SECONDS:g}s); given up"
                ) from None
            raise TransferError(f"{url}: the download broke off ({exc})") from None
        finally:
            stall.stop()
    return mode == "ab" and have > 0


class _Stall:
    """Gives up a download that moves no STALL_CHUNK in STALL_SECONDS by shutting its socket
    from a timer thread: a provider sending a byte now and then never trips the read timeout,
    and would hold a pull for as long as it liked."""

    def __init__(self, reply: requests.Response) -> None:
        self.reply = reply
        self.last = time.monotonic()
        self.stalled = False
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="pull-stall", daemon=True).start()

    def moved(self) -> None:
        self.last = time.monotonic()

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, STALL_SECONDS / 4)):
            if time.monotonic() - self.last > STALL_SECONDS:
                self.stalled = True
                connection = getattr(self.reply.raw, "connection", None)
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as blob:
        while chunk := blob.read(CHUNK * 8):
            hasher.update(chunk)
    return hasher.hexdigest()


def pull(
    node: Node, key: Key, ref: str, to: Path, progress: Callable[[int], None] | None = None
) -> PullReport:
    """Download a version's weights into ``to`` and verify them; raises TransferError. A
    ``to`` this pull created is removed again when the pull fails before any byte arrived (a
    refusal leaves no empty directory behind; a partial download stays, to be resumed)."""
    created = not to.exists()
    try:
        return _pull(node, key, ref, to, progress)
    except (TransferError, ClientError):
        if created and to.is_dir() and not any(to.iterdir()):
            to.rmdir()
        raise


def _pull(
    node: Node, key: Key, ref: str, to: Path, progress: Callable[[int], None] | None
) -> PullReport:
    model_id, _, version_name = ref.rpartition("@")
    version = node.version(model_id, version_name)
    urls = sources(node, version)
    if not urls:
        raise TransferError(
            f"{ref} names no store and no provider announced {version.weights_digest}"
        )
    to.mkdir(parents=True, exist_ok=True)
    digest = version.weights_digest
    report = PullReport(to, digest)
    files = node.manifest_files(digest)
    if files:
        for file in files:
            _pull_file(key, urls, digest, file, to, progress, report)
        return report
    name = f"{model_id.split('/')[-1]}-{version_name}{EXTENSIONS.get(version.format, '')}"
    report.path = to / name
    report.provider = download(
        key,
        urls,
        f"/v1/blobs/{digest}",
        check_digest(digest),
        report.path,
        progress,
        report.failures,
        max(version.size_bytes, MAX_MANIFEST_BYTES),  # a directory's blob is its manifest
    )
    with report.path.open("rb") as pulled:
        if pulled.read(len(MANIFEST_HEADER)) == MANIFEST_HEADER:
            raise TransferError(
                f"{ref} is a directory whose files the chain does not list, so no store serves "
                f"them; its owner can publish it again with modelgov model push"
            )
    return report


def _pull_file(
    key: Key,
    urls: list[str],
    digest: str,
    file: tx_pb2.ManifestFile,
    to: Path,
    progress: Callable[[int], None] | None,
    report: PullReport,
) -> None:
    """Download one file of a directory (paths come from the chain, which refused any that
    could leave the directory), unless an intact copy is there already."""
    target = to / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and _sha256(target) == check_digest(file.digest):
        return
    report.provider = download(
        key,
        urls,
        f"/v1/blobs/{digest}/{quote(file.path, safe='/')}",
        check_digest(file.digest),
        target,
        progress,
        report.failures,
        file.size,
    )


def referenced(node: Node) -> set[str]:
    """Every weights digest a published version references."""
    return set(node.digests())


def garbage(store: BlobStore, node: Node, now: float | None = None) -> list[str]:
    """Blobs no on-chain version and no recent pending upload references (nothing deleted)."""
    keep = referenced(node)
    for digest in list(keep):
        for entry in store.manifest(digest) or ():
            keep.add("sha256:" + entry.sha256)
    horizon = (time.time() if now is None else now) - PENDING_GRACE_SECONDS
    for digest, uploaded in store.pending().items():
        if digest in keep:
            store.clear_pending(digest)
        elif uploaded >= horizon:
            keep.add(digest)
            for entry in store.manifest(digest) or ():
                keep.add("sha256:" + entry.sha256)
    return [d for d in store.digests() if d not in keep]


def collect_garbage(store: BlobStore, node: Node, dry_run: bool = False) -> list[str]:
    """Delete (unless ``dry_run``) and return the unreferenced blobs."""
    doomed = garbage(store, node)
    if not dry_run:
        for digest in doomed:
            store.remove(digest)
    return doomed


def model_id_of(model: str, org: str) -> str:
    """ORG/NAME as given, or a bare NAME in the sender's organisation ``org``."""
    return model if "/" in model else f"{org}/{model}"


def card_of(path: Path, card: Path | None) -> tuple[Path | None, str]:
    """The model card and its digest: ``card`` if given, else a pushed folder's README.md (then
    it travels with the weights, as one of the directory's files); (None, "") without one."""
    found = card if card is not None else path / "README.md"
    if not found.is_file():
        if card is not None:
            raise WeightsError(f"the model card {card} is not a file")
        return None, ""
    return found, "sha256:" + _sha256(found)


@dataclass
class Publication:
    """The one transaction a push sends (register if needed, publish, announce), checked
    against the chain before a byte is uploaded, and what the publisher should hear."""

    msgs: list[tx_pb2.Msg]
    model_id: str
    org: str
    license_id: str
    warnings: list[str] = field(default_factory=list)

    @property
    def publish(self) -> tx_pb2.PublishVersion:
        """The PublishVersion message of the transaction."""
        return next(m.publish_version for m in self.msgs if m.HasField("publish_version"))


def plan_publication(
    node: Node, key: Key, publish: tx_pb2.Msg, store_url: str, description: str
) -> Publication:
    """The messages of the push's transaction and the checks the chain would make of them that
    can be made now: every stateless rule of the app (names, version, metrics, sizes), the
    model's ownership, a version of that name, the parents, the license (its own or the model's
    default). Raises ClientError (or WeightsError) with the chain's words; nothing is sent."""
    from app.core.errors import TxError
    from app.models.validation import validate_announce, validate_publish, validate_register

    org = node.account(key.address).org
    body = publish.publish_version
    body.model = model_id_of(body.model, org)
    params = node.params()
    msgs: list[tx_pb2.Msg] = []
    model = _model_or_none(node, body.model)
    if model is None:
        owner, _, name = body.model.partition("/")
        if owner != org:
            raise ClientError(
                f"no model {body.model}: you can register models of {org} only "
                f"(push as {org}/{name}, or ask {owner} to register it)"
            )
        register = tx_pb2.RegisterModel(owner_org=owner, name=name, description=description)
        msgs.append(tx_pb2.Msg(register_model=register))
    elif model.owner_org != org:
        raise ClientError(f"{body.model} is owned by {model.owner_org}, not by your {org}")
    body.description = description
    announce = tx_pb2.AnnounceProvider(digest=body.weights_digest, url=store_url.rstrip("/"))
    msgs += [publish, tx_pb2.Msg(announce_provider=announce)]
    try:
        if model is None:
            validate_register(msgs[0].register_model, params)
        validate_publish(body, params)
        validate_announce(announce, params)
    except TxError as exc:
        raise ClientError(exc.log, exc.error.code, exc.error.codespace) from None
    license_id = body.license or (model.default_license if model is not None else "")
    plan = Publication(msgs, body.model, org, license_id)
    _check_against_chain(node, plan, params.max_tx_bytes)
    return plan


def _model_or_none(node: Node, model_id: str) -> state_pb2.Model | None:
    try:
        return node.model(model_id)
    except ClientError as exc:
        if exc.not_found:
            return None
        raise


def _check_against_chain(node: Node, plan: Publication, max_tx_bytes: int) -> None:
    """A version of that name, the parents and the license, and the transaction's size."""
    body = plan.publish
    if len(body.files) > MAX_FILES:
        raise WeightsError(f"{len(body.files)} files; a version lists at most {MAX_FILES}")
    size = sum(len(m.SerializeToString()) for m in plan.msgs) + TX_OVERHEAD + CLAIM_SALT_BYTES
    if size > max_tx_bytes:
        raise WeightsError(
            f"the publication takes {size} bytes, over what one transaction carries "
            f"({max_tx_bytes}); pack the weights into fewer files"
        )
    if _version_or_none(node, body.model, body.version) is not None:
        raise ClientError(f"{body.model}@{body.version} is already published; pick a new version")
    for parent in body.parents:
        model_id, _, name = parent.rpartition("@")
        if _version_or_none(node, model_id, name) is None:
            raise ClientError(f"parent {parent} is not published")
    if plan.license_id:
        try:
            node.license(plan.license_id)
        except ClientError as exc:
            if exc.not_found:
                raise ClientError(
                    f"no license {plan.license_id}: deploy it first (modelgov tx license deploy)"
                ) from None
            raise
    else:
        plan.warnings.append(
            f"{body.model}@{body.version} will have no license: nobody else can use or pull it "
            f"until its owner attaches one (--license, or tx model default-license)"
        )


def _version_or_none(node: Node, model_id: str, version: str) -> state_pb2.Version | None:
    try:
        return node.version(model_id, version)
    except ClientError as exc:
        if exc.not_found:
            return None
        raise


def push(
    node: Node,
    key: Key,
    store_url: str,
    path: Path,
    model: str,
    version: str,
    license_id: str = "",
    parents: tuple[str, ...] = (),
    fmt: str = "",
    progress: bool = False,
    consents: tuple[int, ...] = (),
    state_dir: Path | None = None,
    say: Say | None = None,
    metrics: tuple[tx_pb2.Metric, ...] = (),
    card: Path | None = None,
    description: str = "",
) -> state_pb2.Version:
    """Publish a complete version in one transaction: check the weights load safely, hash them,
    check everything the chain would refuse (``plan_publication``), claim the digest if nobody
    holds it (one block, before the upload), upload to the caller's store, then send ONE
    transaction that registers the model if needed, publishes the version (metrics, card
    digest, description, license, parents, a directory's files, the claim's salt) and
    announces the store: it lands whole or not at all. ``model`` is ORG/NAME or a bare NAME of
    the sender's org; ``card`` defaults to a pushed folder's README.md; ``consents`` are
    redistribution receipts of the holders of weights another organisation published first;
    ``state_dir`` keeps the claim's salt until the version is published; ``say`` hears each
    step and every warning (a version left unlicensed). Returns the published version."""
    from chain.weights.torch_io import check_loadable, detect_format

    tell = say or (lambda _: None)
    fmt = fmt or detect_format(path)
    if fmt in ("safetensors", "pytorch"):
        check_loadable(path)
    _, card_digest = card_of(path, card)
    hashed = hash_path(path, progress=progress)
    msg = publish_msg(model, version, hashed, fmt, store_url, license_id, parents, consents)
    msg.publish_version.metrics.extend(metrics)
    msg.publish_version.model_card_digest = card_digest
    plan = plan_publication(node, key, msg, store_url, description)
    for warning in plan.warnings:
        tell(f"warning: {warning}")
    saved = _claim(node, key, plan.publish, plan.org, state_dir, say)
    push_blobs(key, store_url, hashed, path, plan.model_id)
    _send_publication(node, key, plan.msgs, saved, tell)
    return node.version(plan.model_id, version)


def _claim(
    node: ClaimNode,
    key: Key,
    body: tx_pb2.PublishVersion,
    org: str,
    state_dir: Path | None,
    say: Say | None,
) -> SaltFile | None:
    """Claim the version's digest if it needs it (one block) and put the salt the publication
    reveals into ``body``; the salt's file, when ``state_dir`` keeps it."""
    saved = SaltFile(state_dir, node.chain_id, org, body.weights_digest) if state_dir else None
    body.claim_salt = claim_for_publish(node, key, org, body.weights_digest, saved, say)
    return saved


def _send_publication(
    node: ClaimNode, key: Key, msgs: list[tx_pb2.Msg], saved: SaltFile | None, tell: Say
) -> TxOutcome:
    """Send a publication's one transaction; a saved salt is forgotten once the version is
    published, kept (for a rerun) if publishing fails."""
    body = next(m.publish_version for m in msgs if m.HasField("publish_version"))
    kinds = ", ".join(m.WhichOneof("sum") or "?" for m in msgs)
    tell(f"publishing {body.model}@{body.version} ({kinds}: one transaction)...")
    try:
        outcome = node.send(key, msgs)
    except ClientError as exc:
        if body.claim_salt and saved is not None:
            exc.args = (f"{exc}\n(the claim's salt is kept in {saved.path}: run push again)",)
        raise
    if saved is not None:
        saved.remove()
    tell(f"published at height {outcome.height}  tx {outcome.hash}")
    return outcome


def _publish(
    node: ClaimNode,
    key: Key,
    msgs: list[tx_pb2.Msg],
    org: str,
    state_dir: Path | None,
    say: Say | None,
) -> TxOutcome:
    """Claim the digest of the publication among ``msgs`` if it needs it, then send ``msgs`` in
    one transaction revealing the claim."""
    body = next(m.publish_version for m in msgs if m.HasField("publish_version"))
    saved = _claim(node, key, body, org, state_dir, say)
    return _send_publication(node, key, msgs, saved, say or (lambda _: None))


def check_held(store: BlobStore, digest: str) -> None:
    """Refuse to announce what this store does not hold intact."""
    if not store.has(digest):
        raise WeightsError(f"this store does not hold {digest}; push or pull it first")
    got = "sha256:" + _sha256(store.path(digest))
    if got != digest:
        raise WeightsError(f"the stored blob of {digest} hashes to {got}: the store is corrupt")
    for entry in store.manifest(digest) or ():
        if not store.has("sha256:" + entry.sha256):
            raise WeightsError(f"{digest} lists {entry.path}, which this store lacks")
