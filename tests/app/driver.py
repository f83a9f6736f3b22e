"""The shared test driver: a fresh Merkle store and a ModelgovApp, driven like the engine does.

``Driver`` owns a consortium of three organisations and their accounts (coincurve keys derived
from the account name, so runs are reproducible), runs InitChain, and offers CheckTx, whole
blocks (PrepareProposal -> ProcessProposal -> FinalizeBlock -> Commit), queries, and a signer
that tracks nonces. The message builders at the bottom make valid messages that tests tweak.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from app.abci.modelgov_app import ModelgovApp
from app.core import crypto
from app.core.tx import encode_tx
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.store import MerkleStore

CHAIN_ID = "modelgov-test"
GENESIS_TIME = 1_700_000_000
BLOCK_SECONDS = 5
MAX_BLOCK_TX_BYTES = 4 * 1024 * 1024


@dataclass
class Account:
    """A consortium account with its private key; ``nonce`` is the next one to sign with."""

    name: str
    org: str
    roles: tuple[str, ...]
    private_key: bytes
    nonce: int = 0

    @property
    def pubkey(self) -> bytes:
        return crypto.public_key_of(self.private_key)

    @property
    def address(self) -> str:
        return crypto.address_of(self.pubkey)


def private_key_for(name: str) -> bytes:
    """A reproducible secp256k1 private key for a test account."""
    return hashlib.sha256(b"modelgov-test-key:" + name.encode()).digest()


def make_account(name: str, org: str, *roles: str) -> Account:
    return Account(name, org, tuple(roles), private_key_for(name))


ORGS: tuple[dict[str, Any], ...] = (
    {"id": "uni", "name": "Example University", "kind": "academic"},
    {"id": "acme", "name": "Acme Corp", "kind": "commercial", "attributes": {"tier": 2}},
    {"id": "openml", "name": "Open ML Foundation", "kind": "nonprofit"},
)


def default_accounts() -> dict[str, Account]:
    """Accounts by name: admins, publishers, a consumer and an auditor across the orgs."""
    accounts = (
        make_account("uni-admin", "uni", "admin", "publisher"),
        make_account("uni-pub", "uni", "publisher"),
        make_account("acme-admin", "acme", "admin"),
        make_account("acme-pub", "acme", "publisher"),
        make_account("acme-user", "acme", "consumer"),
        make_account("openml-pub", "openml", "publisher"),
        make_account("openml-audit", "openml", "auditor"),
    )
    return {a.name: a for a in accounts}


DEFAULT_CREDITS = {"uni": 1_000, "acme": 100_000, "openml": 5_000}


def app_state(
    accounts: Iterable[Account],
    params: dict[str, int] | None = None,
    credits: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The genesis ``app_state`` object for ``accounts``."""
    return {
        "credits": dict(DEFAULT_CREDITS if credits is None else credits),
        "orgs": [dict(o) for o in ORGS],
        "accounts": [
            {"name": a.name, "org": a.org, "pubkey": a.pubkey.hex(), "roles": list(a.roles)}
            for a in accounts
        ],
        "params": dict(params or {}),
    }


def timestamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


class EmptyState:
    """A state with nothing in it, under an Overlay for tests that write records by hand."""

    def get(self, key: bytes) -> bytes | None:
        return None

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        return iter(())


