"""Who may read or write a blob, decided from the ledger through the node's RPC.

Read: the requester's organisation owns a model whose version has the digest; or it holds a
receipt of an allowed use of that version whose purpose includes download; or it takes part in
the federated round whose update or aggregate the version is; or the version's license allows
the requester a download for free right now. Write: a publisher of the organisation that owns
the named model, or of an organisation invited to an open round into it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from app.members.roles import PUBLISHER
from app.pb.modelgov.v1 import federated_pb2, state_pb2
from app.usage.purposes import DOWNLOAD_PURPOSES
from chain.client import ClientError, Node

CACHE_SECONDS = 5


@dataclass(frozen=True)
class Access:
    """A decision: allowed, or the HTTP status and a reason a person can act on."""

    allowed: bool
    status: int = 200
    reason: str = ""
    hint: str = ""


ALLOWED = Access(True)


class Gate:
    """Decisions for one store; a grant is cached a few seconds so that the requests of one
    download (manifest, files, resumed ranges) ask the ledger once."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._cache: dict[tuple[str, str], tuple[float, Access]] = {}
        self._lock = threading.Lock()

    def account(self, address: str) -> state_pb2.Account | None:
        """The requester's account, or None when the chain does not know it."""
        try:
            return self.node.account(address)
        except ClientError:
            return None

    def read(self, address: str, digest: str) -> Access:
        """May ``address`` download the blob of ``digest``?"""
        key = (address, digest)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        decision = self._decide_read(address, digest)
        if decision.status == 403:
            decision = self._after_next_block(address, digest, decision)
        if decision.allowed:  # a refusal is never cached: a receipt may arrive any block
            with self._lock:
                self._cache[key] = (time.monotonic(), decision)
        return decision

    def _after_next_block(self, address: str, digest: str, refusal: Access) -> Access:
        """Ask again once the node has committed one more block: a receipt the requester just
        obtained through another node may not have reached this one yet."""
        try:
            self.node.wait_for_height(self.node.height() + 1, timeout=5)
        except ClientError:
            return refusal
        return self._decide_read(address, digest)

    def _decide_read(self, address: str, digest: str) -> Access:
        account = self.account(address)
        if account is None:
            return Access(False, 403, f"{address} is not a consortium account")
        versions, _ = self.node.page(
            "/models/by_digest", {"digest": digest, "limit": 200}, state_pb2.Version
        )
        if not versions:
            return Access(False, 404, f"no published version has weights {digest}")
        refusal = Access(False, 403, "no version with these weights grants your organisation")
        for version in versions:
            ref = f"{version.model}@{version.version}"
            if self._owner(version.model) == account.org or self._has_receipt(version, account):
                return ALLOWED
            if any(_in_round(r, version.version) for r in self._rounds(version.model, account)):
                return ALLOWED
            refusal = self._license_says(version, address, ref)
            if refusal.allowed:
                return ALLOWED
        return refusal

    def _owner(self, model_id: str) -> str:
        return self.node.record("/models/model", {"id": model_id}, state_pb2.Model).owner_org

    def _has_receipt(self, version: state_pb2.Version, account: state_pb2.Account) -> bool:
        params = {"model": version.model, "version": version.version, "consumer_org": account.org}
        receipts, _ = self.node.page("/usage/receipts", {**params, "limit": 200}, state_pb2.Receipt)
        return any(r.purpose in DOWNLOAD_PURPOSES for r in receipts)

    def _license_says(self, version: state_pb2.Version, address: str, ref: str) -> Access:
        height, when = self.node.next_block()
        params = {
            "address": address,
            "model": version.model,
            "version": version.version,
            "purpose": "download",
            "quantity": 1,
            "height": height,
            "time": when,
        }
        try:
            answer = self.node.query("/licenses/evaluate", params)
        except ClientError as exc:
            return Access(False, 403, f"{ref}: {exc}", "ask the owner to attach a license")
        decision = state_pb2.Decision.FromString(answer.value)
        if decision.allowed and decision.fee == 0:
            return ALLOWED
        how = f"modelgov tx use {ref} --purpose download --max-fee {decision.fee} --from KEY"
        if decision.allowed:
            reason = f"{ref}: license {decision.license} asks {decision.fee} credits for a download"
            return Access(False, 403, reason, f"obtain a receipt first: {how}")
        reason = f"{ref}: license {decision.license} denies a download: {decision.reason}"
        return Access(False, 403, reason, "ask the owner for terms that allow it")

    def write(self, address: str, model_id: str) -> Access:
        """May ``address`` upload weights for ``model_id``?"""
        account = self.account(address)
        if account is None:
            return Access(False, 403, f"{address} is not a consortium account")
        try:
            owner = self._owner(model_id)
        except ClientError:
            return Access(False, 404, f"no model {model_id!r}; register it first")
        invited = any(
            r.status == federated_pb2.ROUND_STATUS_OPEN for r in self._rounds(model_id, account)
        )
        if (owner != account.org and not invited) or PUBLISHER not in account.roles:
            reason = (
                f"only publishers of {owner}, or of an org invited to an open round of "
                f"{model_id}, upload weights of {model_id}"
            )
            return Access(False, 403, reason)
        return ALLOWED

    def _rounds(self, model_id: str, account: state_pb2.Account) -> list[federated_pb2.Round]:
        """Federated rounds into ``model_id`` that the account's organisation takes part in."""
        found: list[federated_pb2.Round] = []
        after = ""
        while True:
            page, after = self.node.page(
                "/federated/rounds", {"after": after, "limit": 200}, federated_pb2.Round
            )
            found.extend(
                r
                for r in page
                if r.target_model == model_id
                and (account.org in r.invited_orgs or account.org == r.opener_org)
            )
            if not after:
                return found


def _in_round(round_: federated_pb2.Round, version: str) -> bool:
    """Whether ``version`` is a round's update or its aggregate: its participants may read it,
    so that each can aggregate and verify."""
    return version == round_.target_version or version.startswith(
        f"{round_.target_version}-update-"
    )
