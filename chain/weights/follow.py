"""Following models: a member's store keeps a copy of every new version of the models it
follows, and announces itself as a provider, so updates reach every member who may hold them.

What a store follows is its operator's choice, recorded beside the blobs (``follow.json``:
model, signing key, keyring, fee budget, the store's public URL; ``modelgov weights follow``
writes it). The weights server runs ``Follower`` in the background, woken by the engine's event
subscription when a followed model gets a version (a pass over that model's follows), and
over every follow every few seconds anyway: for each followed model and each version it
lacks, it asks the ledger (``/models/read_access``, at the next block) whether the key's
organisation may hold the weights. If not, and the version's
license would allow a download for a fee within the follow's ``max_fee``, it pays that fee with
a ``use`` (purpose ``download``), whose receipt then grants the read; otherwise it records why
not and moves on.
A granted version is fetched from the version's stores and announced providers (never from
this store), verified against the chain's digest (a directory: each listed file, then the
manifest built from the chain's list), kept, and announced with ``announce_provider`` signed
by the key. Every outcome is recorded in ``follow-status.json`` (``modelgov weights follows``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote as quote_path

from app.models.errors import NOT_GRANTED
from app.models.events import VERSION_PUBLISHED
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.client import ClientError, Node
from chain.keys import Key, Keyring, KeyringError, default_keyring
from chain.rpc import RpcError
from chain.watch import WatchError, tx_events
from chain.websocket import WebSocket, WebSocketError, ws_url
from chain.weights.client import TransferError, download, sources
from chain.weights.digest import ManifestEntry, WeightsError, build_manifest, check_digest
from chain.weights.store import BlobStore

CONFIG = "follow.json"
STATUS = "follow-status.json"
DOWNLOAD = "download"
log = logging.getLogger("modelgov.follow")


class FollowError(WeightsError):
    """The follow configuration cannot be read or written."""


@dataclass(frozen=True)
class Follow:
    """One followed model: who signs for this store, what it may spend, where it serves."""

    model: str
    key: str
    url: str
    max_fee: int = 0
    keyring: str = ""

    def signer(self) -> Key:
        """The follow's key (from its keyring, else the default one)."""
        return Keyring(Path(self.keyring) if self.keyring else default_keyring()).get(self.key)


@dataclass(frozen=True)
class Outcome:
    """What became of one version: replicated, already held, or why not."""

    ref: str
    digest: str
    result: str  # replicated | held | refused | failed
    reason: str


def load_follows(store_dir: Path) -> list[Follow]:
    """The follows recorded in a store's config (none when there is no config)."""
    path = store_dir / CONFIG
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise FollowError(f"{path}: {exc}") from None
    try:
        return [Follow(**entry) for entry in raw.get("follows", [])]
    except TypeError as exc:
        raise FollowError(f"{path}: {exc}") from None


def save_follows(store_dir: Path, follows: list[Follow]) -> None:
    """Write the config (atomically: a running server may read it at any moment)."""
    body = {"follows": [asdict(f) for f in sorted(follows, key=lambda f: f.model)]}
    _write_json(store_dir / CONFIG, body)


def add_follow(store_dir: Path, follow: Follow) -> list[Follow]:
    """Follow a model (replacing an earlier follow of it); the follows now."""
    store_dir.mkdir(parents=True, exist_ok=True)
    follows = [f for f in load_follows(store_dir) if f.model != follow.model] + [follow]
    save_follows(store_dir, follows)
    return follows


def remove_follow(store_dir: Path, model: str) -> bool:
    """Stop following a model; whether it was followed."""
    follows = load_follows(store_dir)
    kept = [f for f in follows if f.model != model]
    save_follows(store_dir, kept)
    return len(kept) != len(follows)


def load_status(store_dir: Path) -> dict[str, dict[str, Any]]:
    """ref -> the last outcome recorded for it (with its time)."""
    try:
        found: dict[str, dict[str, Any]] = json.loads((store_dir / STATUS).read_text())
        return found
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, body: Any) -> None:
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    part.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    os.replace(part, path)


