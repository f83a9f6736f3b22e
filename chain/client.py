"""The library behind the CLI: build, sign, send and follow transactions; run typed queries.

It never prints; the CLI renders what it returns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message

from app.core.errors import NOT_FOUND
from app.core.tx import encode_tx
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.store import Proof, ProofError, verify_proof
from chain.keys import Key
from chain.rpc import RpcClient, RpcError

M = TypeVar("M", bound=Message)


class ClientError(Exception):
    """A transaction was refused or a query failed; ``code`` and ``codespace`` say which."""

    def __init__(self, message: str, code: int = 0, codespace: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.codespace = codespace


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
        """(height, unix time) a dry run should assume: the next height, the latest block time."""
        sync = self.rpc.status()["sync_info"]
        return int(sync["latest_block_height"]) + 1, unix_seconds(sync["latest_block_time"])

    def height(self) -> int:
        """The node's latest committed block height."""
        return int(self.rpc.status()["sync_info"]["latest_block_height"])

    def query(
        self, path: str, params: dict[str, Any] | None = None, prove: bool = False
    ) -> QueryResult:
        """Run a typed query; raises ClientError with the app's code and log when refused."""
        data = json.dumps(params or {}, sort_keys=True).encode()
        return self._query(path, data, prove)

    def query_key(self, key: bytes, prove: bool = True) -> QueryResult:
        """Read a raw store key (``/store``), proven by default."""
        return self._query("/store", key, prove)

    def _query(self, path: str, data: bytes, prove: bool) -> QueryResult:
        response = self.rpc.abci_query(path, data, prove=prove)
        if int(response.get("code", 0)) != 0:
            raise ClientError(
                response.get("log", "query refused"),
                int(response["code"]),
                response.get("codespace", ""),
            )
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
        """A single record decoded into ``kind``."""
        return kind.FromString(self.query(path, params).value)

    def page(self, path: str, params: dict[str, Any], kind: type[M]) -> tuple[list[M], str]:
        """One page of a list query: the records and the cursor of the next page."""
        page = state_pb2.Page.FromString(self.query(path, params).value)
        return [kind.FromString(item) for item in page.items], page.next

    def account(self, address: str) -> state_pb2.Account:
        """The committed account record of ``address``."""
        return self.record("/members/account", {"address": address}, state_pb2.Account)

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

    def holder(self, digest: str) -> state_pb2.DigestHolder | None:
        """``/models/holder``: the organisation that holds ``digest``, or None if nobody does."""
        return self._optional("/models/holder", {"digest": digest}, state_pb2.DigestHolder)

    def claim(self, org: str, commitment: bytes) -> state_pb2.DigestClaim | None:
        """``/models/claim``: ``org``'s stored claim with this commitment, or None."""
        params = {"org": org, "commitment": commitment.hex()}
        return self._optional("/models/claim", params, state_pb2.DigestClaim)

    def _optional(self, path: str, params: dict[str, Any], kind: type[M]) -> M | None:
        """A single record, or None when the node answers not_found (query code 3)."""
        try:
            return self.record(path, params, kind)
        except ClientError as exc:
            if (exc.codespace, exc.code) == (NOT_FOUND.codespace, NOT_FOUND.code):
                return None
            raise

    def write_access(self, address: str, model: str) -> state_pb2.AccessDecision:
        """``/models/write_access``: may ``address`` upload weights of ``model``?"""
        answer = self.query("/models/write_access", {"address": address, "model": model})
        return state_pb2.AccessDecision.FromString(answer.value)

    def manifest_files(self, digest: str) -> list[tx_pb2.ManifestFile]:
        """Every file the chain lists for the directory ``digest`` (empty when it lists none)."""
        files: list[tx_pb2.ManifestFile] = []
        after = ""
        while True:
            page, after = self.page(
                "/models/files",
                {"digest": digest, "after": after, "limit": 200},
                tx_pb2.ManifestFile,
            )
            files.extend(page)
            if not after:
                return files

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
        """Submit a transaction; raises ClientError when CheckTx refuses it; returns its hash."""
        checked = self.rpc.broadcast_tx_sync(tx)
        if int(checked.get("code", 0)) != 0:
            raise ClientError(
                checked.get("log", ""), int(checked["code"]), checked.get("codespace", "")
            )
        return hashlib.sha256(tx).hexdigest().upper()

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
        outcome = self.wait_for_tx(self.broadcast(self.sign(key, msgs, memo=memo)))
        if outcome.code != 0:
            raise ClientError(
                f"tx {outcome.hash} failed in block {outcome.height}: {outcome.log}",
                outcome.code,
                outcome.codespace,
            )
        return outcome

    def app_hash_at(self, height: int) -> bytes:
        """The app hash committed for the state after block ``height`` (in header height+1)."""
        self.wait_for_height(height + 1)
        header = self.rpc.commit(height + 1)["signed_header"]["header"]
        return bytes.fromhex(header["app_hash"])

    def wait_for_height(self, height: int, timeout: float = 30.0) -> None:
        """Block until the node has committed ``height``, riding out a node still starting."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.height() >= height:
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


def unix_seconds(rfc3339: str) -> int:
    """Whole seconds since the epoch of an engine timestamp like 2026-11-24T14:02:03.123456789Z."""
    whole = rfc3339.split(".")[0].rstrip("Z")
    return int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
