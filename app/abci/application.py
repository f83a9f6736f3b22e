"""The ABCI 2.0 method set with a harmless default for each, in the spirit of py-abci.

A subclass overrides what it implements; each method says when the engine calls it. Snapshot
methods answer that there are no snapshots; vote extensions are empty and only empty ones pass.
"""

from __future__ import annotations

from app.pb.tendermint.abci import types_pb2 as abci


class OutOfOrder(Exception):
    """A request the engine never sends in this order (Commit without a finalized block,
    FinalizeBlock for another height than the next, a second InitChain). Raised before anything
    changes; the server closes the connection that sent it and the node goes on."""


class BaseApplication:
    """Default answers for every ABCI 2.0 request."""

    def consensus_closed(self) -> None:
        """The consensus connection closed (the engine stopped or restarts): drop whatever was
        kept for it. A new engine starts again with Info and replays what was not committed."""

    def echo(self, req: abci.RequestEcho) -> abci.ResponseEcho:
        """Any connection, to check the app is alive: answer the message back."""
        return abci.ResponseEcho(message=req.message)

    def info(self, req: abci.RequestInfo) -> abci.ResponseInfo:
        """Query connection, at start-up (handshake): the last committed height and app hash."""
        return abci.ResponseInfo()

    def init_chain(self, req: abci.RequestInitChain) -> abci.ResponseInitChain:
        """Consensus connection, once, before the first block when the app reports height 0."""
        return abci.ResponseInitChain()

    def query(self, req: abci.RequestQuery) -> abci.ResponseQuery:
        """Query connection, for every abci_query of a client."""
        return abci.ResponseQuery(code=1, log="queries are not supported")

    def check_tx(self, req: abci.RequestCheckTx) -> abci.ResponseCheckTx:
        """Mempool connection, for each new tx and again (recheck) for those left after a block."""
        return abci.ResponseCheckTx()

    def prepare_proposal(self, req: abci.RequestPrepareProposal) -> abci.ResponsePrepareProposal:
        """Consensus connection, when this node proposes: choose the block's txs."""
        return abci.ResponsePrepareProposal(txs=req.txs)

    def process_proposal(self, req: abci.RequestProcessProposal) -> abci.ResponseProcessProposal:
        """Consensus connection, for every proposal this node sees: accept or reject it."""
        return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT)

    def extend_vote(self, req: abci.RequestExtendVote) -> abci.ResponseExtendVote:
        """Consensus connection, before precommitting, only when vote extensions are enabled."""
        return abci.ResponseExtendVote()

    def verify_vote_extension(
        self, req: abci.RequestVerifyVoteExtension
    ) -> abci.ResponseVerifyVoteExtension:
        """Consensus connection, for other validators' extensions when they are enabled."""
        status = abci.ResponseVerifyVoteExtension.ACCEPT
        if req.vote_extension:
            status = abci.ResponseVerifyVoteExtension.REJECT
        return abci.ResponseVerifyVoteExtension(status=status)

    def finalize_block(self, req: abci.RequestFinalizeBlock) -> abci.ResponseFinalizeBlock:
        """Consensus connection, once per decided block: execute it, persist nothing."""
        results = [abci.ExecTxResult() for _ in req.txs]
        return abci.ResponseFinalizeBlock(tx_results=results)

    def commit(self, req: abci.RequestCommit) -> abci.ResponseCommit:
        """Consensus connection, after FinalizeBlock: persist the block's state."""
        return abci.ResponseCommit()

    def list_snapshots(self, req: abci.RequestListSnapshots) -> abci.ResponseListSnapshots:
        """Snapshot connection, when a peer state-syncs from us: we offer none."""
        return abci.ResponseListSnapshots()

    def offer_snapshot(self, req: abci.RequestOfferSnapshot) -> abci.ResponseOfferSnapshot:
        """Snapshot connection, when state-syncing: this app restores none."""
        return abci.ResponseOfferSnapshot(result=abci.ResponseOfferSnapshot.REJECT)

    def load_snapshot_chunk(
        self, req: abci.RequestLoadSnapshotChunk
    ) -> abci.ResponseLoadSnapshotChunk:
        """Snapshot connection, serving a chunk of a snapshot we offered: there are none."""
        return abci.ResponseLoadSnapshotChunk()

    def apply_snapshot_chunk(
        self, req: abci.RequestApplySnapshotChunk
    ) -> abci.ResponseApplySnapshotChunk:
        """Snapshot connection, restoring: never reached since every snapshot is rejected."""
        return abci.ResponseApplySnapshotChunk(result=abci.ResponseApplySnapshotChunk.ABORT)