# --- one pass -------------------------------------------------------------------------------


def sync(node: Node, store: BlobStore, follow: Follow, key: Key) -> list[Outcome]:
    """Replicate every live version of the followed model this store lacks or has not
    announced; one outcome per such version."""
    outcomes = []
    for version in node.versions(follow.model):
        if version.status == tx_pb2.VERSION_STATUS_REVOKED:
            continue
        if store.has(version.weights_digest) and _announced(node, version, follow.url):
            continue
        try:
            outcomes.append(replicate(node, store, follow, key, version))
        except (ClientError, RpcError, TransferError, WeightsError, OSError) as exc:
            ref = f"{version.model}@{version.version}"
            outcomes.append(Outcome(ref, version.weights_digest, "failed", str(exc)))
    return outcomes


def _announced(node: Node, version: state_pb2.Version, url: str) -> bool:
    return any(p.url == url for p in node.providers(version.weights_digest))


def replicate(
    node: Node, store: BlobStore, follow: Follow, key: Key, version: state_pb2.Version
) -> Outcome:
    """Fetch, verify, keep and announce one version if the key's org may hold it (paying a
    download fee within ``max_fee``); else the outcome says why not."""
    ref, digest = f"{version.model}@{version.version}", version.weights_digest
    free = shutil.disk_usage(store.root).free
    if not store.has(digest) and version.size_bytes > free // 2:
        reason = f"{version.size_bytes} bytes would take more than half of the {free} free"
        return Outcome(ref, digest, "refused", reason)
    refusal = _may_hold(node, follow, key, version)
    if refusal:
        return Outcome(ref, digest, "refused", refusal)
    provider = ""
    if not store.has(digest):
        urls = [u for u in sources(node, version) if u.rstrip("/") != follow.url.rstrip("/")]
        if not urls:
            return Outcome(ref, digest, "failed", "no other store serves it yet")
        provider = _fetch(node, store, key, urls, version)
    announce = tx_pb2.AnnounceProvider(digest=digest, url=follow.url.rstrip("/"))
    node.send(key, [tx_pb2.Msg(announce_provider=announce)])
    if not provider:
        return Outcome(ref, digest, "held", "held already; announced")
    return Outcome(ref, digest, "replicated", f"from {provider}")


def _may_hold(node: Node, follow: Follow, key: Key, version: state_pb2.Version) -> str:
    """'' if the key's org may download the version now (after paying a download fee within
    the budget, if the license asks one); else why not."""
    decision = _read_access(node, key, version.weights_digest)
    if decision.allowed:
        return ""
    if (decision.codespace, decision.code) != (NOT_GRANTED.codespace, NOT_GRANTED.code):
        return f"not allowed: {decision.reason}"
    if _paid_before(node, key, version):
        return f"a download was paid for, and still: {decision.reason}"
    quote = node.evaluate(key.address, version.model, version.version, DOWNLOAD)
    if not quote.allowed:
        return f"not allowed: {decision.reason}"
    if quote.fee > follow.max_fee:
        return (
            f"the license asks {quote.fee} credits for a download, above the follow's "
            f"max fee of {follow.max_fee}"
        )
    use = tx_pb2.Use(
        model=version.model, version=version.version, purpose=DOWNLOAD, quantity=1,
        max_fee=quote.fee,
    )  # fmt: skip
    node.send(key, [tx_pb2.Msg(use=use)])
    decision = _read_access(node, key, version.weights_digest)
    return "" if decision.allowed else f"paid {quote.fee}, still not allowed: {decision.reason}"


def _paid_before(node: Node, key: Key, version: state_pb2.Version) -> bool:
    """Whether the key's org already holds a download receipt of the version (never pay
    twice: a read refused despite one has another reason)."""
    org = node.account(key.address).org
    receipts, _ = node.receipts(version.model, version.version, consumer_org=org).take(200)
    return any(r.purpose == DOWNLOAD for r in receipts)


def _read_access(node: Node, key: Key, digest: str) -> state_pb2.AccessDecision:
    decision, _ = node.read_access(key.address, digest, clock=node.next_block())
    return decision


