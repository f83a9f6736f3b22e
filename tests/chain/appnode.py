"""A node in this process for the client and CLI tests: the real app behind the engine's RPC.

``AppRpc`` is an ``RpcClient`` whose JSON-RPC calls (``status``, ``abci_query``,
``broadcast_tx_sync``, ``tx``, ``commit``) are answered the way CometBFT v0.38 answers them,
by a ``ModelgovApp`` over a fresh store whose genesis is the example consortium (its accounts'
keys in a keyring). Each accepted transaction is a block of its own, and every ``status`` call
commits an empty block, as a live chain moves on while a client looks. ``Node`` and the CLI run
unchanged on top, so every query path is asked of the real query handlers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from app.abci.modelgov_app import ModelgovApp
from app.core.valuemap import from_data
from app.models.claims import commitment
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import keys_pb2
from app.store import MerkleStore
from chain.client import Node
from chain.genesis import account_pubkeys, app_state_of, load_consortium
from chain.keys import Key, Keyring
from chain.rpc import RpcClient, RpcError
from chain.testnet import DEFAULT_CONSORTIUM
from chain.weights.client import publish_msg
from chain.weights.digest import hash_path

CHAIN_ID = "modelgov-inprocess"
GENESIS_TIME = 1_750_000_000
BLOCK_SECONDS = 5
VALIDATOR_KEY = bytes(range(32))


class AppRpc(RpcClient):
    """The engine's RPC, answered by a ModelgovApp in this process."""

    def __init__(self, directory: Path) -> None:
        super().__init__("inprocess://app")
        self.keyring = Keyring(directory / "keys")
        self.store = MerkleStore(directory / "state.db")
        self.app = ModelgovApp(self.store)
        self.app_hashes: dict[int, bytes] = {}
        self.results: dict[str, tuple[int, abci.ExecTxResult]] = {}
        self.queried: list[str] = []
        self._genesis()

    def close(self) -> None:
        self.store.close()

    def _genesis(self) -> None:
        spec = load_consortium(DEFAULT_CONSORTIUM)
        state = app_state_of(spec, account_pubkeys(spec, self.keyring))
        validator = abci.ValidatorUpdate(
            pub_key=keys_pb2.PublicKey(ed25519=VALIDATOR_KEY), power=10
        )
        genesis = self.app.init_chain(
            abci.RequestInitChain(
                chain_id=CHAIN_ID,
                app_state_bytes=json.dumps(state).encode(),
                time=Timestamp(seconds=GENESIS_TIME),
                initial_height=1,
                validators=[validator],
            )
        )
        self.app_hashes[0] = genesis.app_hash
        self.block([])

    @property
    def height(self) -> int:
        return self.store.height

    def block(self, txs: list[bytes]) -> abci.ResponseFinalizeBlock:
        """Decide and commit the next block holding ``txs``."""
        height = self.height + 1
        done = self.app.finalize_block(
            abci.RequestFinalizeBlock(
                txs=txs,
                height=height,
                time=Timestamp(seconds=self._time(height)),
                proposer_address=b"\x01" * 20,
            )
        )
        self.app.commit(abci.RequestCommit())
        self.app_hashes[height] = done.app_hash
        return done

    def _time(self, height: int) -> int:
        return GENESIS_TIME + BLOCK_SECONDS * height

    # --- JSON-RPC -----------------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> Any:
        """One JSON-RPC call, answered in this process."""
        handler = getattr(self, f"_rpc_{method}", None)
        if handler is None:
            raise RpcError(f"{method}: Method not found")
        return handler(**params)

    def _rpc_status(self) -> dict[str, Any]:
        self.block([])
        when = datetime.fromtimestamp(self._time(self.height), UTC)
        return {
            "node_info": {"network": CHAIN_ID},
            "sync_info": {
                "latest_block_height": str(self.height),
                "latest_block_time": when.strftime("%Y-%m-%dT%H:%M:%S.000000000Z"),
                "catching_up": False,
            },
        }

    def _rpc_genesis(self) -> dict[str, Any]:
        """The engine's genesis document, as far as an export keeps it (its parameters)."""
        return {"genesis": {"chain_id": CHAIN_ID, "consensus_params": {"block": {}}}}

    def _rpc_abci_info(self) -> dict[str, Any]:
        info = self.app.info(abci.RequestInfo())
        return {
            "response": {
                "last_block_height": str(info.last_block_height),
                "last_block_app_hash": base64.b64encode(info.last_block_app_hash).decode(),
            }
        }

    def _rpc_abci_query(self, path: str, data: str, prove: bool, height: str) -> dict[str, Any]:
        self.queried.append(path)
        request = abci.RequestQuery(
            path=path, data=bytes.fromhex(data), prove=prove, height=int(height)
        )
        answer = self.app.query(request)
        ops = [
            {"type": op.type, "key": _b64(op.key), "data": _b64(op.data)}
            for op in answer.proof_ops.ops
        ]
        return {
            "response": {
                "code": answer.code,
                "log": answer.log,
                "codespace": answer.codespace,
                "key": _b64(answer.key) or None,
                "value": _b64(answer.value) or None,
                "proofOps": {"ops": ops} if ops else None,
                "height": str(answer.height),
            }
        }

    def _rpc_broadcast_tx_sync(self, tx: str) -> dict[str, Any]:
        raw = base64.b64decode(tx)
        checked = self.app.check_tx(abci.RequestCheckTx(tx=raw, type=abci.NEW))
        tx_hash = hashlib.sha256(raw).hexdigest().upper()
        if checked.code == 0:
            done = self.block([raw])
            self.results[tx_hash] = (self.height, done.tx_results[0])
        return {
            "code": checked.code,
            "log": checked.log,
            "codespace": checked.codespace,
            "hash": tx_hash,
        }

    def _rpc_tx(self, hash: str) -> dict[str, Any]:
        tx_hash = base64.b64decode(hash).hex().upper()
        if tx_hash not in self.results:
            raise RpcError(f"tx: tx ({tx_hash}) not found")
        height, result = self.results[tx_hash]
        events = [
            {
                "type": e.type,
                "attributes": [{"key": a.key, "value": a.value} for a in e.attributes],
            }
            for e in result.events
        ]
        return {
            "hash": tx_hash,
            "height": str(height),
            "tx_result": {
                "code": result.code,
                "log": result.log,
                "codespace": result.codespace,
                "events": events,
            },
        }

    def _rpc_commit(self, height: str) -> dict[str, Any]:
        wanted = int(height)
        while self.height < wanted:
            self.block([])
        app_hash = self.app_hashes[wanted - 1].hex().upper()
        return {"signed_header": {"header": {"height": height, "app_hash": app_hash}}}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- one of each record ------------------------------------------------------------------