@dataclass
class Driver:
    """Drives one ModelgovApp over a fresh MerkleStore the way CometBFT would."""

    path: Path
    chain_id: str = CHAIN_ID
    params: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=default_accounts)
    credits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CREDITS))
    height: int = 0
    time: int = GENESIS_TIME
    app_hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.store = MerkleStore(self.path / "state.db")
        self.app = ModelgovApp(self.store)
        self.genesis_app_hash = b""

    def close(self) -> None:
        self.store.close()

    def __getitem__(self, name: str) -> Account:
        return self.accounts[name]

    # --- the engine's calls -------------------------------------------------------------------

    def init_chain(self) -> abci.ResponseInitChain:
        """InitChain with the consortium as app_state JSON."""
        state = json.dumps(app_state(self.accounts.values(), self.params, self.credits)).encode()
        response = self.app.init_chain(
            abci.RequestInitChain(
                chain_id=self.chain_id,
                app_state_bytes=state,
                time=timestamp(self.time),
                initial_height=1,
            )
        )
        self.genesis_app_hash = response.app_hash
        return response

    def check(self, tx: bytes, recheck: bool = False) -> abci.ResponseCheckTx:
        """CheckTx of a new transaction (or a recheck after a commit)."""
        kind = abci.RECHECK if recheck else abci.NEW
        return self.app.check_tx(abci.RequestCheckTx(tx=tx, type=kind))

    def prepare(self, txs: Sequence[bytes], max_tx_bytes: int = MAX_BLOCK_TX_BYTES) -> list[bytes]:
        """PrepareProposal at the next height: the txs the app would propose."""
        response = self.app.prepare_proposal(
            abci.RequestPrepareProposal(
                txs=list(txs),
                max_tx_bytes=max_tx_bytes,
                height=self.height + 1,
                time=timestamp(self.time + BLOCK_SECONDS),
            )
        )
        return list(response.txs)

    def process(self, txs: Sequence[bytes]) -> bool:
        """ProcessProposal at the next height: whether the app accepts the proposal."""
        response = self.app.process_proposal(
            abci.RequestProcessProposal(
                txs=list(txs), height=self.height + 1, time=timestamp(self.time + BLOCK_SECONDS)
            )
        )
        return response.status == abci.ResponseProcessProposal.ACCEPT

    def block(
        self, txs: Sequence[bytes] = (), time: int | None = None, check_proposal: bool = True
    ) -> abci.ResponseFinalizeBlock:
        """One decided block: ProcessProposal (must accept), FinalizeBlock, Commit."""
        if check_proposal:
            assert self.process(txs), "ProcessProposal rejected the block"
        self.height += 1
        self.time = self.time + BLOCK_SECONDS if time is None else time
        response = self.app.finalize_block(
            abci.RequestFinalizeBlock(
                txs=list(txs),
                height=self.height,
                time=timestamp(self.time),
                proposer_address=b"\x01" * 20,
            )
        )
        self.app.commit(abci.RequestCommit())
        assert self.store.height == self.height
        assert self.store.root == response.app_hash
        self.app_hashes.append(response.app_hash)
        return response

    def info(self) -> abci.ResponseInfo:
        return self.app.info(abci.RequestInfo(version="0.38.0", block_version=11, p2p_version=8))

    def query(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        prove: bool = False,
        height: int = 0,
        data: bytes | None = None,
    ) -> abci.ResponseQuery:
        """ABCI Query with JSON parameters (or raw ``data``, e.g. a /store key)."""
        raw = data if data is not None else (json.dumps(params).encode() if params else b"")
        return self.app.query(abci.RequestQuery(path=path, data=raw, prove=prove, height=height))

    # --- transactions -------------------------------------------------------------------------

    def sign(
        self,
        account: Account | str,
        msgs: Sequence[tx_pb2.Msg],
        nonce: int | None = None,
        chain_id: str | None = None,
        memo: str = "",
    ) -> bytes:
        """A signed transaction; without ``nonce`` it takes the account's next and advances it."""
        acct = self.accounts[account] if isinstance(account, str) else account
        if nonce is None:
            nonce = acct.nonce
            acct.nonce += 1
        body = tx_pb2.TxBody(
            chain_id=self.chain_id if chain_id is None else chain_id,
            sender=acct.pubkey,
            nonce=nonce,
            messages=list(msgs),
            memo=memo,
        )
        return encode_tx(body, acct.private_key)

    def run(self, account: Account | str, *msgs: tx_pb2.Msg) -> abci.ExecTxResult:
        """Sign ``msgs`` and put them alone in a block; the tx's result."""
        return self.block([self.sign(account, msgs)]).tx_results[0]

    def ok(self, account: Account | str, *msgs: tx_pb2.Msg) -> abci.ExecTxResult:
        """Like ``run`` but the tx must succeed."""
        result = self.run(account, *msgs)
        assert result.code == 0, result.log
        return result

    def committed_nonce(self, account: Account | str) -> int:
        acct = self.accounts[account] if isinstance(account, str) else account
        response = self.query("/members/account", {"address": acct.address})
        assert response.code == 0, response.log
        return state_pb2.Account.FromString(response.value).nonce


def started(path: Path, **kwargs: Any) -> Driver:
    """A driver whose chain has run InitChain and one empty block."""
    driver = Driver(path, **kwargs)
    driver.init_chain()
    driver.block([])
    return driver


# --- message builders ---------------------------------------------------------------------------


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def register(org: str, name: str, description: str = "") -> tx_pb2.Msg:
    return tx_pb2.Msg(
        register_model=tx_pb2.RegisterModel(owner_org=org, name=name, description=description)
    )


def publish_body(model: str, version: str, **overrides: Any) -> tx_pb2.PublishVersion:
    fields: dict[str, Any] = {
        "model": model,
        "version": version,
        "weights_digest": digest(f"{model}@{version}"),
        "size_bytes": 1_000_000,
        "format": "safetensors",
        "framework": "pytorch",
        "storage_uris": [f"https://weights.example.org/{model}/{version}"],
    }
    fields.update(overrides)
    return tx_pb2.PublishVersion(**fields)


def publish(model: str, version: str, **overrides: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(publish_version=publish_body(model, version, **overrides))


def set_status(model: str, version: str, status: int, reason: str = "superseded") -> tx_pb2.Msg:
    return tx_pb2.Msg(
        set_version_status=tx_pb2.SetVersionStatus(
            model=model,
            version=version,
            status=status,  # type: ignore[arg-type]
            reason=reason,
        )
    )


def transfer(model: str, new_owner: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(transfer_model=tx_pb2.TransferModel(model=model, new_owner_org=new_owner))


# --- licensed inputs (issue 13): another org's parent or dataset needs a receipt ---------------

FREE_LICENSE = "def authorize(ctx):\n    return allow()\n"


def licensed(
    driver: Driver, owner: str, consumer: str, refs: Sequence[str], purpose: str = "fine-tune"
) -> list[int]:
    """Attach a free license of ``owner``'s org (deployed here) to each of ``refs`` and take a
    receipt of an allowed ``purpose`` use of each by ``consumer``; the receipt ids, to name in
    a derivative's ``license_receipts``."""
    org = driver[owner].org
    name = f"free{driver.height}"
    deploy = tx_pb2.DeployLicense(name=name, source=FREE_LICENSE)
    driver.ok(owner, tx_pb2.Msg(deploy_license=deploy))
    ids = []
    for ref in refs:
        model, _, version = ref.rpartition("@")
        attach = tx_pb2.AttachLicense(model=model, version=version, license=f"{org}/{name}")
        driver.ok(owner, tx_pb2.Msg(attach_license=attach))
        use = tx_pb2.Use(model=model, version=version, purpose=purpose, quantity=1)
        result = driver.ok(consumer, tx_pb2.Msg(use=use))
        [receipt] = [e for e in result.events if e.type == "usage.receipt"]
        ids.append(int(next(a.value for a in receipt.attributes if a.key == "id")))
    return ids
