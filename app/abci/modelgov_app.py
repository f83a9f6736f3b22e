"""modelgov's ABCI application: requests in, the state machine and the Merkle store behind.

The writes of InitChain and of the block being finalized wait in overlays; FinalizeBlock
computes the next app hash from them without touching the disk, and Commit is the only writer:
one synced LevelDB batch holding the block's state and the new (height, app hash). Info answers
what Commit saved, so after a crash the engine replays exactly the blocks that were lost.

Consensus requests out of the engine's order are refused (``OutOfOrder``) before they change
anything. Info and Query run on the server's query thread and read only a ``CommittedView`` of
the store, never the overlays or the store's own caches.
"""

from __future__ import annotations

import logging
import platform
import time

from app import APP_VERSION, SOFTWARE_VERSION, machine
from app.abci import convert
from app.abci.application import BaseApplication, OutOfOrder
from app.abci.gas_estimates import GasEstimates
from app.core.env import BlockEnv
from app.core.errors import BAD_QUERY, HEIGHT_UNAVAILABLE, TxError
from app.core.gas import TX_GAS, block_budget
from app.core.query import QueryAnswer
from app.core.tx import SignatureCache, decode_envelope
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import proof_pb2
from app.state import Overlay
from app.store import CommittedView, MerkleStore, StagedCommit

log = logging.getLogger("modelgov.app")

PROOF_OP_TYPE = "modelgov/smt"
MAX_STORE_KEY_BYTES = 4096
"""Longest key a /store query may name (state keys are far shorter)."""


def info_data() -> str:
    """What /abci_info's data says of this process: the app and the Python running it
    (validators must agree on the supported Pythons, so operators need to see which)."""
    return f"modelgov python={platform.python_version()} {platform.python_implementation()}"


class ModelgovApp(BaseApplication):
    """The consortium's state machine as the engine sees it."""

    def __init__(self, store: MerkleStore) -> None:
        self.store = store
        self.signatures = SignatureCache()
        self.gas_estimates = GasEstimates()
        self.block_started, self.block_txs = 0.0, 0  # for the log line of each commit
        self._reset_consensus()

    def _reset_consensus(self) -> None:
        """What is kept between consensus requests, as a fresh process has it: nothing that
        was not committed."""
        self.pending = Overlay(self.store)  # InitChain's writes until the first Commit
        self.block: Overlay | None = None  # the finalized block's writes until Commit
        self.staged: StagedCommit | None = None
        self.finalized_height = 0
        self.genesis_height: int | None = None  # InitChain's initial height until a Commit
        self.chain_id = machine.chain_id(self.store)
        self.mempool = Overlay(self.pending)
        machine.block_done()  # what an uncommitted block pinned

    def consensus_closed(self) -> None:
        """The engine's consensus connection closed: forget the uncommitted block and genesis;
        the engine that connects next asks Info and replays them."""
        self._reset_consensus()

    def info(self, req: abci.RequestInfo) -> abci.ResponseInfo:
        """Query connection, at start-up: what Commit last saved, so the engine can replay."""
        with self.store.view() as view:
            height, root = view.height, view.root
        return abci.ResponseInfo(
            data=info_data(),
            version=SOFTWARE_VERSION,
            app_version=APP_VERSION,
            last_block_height=height,
            last_block_app_hash=root if height > 0 else b"",
        )

    def init_chain(self, req: abci.RequestInitChain) -> abci.ResponseInitChain:
        """Consensus connection, before block 1: load the consortium from genesis app_state.

        A malformed app_state raises GenesisError, which stops the node with the field and the
        reason (``modelgov genesis`` refuses such a file before any node starts). The engine
        sends InitChain only while the app reports height 0, once per connection.
        """
        if self.store.height > 0 or self.genesis_height is not None:
            raise OutOfOrder(f"InitChain at committed height {self.store.height}, or a second")
        pending = Overlay(self.store)
        validators = [ed25519_validator(update) for update in req.validators]
        consortium = machine.init_chain(pending, req.chain_id, req.app_state_bytes, validators)
        self.genesis_height = max(req.initial_height, 1)
        self.pending = pending
        self.chain_id = req.chain_id
        self.mempool = Overlay(self.pending)
        self.staged = self.store.stage(self.pending.pending(), machine.UNHASHED)
        log.info("genesis: %d orgs, %d accounts", len(consortium.orgs), len(consortium.accounts))
        return abci.ResponseInitChain(app_hash=self.staged.root)

    def check_tx(self, req: abci.RequestCheckTx) -> abci.ResponseCheckTx:
        """Mempool connection: admit a tx if it decodes, verifies, its nonce is next and its
        sender has not too many others waiting."""
        env = BlockEnv(self.chain_id, self.store.height + 1, 0)
        result = machine.check_tx(self.mempool, env, req.tx, self.signatures, self.pending)
        return convert.check_tx_response(result)

    def prepare_proposal(self, req: abci.RequestPrepareProposal) -> abci.ResponsePrepareProposal:
        """Consensus connection, as proposer: keep the mempool's order, drop what cannot decode
        or would push the block past ``max_tx_bytes``, and stop before the gas the chosen
        transactions are expected to use (``GasEstimates``; each counts at least TX_GAS)
        passes the block's budget: the rest wait in the mempool. A transaction the budget
        refused in the block would leave its sender's later ones in the mempool out of order."""
        current = machine.params(self.pending)
        budget = block_budget(current)
        max_tx, most = current.max_tx_bytes, budget // TX_GAS
        chosen: list[bytes] = []
        total = expected = 0
        for raw in req.txs:
            if len(chosen) == most:
                break
            body = _body(raw, max_tx)
            if body is None:
                continue
            size = convert.proto_size_in_block(raw)
            gas = self.gas_estimates.expected(body, budget)
            if total + size > req.max_tx_bytes or (chosen and expected + gas > budget):
                break
            chosen.append(raw)
            total += size
            expected += gas
        return abci.ResponsePrepareProposal(txs=chosen)

    def process_proposal(self, req: abci.RequestProcessProposal) -> abci.ResponseProcessProposal:
        """Consensus connection: reject a proposal holding an undecodable or oversize tx, or
        more transactions than the block's gas budget runs (PrepareProposal never offers more),
        before parsing any."""
        current = machine.params(self.pending)
        max_tx, most = current.max_tx_bytes, block_budget(current) // TX_GAS
        ok = len(req.txs) <= most and not any(_undecodable(raw, max_tx) for raw in req.txs)
        status = abci.ResponseProcessProposal.ACCEPT if ok else abci.ResponseProcessProposal.REJECT
        return abci.ResponseProcessProposal(status=status)

    def finalize_block(self, req: abci.RequestFinalizeBlock) -> abci.ResponseFinalizeBlock:
        """Consensus connection, once per decided block: execute it and compute the app hash.
        The height is the one after the last commit (after InitChain: the initial height)."""
        expected = self._next_height()
        if req.height != expected:
            raise OutOfOrder(f"FinalizeBlock for height {req.height}; the next is {expected}")
        self.block_started, self.block_txs = time.perf_counter(), len(req.txs)
        env = BlockEnv(self.chain_id, req.height, req.time.seconds, req.proposer_address)
        self.block = Overlay(self.pending)
        output = machine.finalize_block(self.block, env, list(req.txs), self.signatures)
        writes = dict(self.pending.pending())
        writes.update(self.block.pending())
        self.staged = self.store.stage(writes, machine.UNHASHED)
        self.finalized_height = req.height
        response = abci.ResponseFinalizeBlock(
            events=[convert.event(e) for e in output.events],
            validator_updates=[convert.validator_update(v) for v in output.validator_updates],
            app_hash=self.staged.root,
        )
        for result in output.tx_results:
            convert.fill_exec_tx_result(response.tx_results.add(), result)
        self.gas_estimates.learn(req.txs, output.tx_results, machine.params(self.pending))
        return response

    def commit(self, req: abci.RequestCommit) -> abci.ResponseCommit:
        """Consensus connection, after FinalizeBlock: the one write of the block, synced."""
        if self.staged is None or self.block is None:
            raise OutOfOrder("Commit without a finalized block")
        self.store.commit(self.staged, self.finalized_height)
        taken = int((time.perf_counter() - self.block_started) * 1000)
        log.info(
            "committed height %d: %d txs, app hash %s, %d ms",
            self.finalized_height,
            self.block_txs,
            self.staged.root.hex(),
            taken,
        )
        machine.block_done()
        self.pending = Overlay(self.store)
        self.block, self.staged, self.genesis_height = None, None, None
        self.mempool = Overlay(self.store)
        return abci.ResponseCommit(retain_height=0)

    def _next_height(self) -> int:
        """The height FinalizeBlock must name; raises OutOfOrder before InitChain."""
        if self.store.height > 0:
            return self.store.height + 1
        if self.genesis_height is None:
            raise OutOfOrder("FinalizeBlock before InitChain")
        return self.genesis_height

    def query(self, req: abci.RequestQuery) -> abci.ResponseQuery:
        """Query connection: answer a typed query or a raw ``/store`` key, with proof if asked,
        all from one committed version of the state."""
        with self.store.view() as view:
            return _query(view, req)