MODEL = "northwind-uni/mlp"
LICENSE = Path(__file__).resolve().parents[2] / "genesis" / "licenses" / "open.lic"
FILE_DIGEST = "sha256:" + "ab" * 32
CLAIMED_DIGEST = "sha256:" + "cd" * 32
SALT = bytes(range(32))


def populated(directory: Path) -> tuple[Node, AppRpc]:
    """A node over the app whose chain holds one of each record: a model with two versions
    (1.1 a directory), a provider, a license attached, an alias (stable -> 1.0), a use, an
    attestation, a round, a claim and a proposal."""
    rpc = AppRpc(directory)
    node = Node("inprocess://app")
    node.rpc = rpc
    populate(node, rpc.keyring, directory)
    return node, rpc


def populate(node: Node, ring: Keyring, directory: Path) -> None:
    researcher, auditor, admin = (
        ring.get(n) for n in ("northwind-researcher", "openhealth-auditor", "northwind-admin")
    )
    weights = directory / "weights"
    weights.mkdir()
    (weights / "a.bin").write_bytes(b"a" * 100)
    (weights / "b.bin").write_bytes(b"b" * 50)
    hashed = hash_path(weights)
    msgs = [
        tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org="northwind-uni", name="mlp")),
        tx_pb2.Msg(
            publish_version=tx_pb2.PublishVersion(
                model=MODEL,
                version="1.0",
                weights_digest=FILE_DIGEST,
                size_bytes=10,
                format="safetensors",
                framework="pytorch",
                storage_uris=["https://weights.example.org/1.0"],
            )
        ),
        publish_msg(
            MODEL, "1.1", hashed, "safetensors", "https://w.example.org", "", (MODEL + "@1.0",)
        ),
        tx_pb2.Msg(
            announce_provider=tx_pb2.AnnounceProvider(
                digest=FILE_DIGEST, url="https://w.example.org"
            )
        ),
        tx_pb2.Msg(
            deploy_license=tx_pb2.DeployLicense(
                name="open", source=LICENSE.read_text(), params=from_data({})
            )
        ),
        tx_pb2.Msg(
            attach_license=tx_pb2.AttachLicense(
                model=MODEL, version="1.0", license="northwind-uni/open"
            )
        ),
        tx_pb2.Msg(
            open_round=tx_pb2.OpenRound(
                base_model=MODEL,
                base_version="1.0",
                target_model=MODEL,
                target_version="2.0",
                invited_orgs=["acme-ai"],
                min_participants=1,
                deadline_height=node.height() + 1000,
            )
        ),
        tx_pb2.Msg(set_alias=tx_pb2.SetAlias(model=MODEL, alias="stable", version="1.0")),
        tx_pb2.Msg(
            claim_digests=tx_pb2.ClaimDigests(
                commitments=[commitment(CLAIMED_DIGEST, "northwind-uni", SALT)]
            )
        ),
    ]
    for msg in msgs:
        node.send(researcher, [msg])
    populate_datasets(node, researcher)
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="research", quantity=1, max_fee=0)
    node.send(ring.get("acme-ml"), [tx_pb2.Msg(use=use)])
    attest = tx_pb2.Attest(model=MODEL, version="1.0", kind="evaluation", method="held out")
    node.send(auditor, [tx_pb2.Msg(attest=attest)])
    action = tx_pb2.ProposalAction(
        set_params=tx_pb2.SetParams(changes=[tx_pb2.ParamChange(name="max_tx_bytes", value=65536)])
    )
    proposal = tx_pb2.SubmitProposal(action=action, title="the same max_tx_bytes")
    node.send(admin, [tx_pb2.Msg(submit_proposal=proposal)])
    populate_market(node, ring)