def _fetch(
    node: Node, store: BlobStore, key: Key, urls: list[str], version: state_pb2.Version
) -> str:
    """Download a version's blob (a directory: each listed file, then its manifest) into the
    store, verified, taking no more bytes from a provider than the chain declares; returns the
    provider of the last download."""
    digest = version.weights_digest
    files = node.manifest_files(digest)
    provider = ""
    for file in files:
        if not store.has(file.digest):
            path = f"/v1/blobs/{digest}/{quote_path(file.path, safe='/')}"
            provider = _download_into(store, key, urls, path, file.digest, file.size)
    if not files:
        return _download_into(store, key, urls, f"/v1/blobs/{digest}", digest, version.size_bytes)
    entries = [ManifestEntry(f.path, f.size, check_digest(f.digest)) for f in files]
    store.put(digest, io.BytesIO(build_manifest(entries)))  # raises unless it hashes right
    return provider


def _download_into(
    store: BlobStore, key: Key, urls: list[str], path: str, digest: str, size: int
) -> str:
    target = store.tmp / f"follow-{uuid.uuid4().hex}"
    try:
        provider = download(key, urls, path, check_digest(digest), target, None, [], size)
        store.put_file(digest, target)
    finally:
        target.unlink(missing_ok=True)
        target.with_name(target.name + ".part").unlink(missing_ok=True)
    return provider


# --- in the weights server ------------------------------------------------------------------


VERSIONS_QUERY = "tm.event='Tx' AND model.version_published.model EXISTS"
"""The engine subscription that wakes the follower: every publication of a version (the
follows are read again when their file changed, so a follow added while the server runs
counts)."""