def _query(view: CommittedView, req: abci.RequestQuery) -> abci.ResponseQuery:
    height = view.height
    try:
        if req.height not in (0, height):
            raise TxError(HEIGHT_UNAVAILABLE, f"asked {req.height}, the state is at {height}")
        answer = _answer(view, req)
        if req.prove and answer.key.startswith(machine.UNHASHED):
            raise TxError(BAD_QUERY, "an index entry is kept outside the app hash: no proof")
    except TxError as err:
        return abci.ResponseQuery(
            code=err.error.code, codespace=err.error.codespace, log=err.log, height=height
        )
    response = abci.ResponseQuery(key=answer.key, value=answer.value, height=height)
    if req.prove and answer.key:
        proof = view.prove(answer.key)
        response.proof_ops.CopyFrom(
            proof_pb2.ProofOps(
                ops=[proof_pb2.ProofOp(type=PROOF_OP_TYPE, key=answer.key, data=proof.encode())]
            )
        )
    return response


def _answer(view: CommittedView, req: abci.RequestQuery) -> QueryAnswer:
    if req.path == "/store":
        if len(req.data) > MAX_STORE_KEY_BYTES:
            raise TxError(BAD_QUERY, f"a /store key is at most {MAX_STORE_KEY_BYTES} bytes")
        return QueryAnswer(view.get(req.data) or b"", req.data)
    return machine.route_query(view, req.path, req.data)


def ed25519_validator(update: abci.ValidatorUpdate) -> tuple[bytes, int]:
    """(public key, power) of a genesis validator; modelgov validators use ed25519 keys."""
    if update.pub_key.WhichOneof("sum") != "ed25519":
        raise ValueError("modelgov validators use ed25519 keys")
    return update.pub_key.ed25519, update.power


def _undecodable(raw: bytes, max_tx_bytes: int) -> bool:
    return _body(raw, max_tx_bytes) is None


def _body(raw: bytes, max_tx_bytes: int) -> tx_pb2.TxBody | None:
    """The body of a transaction that decodes, else None."""
    try:
        return decode_envelope(raw, max_tx_bytes)[1]
    except TxError:
        return None
