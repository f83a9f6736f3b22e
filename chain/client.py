"""The library behind the CLI: build, sign, send and follow transactions; run typed queries.

Every query path the app answers (``app.machine.QUERIES``) has one method of ``Node`` here, and
no other module of ``chain/`` names a path: a single record comes back decoded to its protobuf
type (a record the caller names that does not exist raises ClientError, ``not_found``; one
whose absence is itself an answer, such as a digest's holder, comes back as None), a list as a
``Listing`` that reads one page (``page(after, limit)`` -> ``(items, next)``) or follows
``next`` to the end (iterate it, or ``take(n)`` for at most n items and the cursor of the rest).
tests/chain/test_client_queries.py runs every method against the app and fails for a path
without one.

It never prints; the CLI renders what it returns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from app.core.errors import NONCE_REPLAYED, NOT_FOUND, ErrorCode
from app.core.query import MAX_LIMIT
from app.core.tx import encode_tx
from app.pb.modelgov.v1 import federated_pb2, market_pb2, state_pb2, tx_pb2
from app.store import Proof, ProofError, verify_proof
from chain.keys import Key
from chain.rpc import RpcClient, RpcError

M = TypeVar("M", bound=Message)
T = TypeVar("T")

MAX_U64 = 2**64 - 1


NONCE_RETRIES = 5
NONCE_RETRY_SECONDS = 0.5
SEEN_ALREADY = "tx already exists in cache"
"""CometBFT's answer to a broadcast of bytes its mempool has seen (ErrTxInCache)."""
"""How often, and how far apart, ``Node.send`` signs again after a ``nonce_replayed``."""