class FollowFile:
    """A store's follows, read again only when the file changed (its inode, size or
    modification time in ns: ``save_follows`` replaces it, an editor rewrites it), since the
    listener asks for every publication on the chain. Safe to share between threads."""

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self.lock = threading.Lock()
        self.stamp: tuple[int, int, int] | None = None
        self.read_once = False
        self.follows: list[Follow] = []
        self.error: FollowError | None = None

    def read(self) -> list[Follow]:
        """The follows now; raises FollowError (the same, until the file changes) when the
        file cannot be read or parsed."""
        try:
            info = os.stat(self.store_dir / CONFIG)
            stamp: tuple[int, int, int] | None = (info.st_ino, info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            raise FollowError(f"{self.store_dir / CONFIG}: {exc}") from None
        with self.lock:
            if not self.read_once or stamp != self.stamp:
                self._load(stamp)
            if self.error is not None:
                raise self.error
            return list(self.follows)

    def _load(self, stamp: tuple[int, int, int] | None) -> None:
        """Read the file (stat before read: a change in between is read again next time)."""
        self.stamp, self.read_once = stamp, True
        try:
            self.follows, self.error = (load_follows(self.store_dir) if stamp else []), None
        except FollowError as exc:
            self.follows, self.error = [], exc


class Follower:
    """The weights server's background loop: a pass over the follows of a model as soon as
    the engine's event subscription tells of a new version of it, and over every follow every
    ``interval`` seconds anyway (the fallback while the subscription is down, and for what it
    cannot see: a refusal that a later payment or lease lifts). The follows are read again
    when their file changed, so a follow added while the server runs counts."""

    def __init__(self, store_dir: Path, node_url: str, interval: float = 5.0) -> None:
        self.store_dir = store_dir
        self.node_url = node_url
        self.node = Node(node_url)
        self.interval = interval
        self.follows = FollowFile(store_dir)
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.woken: set[str] = set()
        """Models whose follows the loop is to pass over at once."""
        self.woken_all = False

    def start(self, listen: bool = True) -> threading.Thread:
        """Run the loop (and, with ``listen``, the subscription that wakes it) in daemon
        threads; returns the loop's."""
        if listen:
            threading.Thread(
                target=self.listen, name="weights-follower-events", daemon=True
            ).start()
        thread = threading.Thread(target=self.run, name="weights-follower", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop the loop after its current pass."""
        self.stop.set()
        self.wake.set()

    def request(self, models: Collection[str] | None) -> None:
        """Ask the loop for a pass over the follows of ``models`` (None: every follow) now."""
        with self.lock:
            if models is None:
                self.woken_all = True
            else:
                self.woken.update(models)
        self.wake.set()

    def run(self) -> None:
        """Pass over what a wake asks for as it comes, and over every follow once
        ``interval`` seconds have gone by since the last such pass (wakes never delay it)."""
        due = time.monotonic() + self.interval
        while not self.stop.is_set():
            self.wake.wait(max(0.0, due - time.monotonic()))
            self.wake.clear()
            if self.stop.is_set():
                return
            models = self._take()
            if models is None or time.monotonic() >= due:
                self.once()
                due = time.monotonic() + self.interval
            elif models:
                self.once(models)

    def _take(self) -> set[str] | None:
        """The models asked for since the last call (None: every follow)."""
        with self.lock:
            models, every = self.woken, self.woken_all
            self.woken, self.woken_all = set(), False
        return None if every else models

    def listen(self) -> None:
        """Wake the loop when a followed model gets a version, from the engine's event
        subscription; when the node goes away or misbehaves, say so and subscribe again after
        ``interval`` seconds (the loop polls meanwhile)."""
        while not self.stop.is_set():
            try:
                self._listen_once()
            except (WebSocketError, WatchError) as exc:
                log.info("version events: %s; polling every %g s meanwhile", exc, self.interval)
            self.stop.wait(self.interval)

    def _listen_once(self) -> None:
        socket = WebSocket(ws_url(self.node_url), timeout=None)
        try:
            call = {"jsonrpc": "2.0", "id": 1, "method": "subscribe"}
            socket.send(json.dumps({**call, "params": {"query": VERSIONS_QUERY}}))
            while not self.stop.is_set():
                try:
                    message = json.loads(socket.recv())
                except ValueError:
                    raise WatchError("the node sent a message that is not JSON") from None
                if isinstance(message, dict) and "error" in message:
                    raise WatchError(f"the node refused the subscription: {message['error']}")
                if isinstance(message, dict):
                    models = self._published_followed(message)
                    if models is None or models:
                        self.request(models)
        finally:
            socket.close()

    def _published_followed(self, message: dict[str, Any]) -> set[str] | None:
        """The followed models a subscription message tells of a new version of (None: the
        follows cannot be read, a pass over every follow reports why); raises WatchError for
        a message of an unknown shape."""
        found = tx_events(message)
        if found is None:
            return set()
        published = {a.get("model", "") for kind, a in found[1] if kind == VERSION_PUBLISHED}
        if not published:
            return set()
        try:
            follows = self.follows.read()
        except FollowError:
            return None
        return published & {follow.model for follow in follows}

    def once(self, models: Collection[str] | None = None) -> list[Outcome]:
        """One pass over the follows of ``models`` (None: every follow); each outcome is
        logged and recorded in the status."""
        try:
            follows = self.follows.read()
        except FollowError as exc:
            log.warning("follow config: %s", exc)
            return []
        outcomes = []
        for follow in follows:
            if models is None or follow.model in models:
                outcomes.extend(self._one(follow))
        if outcomes:
            self._record(outcomes)
        return outcomes

    def _one(self, follow: Follow) -> list[Outcome]:
        try:
            key = follow.signer()
            return sync(self.node, BlobStore(self.store_dir), follow, key)
        except (KeyringError, ClientError, RpcError, OSError) as exc:
            log.warning("following %s: %s", follow.model, exc)
            return [Outcome(follow.model, "", "failed", str(exc))]

    def _record(self, outcomes: list[Outcome]) -> None:
        status = load_status(self.store_dir)
        for outcome in outcomes:
            log.info("follow %s: %s (%s)", outcome.ref, outcome.result, outcome.reason)
            status[outcome.ref] = {**asdict(outcome), "time": int(time.time())}
        _write_json(self.store_dir / STATUS, status)