def populate_market(node: Node, ring: Keyring) -> None:
    """A listing of the model, a lease offer of 1.0 and acme's lease of it."""
    offer = tx_pb2.OfferLease(
        model=MODEL, version="1.0", price_per_1000_blocks=100, purposes=["inference"]
    )
    listing = tx_pb2.ListModel(model=MODEL, price=5000)
    msgs = [tx_pb2.Msg(list_model=listing), tx_pb2.Msg(offer_lease=offer)]
    node.send(ring.get("northwind-admin"), msgs)
    rent = tx_pb2.LeaseVersion(
        model=MODEL, version="1.0", blocks=1000, max_price=100, purposes=["inference"]
    )
    node.send(ring.get("acme-admin"), [tx_pb2.Msg(lease_version=rent)])


DATASET = "northwind-uni/corpus"


def populate_datasets(node: Node, researcher: Key) -> None:
    """A dataset with a version under the open license, and a model version trained on it."""
    register = tx_pb2.RegisterDataset(owner_org="northwind-uni", name="corpus")
    publish = tx_pb2.PublishDataset(
        dataset=DATASET,
        version="1.0",
        digest="sha256:" + "d" * 64,
        size_bytes=1000,
        format="parquet",
        license="northwind-uni/open",
    )
    trained = tx_pb2.PublishVersion(
        model=MODEL,
        version="1.2",
        weights_digest="sha256:" + "e" * 64,
        size_bytes=10,
        format="safetensors",
        framework="pytorch",
        trained_on=[DATASET + "@1.0"],
    )
    for msg in (
        tx_pb2.Msg(register_dataset=register),
        tx_pb2.Msg(publish_dataset=publish),
        tx_pb2.Msg(publish_version=trained),
    ):
        node.send(researcher, [msg])