class ClientError(Exception):
    """A transaction was refused or a query failed; ``code`` and ``codespace`` say which,
    ``name`` the registered error's name (from the app's log, ``name: detail``), ``tx_hash``
    the refused transaction (lowercase hex; "" for a query)."""

    def __init__(
        self, message: str, code: int = 0, codespace: str = "", tx_hash: str = "", log: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.codespace = codespace
        self.tx_hash = tx_hash.lower()
        self.log = log or message

    @property
    def name(self) -> str:
        """The registered error's name, when the app's log starts with it; else ""."""
        head, sep, _ = self.log.partition(": ")
        return head if sep and head.replace("_", "").isalnum() and head.islower() else ""

    def as_json(self) -> dict[str, Any]:
        """What ``-o json`` prints for this error."""
        return {
            "error": {
                "codespace": self.codespace,
                "code": self.code,
                "name": self.name,
                "message": str(self),
                "tx_hash": self.tx_hash,
            }
        }

    def is_(self, error: ErrorCode) -> bool:
        """Whether the node refused with the registered ``error``."""
        return (self.codespace, self.code) == (error.codespace, error.code)

    @property
    def not_found(self) -> bool:
        """Whether the node answered that the record does not exist."""
        return self.is_(NOT_FOUND)


@dataclass(frozen=True)
class TxOutcome:
    """A committed transaction: where it landed and what it did."""

    hash: str
    height: int
    code: int
    codespace: str
    log: str
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class QueryResult:
    """A query's value, the store key it came from, and the height of the state it read."""

    value: bytes
    key: bytes
    height: int
    proof: Proof | None


@dataclass(frozen=True)
class Proven(Generic[M]):
    """A record read with a Merkle proof, and whether the proof verified against the app hash
    committed for the state at ``height``."""

    record: M
    height: int
    verified: bool


Page = tuple[list[T], str]
"""One page of a list query: its items and the cursor of the next page ("" at the end)."""


class Listing(Generic[T]):
    """A list query: one page at a time, or every item, following ``next`` for the caller.

    A page is at most MAX_LIMIT items (the app's bound); following ``next`` asks page after
    page, so a list is never cut silently at one page.
    """

    def __init__(self, fetch: Callable[[str, int], Page[T]]) -> None:
        self._fetch = fetch

    def page(self, after: str = "", limit: int = MAX_LIMIT) -> Page[T]:
        """One page from ``after`` (the previous page's ``next``; "" for the first)."""
        return self._fetch(after, limit)

    def take(self, limit: int, after: str = "") -> Page[T]:
        """Up to ``limit`` items from ``after`` on, following ``next``; and the cursor of what
        remains, "" when the list ended. Raises ClientError if the node's cursor does not move."""
        items: list[T] = []
        while len(items) < limit:
            page, nxt = self._fetch(after, min(MAX_LIMIT, limit - len(items)))
            items.extend(page)
            if not nxt:
                return items, ""
            after = _advanced(after, nxt)
        return items, after

    def __iter__(self) -> Iterator[T]:
        """Every item to the end of the list, a page at a time."""
        after = ""
        while True:
            page, nxt = self._fetch(after, MAX_LIMIT)
            yield from page
            if not nxt:
                return
            after = _advanced(after, nxt)


def _advanced(after: str, nxt: str) -> str:
    """``nxt``, unless it repeats ``after``: a node that hands back the cursor it was given
    would have a client loop on one page forever."""
    if nxt == after:
        raise ClientError(f"the node answered the cursor {nxt[:80]!r} it was asked from")
    return nxt


class Node:
    """One node of the chain, seen through its RPC."""

    def __init__(self, url: str, chain_id: str = "") -> None:
        self.rpc = RpcClient(url)
        self._chain_id = chain_id

    @property
    def chain_id(self) -> str:
        """The chain id, asked of the node once when not given."""
        if not self._chain_id:
            self._chain_id = str(self.rpc.status()["node_info"]["network"])
        return self._chain_id

    def next_block(self) -> tuple[int, int]:
        """(height, unix time) a dry run should assume: the block after the one the node's app
        committed (the state a query reads), at the latest block's time. The engine stores a
        block before its app applies it: then that stored block is the next, and its time is
        exactly the latest; otherwise the next block's time is not known yet, and the latest
        is the nearest."""
        applied = self.applied_height()
        sync = self.rpc.status()["sync_info"]
        return applied + 1, unix_seconds(sync["latest_block_time"])

    def height(self) -> int:
        """The node's latest committed block height."""
        return int(self.rpc.status()["sync_info"]["latest_block_height"])

    # --- raw queries: the typed methods below are built on these ----------------------------

    def query(
        self, path: str, params: dict[str, Any] | None = None, prove: bool = False
    ) -> QueryResult:
        """Run a query by path; raises ClientError with the app's code and log when refused.
        Prefer the typed method of the path."""
        data = json.dumps(params or {}, sort_keys=True).encode()
        return self._query(path, data, prove)

    def query_key(self, key: bytes, prove: bool = True) -> QueryResult:
        """Read a raw store key (``/store``), proven by default."""
        return self._query("/store", key, prove)

    def _query(self, path: str, data: bytes, prove: bool) -> QueryResult:
        response = self.rpc.abci_query(path, data, prove=prove)
        if int(response.get("code", 0)) != 0:
            log = response.get("log", "query refused")
            raise ClientError(log, int(response["code"]), response.get("codespace", ""), log=log)
        proof = None
        ops = (response.get("proofOps") or {}).get("ops") or []
        if ops:
            proof = Proof.decode(base64.b64decode(ops[0]["data"]))
        return QueryResult(
            value=base64.b64decode(response.get("value") or ""),
            key=base64.b64decode(response.get("key") or ""),
            height=int(response.get("height", 0)),
            proof=proof,
        )

    def record(self, path: str, params: dict[str, Any], kind: type[M]) -> M:
        """A single record of ``path`` decoded into ``kind``. Prefer the typed method."""
        return kind.FromString(self.query(path, params).value)

    def page(self, path: str, params: dict[str, Any], kind: type[M]) -> tuple[list[M], str]:
        """One page of the list query ``path``. Prefer the typed method's ``Listing``."""
        page = state_pb2.Page.FromString(self.query(path, params).value)
        return [kind.FromString(item) for item in page.items], page.next

    def _optional(self, path: str, params: dict[str, Any], kind: type[M]) -> M | None:
        """A single record, or None when the node answers not_found."""
        try:
            return self.record(path, params, kind)
        except ClientError as exc:
            if exc.not_found:
                return None
            raise

    def _listing(self, path: str, params: dict[str, Any], kind: type[M]) -> Listing[M]:
        """The list query ``path`` with its filters ``params``, items decoded into ``kind``."""

        def fetch(after: str, limit: int) -> Page[M]:
            return self.page(path, {**params, "after": after, "limit": limit}, kind)

        return Listing(fetch)

    # --- /members: the consortium ----------------------------------------------------------

    def org(self, org_id: str) -> state_pb2.Org:
        """``/members/org``: one organisation."""
        return self.record("/members/org", {"id": org_id}, state_pb2.Org)

    def orgs(self) -> Listing[state_pb2.Org]:
        """``/members/orgs``: the organisations in id order."""
        return self._listing("/members/orgs", {}, state_pb2.Org)

    def account(self, address: str) -> state_pb2.Account:
        """``/members/account``: the committed account record of ``address``."""
        return self.record("/members/account", {"address": address}, state_pb2.Account)

    def accounts(self, org: str) -> Listing[state_pb2.Account]:
        """``/members/accounts``: the accounts of ``org`` in address order."""
        return self._listing("/members/accounts", {"org": org}, state_pb2.Account)

    def params(self) -> state_pb2.Params:
        """``/members/params``: the consortium's parameters."""
        return self.record("/members/params", {}, state_pb2.Params)

    def genesis_records(self, domain: str) -> Listing[state_pb2.StoreEntry]:
        """``/genesis/records``: every record of one domain, the way genesis export reads a
        running chain (keys in order)."""
        return self._listing("/genesis/records", {"domain": domain}, state_pb2.StoreEntry)

    def validators(self) -> Listing[state_pb2.Validator]:
        """``/members/validators``: the validator set as governance last set it, by key."""
        return self._listing("/members/validators", {}, state_pb2.Validator)

    def proposal(self, proposal_id: int) -> state_pb2.Proposal:
        """``/members/proposal``: one proposal, with its final tally once decided."""
        return self.record("/members/proposal", {"id": proposal_id}, state_pb2.Proposal)

    def proposals(self) -> Listing[state_pb2.Proposal]:
        """``/members/proposals``: proposals in id order."""
        return self._listing("/members/proposals", {}, state_pb2.Proposal)

    def votes(self, proposal_id: int) -> state_pb2.Tally:
        """``/members/votes``: a proposal's tally now, counting current members only."""
        return self.record("/members/votes", {"id": proposal_id}, state_pb2.Tally)

    # --- /models: the registry -------------------------------------------------------------

    def model(self, model_id: str) -> state_pb2.Model:
        """``/models/model``: one model."""
        return self.record("/models/model", {"id": model_id}, state_pb2.Model)

    def models(self, owner: str = "") -> Listing[state_pb2.Model]:
        """``/models/models``: models in id order, only ``owner``'s when given."""
        return self._listing("/models/models", {"owner": owner}, state_pb2.Model)

    def version(self, model: str, version: str) -> state_pb2.Version:
        """``/models/version``: one version."""
        params = {"model": model, "version": version}
        return self.record("/models/version", params, state_pb2.Version)

    def proven_version(self, model: str, version: str) -> Proven[state_pb2.Version]:
        """``/models/version`` with a Merkle proof, checked against the committed app hash."""
        result = self.query("/models/version", {"model": model, "version": version}, prove=True)
        found = state_pb2.Version.FromString(result.value)
        return Proven(found, result.height, self.verified(result))

    def versions(self, model: str) -> Listing[state_pb2.Version]:
        """``/models/versions``: a model's versions in publication order."""
        return self._listing("/models/versions", {"model": model}, state_pb2.Version)

    def lineage(self, model: str, version: str, depth: int = 16) -> state_pb2.Lineage:
        """``/models/lineage``: what a version derives from and what derives from it."""
        params = {"model": model, "version": version, "depth": depth}
        return self.record("/models/lineage", params, state_pb2.Lineage)

    def resolve(self, model: str, ref: str) -> state_pb2.Version:
        """``/models/resolve``: the version ``ref`` names in ``model``: a version of that
        name, the version an alias of that name points at, or for ``latest`` the newest active
        version."""
        return self.record("/models/resolve", {"model": model, "ref": ref}, state_pb2.Version)

    def aliases(self, model: str) -> Listing[state_pb2.Alias]:
        """``/models/aliases``: a model's aliases in name order."""
        return self._listing("/models/aliases", {"model": model}, state_pb2.Alias)

    # --- /datasets: datasets in the models' namespace -------------------------------------------

    def datasets(self) -> Listing[state_pb2.Model]:
        """``/datasets/datasets``: every dataset (a Model of kind "dataset") in id order."""
        return self._listing("/datasets/datasets", {}, state_pb2.Model)

    def dataset(self, dataset_id: str) -> state_pb2.Model:
        """``/datasets/dataset``: one dataset."""
        return self.record("/datasets/dataset", {"id": dataset_id}, state_pb2.Model)

    def trained(self, dataset: str, version: str) -> Listing[str]:
        """``/datasets/trained``: the versions trained on a dataset version, in ref order."""

        def fetch(after: str, limit: int) -> Page[str]:
            params = {"dataset": dataset, "version": version, "after": after, "limit": limit}
            answer = self.query("/datasets/trained", params)
            page = state_pb2.Page.FromString(answer.value)
            return [item.decode() for item in page.items], page.next

        return Listing(fetch)

    def receipt_binding(self, receipt_id: int) -> str | None:
        """``/datasets/receipt_binding``: the derivative model receipt ``receipt_id`` licensed
        (it licenses no other), or None while it licensed none."""
        try:
            answer = self.query("/datasets/receipt_binding", {"receipt": receipt_id})
        except ClientError as exc:
            if exc.not_found:
                return None
            raise
        return answer.value.decode()

    def by_digest(self, digest: str) -> Listing[state_pb2.Version]:
        """``/models/by_digest``: the versions whose weights have ``digest``, in ref order."""
        return self._listing("/models/by_digest", {"digest": digest}, state_pb2.Version)

    def digests(self) -> Listing[str]:
        """``/models/digests``: every weights digest a version references, once each."""

        def fetch(after: str, limit: int) -> Page[str]:
            answer = self.query("/models/digests", {"after": after, "limit": limit})
            page = state_pb2.Page.FromString(answer.value)
            return [item.decode() for item in page.items], page.next

        return Listing(fetch)

    def providers(self, digest: str) -> Listing[state_pb2.Provider]:
        """``/models/providers``: the stores announced for ``digest``, in URL order."""
        return self._listing("/models/providers", {"digest": digest}, state_pb2.Provider)

    def holder(self, digest: str) -> state_pb2.DigestHolder | None:
        """``/models/holder``: the organisation that holds ``digest``, or None if nobody does."""
        return self._optional("/models/holder", {"digest": digest}, state_pb2.DigestHolder)

    def manifest(self, digest: str) -> state_pb2.Manifest | None:
        """``/models/manifest``: the directory ``digest`` whose files the chain lists, or None."""
        return self._optional("/models/manifest", {"digest": digest}, state_pb2.Manifest)

    def files(self, digest: str) -> Listing[tx_pb2.ManifestFile]:
        """``/models/files``: the files the chain lists for the directory ``digest``, by path."""
        return self._listing("/models/files", {"digest": digest}, tx_pb2.ManifestFile)

    def manifest_files(self, digest: str) -> list[tx_pb2.ManifestFile]:
        """Every file the chain lists for the directory ``digest`` (empty when it lists none)."""
        return list(self.files(digest))

    def claim(self, org: str, commitment: bytes) -> state_pb2.DigestClaim | None:
        """``/models/claim``: ``org``'s stored claim with this commitment, or None."""
        params = {"org": org, "commitment": commitment.hex()}
        return self._optional("/models/claim", params, state_pb2.DigestClaim)

    def consent(self, digest: str, org: str) -> str | None:
        """``/models/consent``: the holder whose consent lets ``org`` name ``digest`` (it
        counts only while that organisation holds it), or None when there is none."""
        try:
            answer = self.query("/models/consent", {"digest": digest, "org": org})
        except ClientError as exc:
            if exc.not_found:
                return None
            raise
        return answer.value.decode()

    def read_access(
        self,
        address: str,
        digest: str,
        path: str = "",
        clock: tuple[int, int] | None = None,
        uploader: str = "",
    ) -> tuple[state_pb2.AccessDecision, int]:
        """``/models/read_access``: may ``address`` download ``digest`` (or its file ``path``)
        from a copy ``uploader`` (an org) brought into a store? ``clock`` is the next block's
        (height, time), for the license rule. Returns the decision and the height of the state
        that decided it."""
        params: dict[str, Any] = {"address": address, "digest": digest}
        if path:
            params["path"] = path
        if uploader:
            params["uploader"] = uploader
        if clock is not None:
            params["height"], params["time"] = clock
        answer = self.query("/models/read_access", params)
        return state_pb2.AccessDecision.FromString(answer.value), answer.height

    def write_access(self, address: str, model: str) -> state_pb2.AccessDecision:
        """``/models/write_access``: may ``address`` upload weights of ``model``?"""
        params = {"address": address, "model": model}
        return self.record("/models/write_access", params, state_pb2.AccessDecision)

    # --- /licenses -------------------------------------------------------------------------

    def license(self, license_id: str) -> state_pb2.License:
        """``/licenses/license``: a deployed license with its source and parameters."""
        return self.record("/licenses/license", {"id": license_id}, state_pb2.License)

    def licenses(self) -> Listing[state_pb2.License]:
        """``/licenses/licenses``: deployed licenses in id order."""
        return self._listing("/licenses/licenses", {}, state_pb2.License)

    def attachment(self, model: str, version: str) -> state_pb2.Attachment | None:
        """``/licenses/attachment``: the attachment in force for a version; None when no
        license governs it."""
        params = {"model": model, "version": version}
        return self._optional("/licenses/attachment", params, state_pb2.Attachment)

    def history(self, model: str, version: str) -> Listing[state_pb2.Attachment]:
        """``/licenses/history``: every attachment of a version, oldest first."""
        params = {"model": model, "version": version}
        return self._listing("/licenses/history", params, state_pb2.Attachment)

    def evaluate(
        self,
        address: str,
        model: str,
        version: str,
        purpose: str,
        quantity: int = 1,
        clock: tuple[int, int] | None = None,
    ) -> state_pb2.Decision:
        """``/licenses/evaluate``: what the version's license would decide for ``address`` in
        the block at ``clock`` (height, unix time; the next block when omitted). A dry run."""
        height, now = clock if clock is not None else self.next_block()
        params = {
            "address": address,
            "model": model,
            "version": version,
            "purpose": purpose,
            "quantity": quantity,
            "height": height,
            "time": now,
        }
        return self.record("/licenses/evaluate", params, state_pb2.Decision)

    # --- /usage and /credits ---------------------------------------------------------------

    def receipt(self, receipt_id: int) -> state_pb2.Receipt:
        """``/usage/receipt``: one receipt."""
        return self.record("/usage/receipt", {"id": receipt_id}, state_pb2.Receipt)

    def receipts(
        self,
        model: str = "",
        version: str = "",
        consumer: str = "",
        consumer_org: str = "",
        licensor: str = "",
        from_height: int = 0,
        to_height: int = MAX_U64,
    ) -> Listing[state_pb2.Receipt]:
        """``/usage/receipts``: receipts in the order they were written, filtered (``version``
        needs ``model``; ``consumer`` is an account address)."""
        params = {
            "model": model,
            "version": version,
            "consumer": consumer,
            "consumer_org": consumer_org,
            "licensor": licensor,
            "from_height": from_height,
            "to_height": to_height,
        }
        return self._listing("/usage/receipts", params, state_pb2.Receipt)

    def totals(self, licensor: str) -> state_pb2.LicensorTotals:
        """``/usage/totals``: receipts, quantity and fees ``licensor`` has earned."""
        return self.record("/usage/totals", {"licensor": licensor}, state_pb2.LicensorTotals)

    def balance(self, org: str) -> state_pb2.Balance:
        """``/credits/balance``: one organisation's credits (0 when it holds none)."""
        return self.record("/credits/balance", {"org": org}, state_pb2.Balance)

    def balances(self) -> Listing[state_pb2.Balance]:
        """``/credits/balances``: every balance in org id order."""
        return self._listing("/credits/balances", {}, state_pb2.Balance)

    # --- /market -----------------------------------------------------------------------------

    def listing(self, model: str) -> market_pb2.Listing | None:
        """``/market/listing``: a model's listing, or None when it is not for sale."""
        return self._optional("/market/listing", {"model": model}, market_pb2.Listing)

    def listings(self) -> Listing[market_pb2.Listing]:
        """``/market/listings``: every model for sale, in model id order."""
        return self._listing("/market/listings", {}, market_pb2.Listing)

    def lease_offer(self, model: str, version: str) -> market_pb2.LeaseOffer | None:
        """``/market/offer``: a version's lease offer, or None when it is not offered."""
        params = {"model": model, "version": version}
        return self._optional("/market/offer", params, market_pb2.LeaseOffer)

    def lease_offers(self) -> Listing[market_pb2.LeaseOffer]:
        """``/market/offers``: every lease offer, by model and version."""
        return self._listing("/market/offers", {}, market_pb2.LeaseOffer)

    def lease(self, lease_id: int) -> market_pb2.Lease:
        """``/market/lease``: one lease, running or ended."""
        return self.record("/market/lease", {"id": lease_id}, market_pb2.Lease)

    def leases(
        self, org: str = "", model: str = "", version: str = ""
    ) -> Listing[market_pb2.Lease]:
        """``/market/leases``: the leases an organisation rented (``org``), or those of one
        version (``model`` and ``version``), oldest first."""
        params = {"org": org} if org else {"model": model, "version": version}
        return self._listing("/market/leases", params, market_pb2.Lease)

    # --- /attestations and /federated ------------------------------------------------------

    def attestations_of_version(
        self, model: str, version: str
    ) -> Listing[federated_pb2.Attestation]:
        """``/attestations/by_version``: attestations about a version, oldest first."""
        params = {"model": model, "version": version}
        return self._listing("/attestations/by_version", params, federated_pb2.Attestation)

    def attestations_by_org(self, org: str) -> Listing[federated_pb2.Attestation]:
        """``/attestations/by_org``: attestations ``org`` made, oldest first."""
        return self._listing("/attestations/by_org", {"org": org}, federated_pb2.Attestation)

    def round(self, round_id: int) -> federated_pb2.Round:
        """``/federated/round``: one round with its submissions."""
        return self.record("/federated/round", {"id": round_id}, federated_pb2.Round)

    def rounds(self) -> Listing[federated_pb2.Round]:
        """``/federated/rounds``: rounds in id order."""
        return self._listing("/federated/rounds", {}, federated_pb2.Round)

    def contributors(self, model: str, version: str) -> federated_pb2.Contributors | None:
        """``/federated/contributors``: who shares the fees of an aggregate version; None for
        a version no round published."""
        params = {"model": model, "version": version}
        return self._optional("/federated/contributors", params, federated_pb2.Contributors)

    # --- proofs and transactions -----------------------------------------------------------

    def prove_keys(self, keys: list[bytes], height: int) -> bool:
        """Whether every key's value (or absence) at ``height`` verifies against the app hash
        of that height: the proof of an access decision. The node keeps only its latest state,
        so the proofs are read at once and False means the state moved on (ask again)."""
        results = [self.query_key(key, prove=True) for key in keys]
        if any(r.height != height or r.proof is None for r in results):
            return False
        root = self.app_hash_at(height)
        try:
            return all(
                r.proof is not None and verify_proof(root, key, r.value or None, r.proof)
                for key, r in zip(keys, results, strict=True)
            )
        except ProofError:
            return False

    def sign(
        self, key: Key, msgs: list[tx_pb2.Msg], nonce: int | None = None, memo: str = ""
    ) -> bytes:
        """Build and sign a transaction from ``key`` at its next (or the given) nonce."""
        if nonce is None:
            nonce = self.account(key.address).nonce
        body = tx_pb2.TxBody(
            chain_id=self.chain_id, sender=key.pubkey, nonce=nonce, messages=msgs, memo=memo
        )
        return encode_tx(body, key.private_key)

    def broadcast(self, tx: bytes) -> str:
        """Submit a transaction; raises ClientError when CheckTx refuses it; returns its hash
        (lowercase hex, as every output shows it)."""
        checked = self.rpc.broadcast_tx_sync(tx)
        tx_hash = hashlib.sha256(tx).hexdigest()
        if int(checked.get("code", 0)) != 0:
            log = checked.get("log", "")
            raise ClientError(log, int(checked["code"]), checked.get("codespace", ""), tx_hash, log)
        return tx_hash

    def _broadcast_next(self, key: Key, msgs: list[tx_pb2.Msg], memo: str) -> str:
        """Sign at the account's next nonce and broadcast; its hash. A node answers the account
        from its last committed block, and its mempool may already know a later one (a tx of
        the same key just committed through another node): a ``nonce_replayed`` refusal is
        signed again at the next nonce, a few times, a moment apart. So is the engine's "tx
        already exists in cache": signatures are deterministic, so the same messages signed
        at a nonce the node shows stale are the very bytes it has seen already."""
        for _ in range(NONCE_RETRIES):
            try:
                return self.broadcast(self.sign(key, msgs, memo=memo))
            except ClientError as refused:
                if not refused.is_(NONCE_REPLAYED):
                    raise
            except RpcError as failed:
                if SEEN_ALREADY not in str(failed):
                    raise
            time.sleep(NONCE_RETRY_SECONDS)
        try:
            return self.broadcast(self.sign(key, msgs, memo=memo))
        except RpcError as failed:
            if SEEN_ALREADY not in str(failed):
                raise
            raise ClientError(
                f"{self.rpc.url} still shows a nonce whose transaction it has seen: the node "
                "is behind; try again in a moment, or send through another node"
            ) from None

    def wait_for_tx(self, tx_hash: str, timeout: float = 30.0) -> TxOutcome:
        """Poll until the transaction is in a block; raises ClientError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.rpc.tx(bytes.fromhex(tx_hash))
            if found is not None:
                result = found["tx_result"]
                return TxOutcome(
                    hash=tx_hash,
                    height=int(found["height"]),
                    code=int(result.get("code", 0)),
                    codespace=result.get("codespace", ""),
                    log=result.get("log", ""),
                    events=result.get("events", []),
                )
            time.sleep(0.2)
        raise ClientError(f"tx {tx_hash} was not committed within {timeout:.0f}s; it may still be")

    def send(self, key: Key, msgs: list[tx_pb2.Msg], memo: str = "") -> TxOutcome:
        """Sign, broadcast and wait for commit; raises ClientError when refused at any stage."""
        outcome = self.wait_for_tx(self._broadcast_next(key, msgs, memo))
        if outcome.code != 0:
            raise ClientError(
                f"tx {outcome.hash.lower()} failed in block {outcome.height}: {outcome.log}",
                outcome.code,
                outcome.codespace,
                outcome.hash,
                outcome.log,
            )
        return outcome

    def committed_tx(self, tx_hash: str) -> dict[str, Any]:
        """A committed transaction by hash (hex, either case): where it landed, its result and
        its decoded body (sender address, nonce, memo, messages). Raises ClientError
        (not_found) when no block holds it."""
        try:
            raw_hash = bytes.fromhex(tx_hash)
        except ValueError:
            raise ClientError(f"{tx_hash[:80]!r} is not a hex transaction hash") from None
        found = self.rpc.tx(raw_hash)
        if found is None:
            raise ClientError(
                f"no committed tx {tx_hash.lower()}", NOT_FOUND.code, NOT_FOUND.codespace
            )
        result = found["tx_result"]
        return {
            "hash": tx_hash.lower(),
            "height": int(found["height"]),
            "code": int(result.get("code", 0)),
            "codespace": result.get("codespace", ""),
            "log": result.get("log", ""),
            "events": result.get("events", []),
            "body": decode_body(base64.b64decode(found.get("tx", ""))),
        }

    def block(self, height: int = 0) -> dict[str, Any]:
        """The block at ``height`` (the latest when 0): its header facts and tx hashes."""
        found = self.rpc.block_at(height)
        header = found["block"]["header"]
        txs = [base64.b64decode(t) for t in (found["block"]["data"].get("txs") or [])]
        return {
            "height": int(header["height"]),
            "time": header["time"],
            "chain_id": header["chain_id"],
            "proposer": str(header["proposer_address"]).lower(),
            "app_hash": str(header["app_hash"]).lower(),
            "hash": str(found["block_id"]["hash"]).lower(),
            "txs": [hashlib.sha256(t).hexdigest() for t in txs],
        }

    def app_hash_at(self, height: int) -> bytes:
        """The app hash committed for the state after block ``height`` (in header height+1)."""
        self.wait_for_height(height + 1)
        header = self.rpc.commit(height + 1)["signed_header"]["header"]
        return bytes.fromhex(header["app_hash"])

    def applied_height(self) -> int:
        """The height of the state this node's queries answer from: the last block its app
        committed (``/abci_info``). ``height()`` (``/status``) counts a block once the engine
        has stored it, before its app has executed and committed it, so for a moment it can be
        one ahead of what a query sees."""
        return int(self.rpc.call("abci_info")["response"].get("last_block_height") or 0)

    def wait_for_height(self, height: int, timeout: float = 30.0) -> None:
        """Block until the node has committed ``height`` and its app has applied it (so a query
        that follows sees that block's state), riding out a node still starting."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.height() >= height and self.applied_height() >= height:
                    return
            except RpcError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise ClientError(f"node did not reach height {height} within {timeout:.0f}s")
            time.sleep(0.2)

    def verified(self, result: QueryResult) -> bool:
        """Whether a proven query result verifies against the app hash of its block."""
        if result.proof is None:
            return False
        root = self.app_hash_at(result.height)
        try:
            return verify_proof(root, result.key, result.value or None, result.proof)
        except ProofError:
            return False


def decode_body(raw: bytes) -> dict[str, Any]:
    """A transaction's signed body as plain data (sender address, nonce, memo, messages under
    the rendering rules); {} for bytes that are not a modelgov Tx."""
    from app.core.crypto import address_of
    from chain.render import plain

    try:
        body = tx_pb2.TxBody.FromString(tx_pb2.Tx.FromString(raw).body)
    except Exception:
        return {}
    return {
        "chain_id": body.chain_id,
        "sender": address_of(body.sender),
        "nonce": body.nonce,
        "memo": body.memo,
        "messages": [plain(m) for m in body.messages],
    }


def unix_seconds(rfc3339: str) -> int:
    """Whole seconds since the epoch of an engine timestamp like 2026-11-24T14:02:03.123456789Z."""
    whole = rfc3339.split(".")[0].rstrip("Z")
    return int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
