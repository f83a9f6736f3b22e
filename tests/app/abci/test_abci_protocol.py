"""The ABCI methods called directly, without a socket, in the order the engine calls them."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from driver import BLOCK_SECONDS, Driver, register, timestamp

from app import APP_VERSION, SOFTWARE_VERSION
from app.abci.application import OutOfOrder
from app.abci.convert import proto_size_in_block
from app.abci.modelgov_app import ModelgovApp
from app.core import errors
from app.members.genesis import GenesisError
from app.pb.tendermint.abci import types_pb2 as abci
from app.store import MerkleStore


def test_info_before_and_after_genesis(fresh: Driver) -> None:
    info = fresh.info()
    assert (info.last_block_height, info.last_block_app_hash) == (0, b"")
    python = f"{platform.python_version()} {platform.python_implementation()}"
    assert (info.data, info.version, info.app_version) == (
        f"modelgov python={python}",
        SOFTWARE_VERSION,
        APP_VERSION,
    )
    genesis = fresh.init_chain()
    assert len(genesis.app_hash) == 32
    info = fresh.info()
    assert (info.last_block_height, info.last_block_app_hash) == (0, b"")
    first = fresh.block([])
    assert first.app_hash == genesis.app_hash  # an empty block changes nothing
    info = fresh.info()
    assert (info.last_block_height, info.last_block_app_hash) == (1, first.app_hash)
    second = fresh.block([fresh.sign("uni-pub", [register("uni", "m")])])
    assert second.app_hash != first.app_hash
    info = fresh.info()
    assert (info.last_block_height, info.last_block_app_hash) == (2, second.app_hash)
    assert fresh.block([]).app_hash == second.app_hash


def test_genesis_is_deterministic(tmp_path: Path) -> None:
    a, b = Driver(tmp_path / "a"), Driver(tmp_path / "b")
    c = Driver(tmp_path / "c", chain_id="another-chain")
    try:
        assert a.init_chain().app_hash == b.init_chain().app_hash
        assert c.init_chain().app_hash != a.genesis_app_hash
    finally:
        for d in (a, b, c):
            d.close()


@pytest.mark.parametrize(
    "app_state", [b"", b"null", b'{"orgs": []}'], ids=["empty", "null", "no-orgs"]
)
def test_init_chain_refuses_a_malformed_consortium(fresh: Driver, app_state: bytes) -> None:
    request = abci.RequestInitChain(chain_id="c", app_state_bytes=app_state, time=timestamp(0))
    with pytest.raises(GenesisError):
        fresh.app.init_chain(request)


def test_commit_without_finalize_is_out_of_order(chain: Driver) -> None:
    with pytest.raises(OutOfOrder):
        chain.app.commit(abci.RequestCommit())


def test_echo(chain: Driver) -> None:
    assert chain.app.echo(abci.RequestEcho(message="hello")).message == "hello"


def test_vote_extensions(chain: Driver) -> None:
    assert chain.app.extend_vote(abci.RequestExtendVote(height=2)).vote_extension == b""
    accept = abci.ResponseVerifyVoteExtension.ACCEPT
    reject = abci.ResponseVerifyVoteExtension.REJECT
    verify = chain.app.verify_vote_extension
    assert verify(abci.RequestVerifyVoteExtension(height=2)).status == accept
    assert verify(abci.RequestVerifyVoteExtension(height=2, vote_extension=b"x")).status == reject


def test_snapshots(chain: Driver) -> None:
    app = chain.app
    assert list(app.list_snapshots(abci.RequestListSnapshots()).snapshots) == []
    offer = app.offer_snapshot(abci.RequestOfferSnapshot(snapshot=abci.Snapshot(height=1)))
    assert offer.result == abci.ResponseOfferSnapshot.REJECT
    chunk = app.load_snapshot_chunk(abci.RequestLoadSnapshotChunk(height=1, format=1, chunk=0))
    assert chunk.chunk == b""
    applied = app.apply_snapshot_chunk(abci.RequestApplySnapshotChunk(index=0, chunk=b"x"))
    assert applied.result == abci.ResponseApplySnapshotChunk.ABORT


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 16_383, 16_384, 70_000])
def test_proto_size_in_block_matches_protobuf(size: int) -> None:
    tx = b"\x01" * size
    assert proto_size_in_block(tx) == abci.ResponsePrepareProposal(txs=[tx]).ByteSize()
    assert proto_size_in_block(tx) * 2 == abci.ResponsePrepareProposal(txs=[tx, tx]).ByteSize()


def _txs(d: Driver, n: int) -> list[bytes]:
    return [d.sign("uni-pub", [register("uni", f"m{i}")]) for i in range(n)]


def test_prepare_proposal_keeps_order_and_drops_bad_txs(chain: Driver) -> None:
    a, b, c = _txs(chain, 3)
    junk = b"\x00\x01\x02"
    oversize = chain.sign("acme-pub", [register("acme", "big", "x" * 70_000)])
    # A tx whose signature is wrong still decodes: it is kept and refused in FinalizeBlock.
    assert chain.prepare([c, junk, a, oversize, b]) == [c, a, b]
    assert chain.prepare([]) == []


def test_prepare_proposal_stops_at_max_tx_bytes(chain: Driver) -> None:
    a, b, c = _txs(chain, 3)
    small = b"\x0a\x00"  # a Tx with an empty body: decodes, refused later
    two = proto_size_in_block(a) + proto_size_in_block(b)
    assert chain.prepare([a, b, c], max_tx_bytes=two) == [a, b]
    assert chain.prepare([a, b, c], max_tx_bytes=two - 1) == [a]
    # It stops at the first tx that does not fit rather than skipping to smaller ones.
    assert chain.prepare([a, b, small], max_tx_bytes=proto_size_in_block(a) + 5) == [a]
    assert chain.prepare([a], max_tx_bytes=proto_size_in_block(a) - 1) == []
    response = chain.block(chain.prepare([a, b, c], max_tx_bytes=two))
    assert [r.code for r in response.tx_results] == [0, 0]


def test_process_proposal(chain: Driver) -> None:
    a, b = _txs(chain, 2)
    bad_signature = a[:-1] + bytes([a[-1] ^ 1])
    oversize = chain.sign("acme-pub", [register("acme", "big", "x" * 70_000)])
    assert chain.process([])
    assert chain.process([a, b])
    assert chain.process([a, bad_signature])  # decodes; FinalizeBlock refuses it
    assert not chain.process([a, b"\xff"])
    assert not chain.process([oversize, a])


def test_recheck_drops_a_tx_whose_nonce_the_block_used(chain: Driver) -> None:
    first = chain.sign("uni-pub", [register("uni", "a")], nonce=0)
    rival = chain.sign("uni-pub", [register("uni", "b")], nonce=0)  # same nonce, other body
    later = chain.sign("uni-pub", [register("uni", "c")], nonce=1)
    other = chain.sign("acme-pub", [register("acme", "d")], nonce=0)
    assert [chain.check(t).code for t in (first, later, other)] == [0, 0, 0]
    assert chain.check(rival).code == errors.NONCE_REPLAYED.code
    chain.block([rival])  # another node proposed the rival
    assert chain.check(first, recheck=True).code == errors.NONCE_REPLAYED.code
    assert chain.check(later, recheck=True).code == 0
    assert chain.check(other, recheck=True).code == 0
    assert chain.check(later, recheck=True).code == errors.NONCE_REPLAYED.code


def test_finalize_block_uses_header_time_and_height(chain: Driver) -> None:
    chain.block([chain.sign("uni-pub", [register("uni", "m")])], time=1_800_000_000)
    from app.pb.modelgov.v1 import state_pb2

    model = state_pb2.Model.FromString(chain.query("/models/model", {"id": "uni/m"}).value)
    assert (model.created_height, model.created_time) == (chain.height, 1_800_000_000)


def test_restart_after_crash_before_commit_replays_to_same_hash(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.init_chain()
    d.block([])
    tx = d.sign("uni-pub", [register("uni", "m")])
    response = d.app.finalize_block(
        abci.RequestFinalizeBlock(txs=[tx], height=2, time=timestamp(d.time + BLOCK_SECONDS))
    )
    d.close()  # killed before Commit
    store = MerkleStore(tmp_path / "state.db")
    try:
        app = ModelgovApp(store)
        info = app.info(abci.RequestInfo())
        assert (info.last_block_height, info.last_block_app_hash) == (1, d.app_hashes[-1])
        replay = app.finalize_block(
            abci.RequestFinalizeBlock(txs=[tx], height=2, time=timestamp(d.time + BLOCK_SECONDS))
        )
        assert replay.app_hash == response.app_hash
        assert [r.code for r in replay.tx_results] == [0]
        app.commit(abci.RequestCommit())
        assert app.info(abci.RequestInfo()).last_block_height == 2
    finally:
        store.close()


def test_restart_after_commit_keeps_state(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.init_chain()
    d.block([d.sign("uni-pub", [register("uni", "m")])])
    d.close()
    again = Driver(tmp_path, accounts=d.accounts, height=d.height, time=d.time)
    try:
        info = again.info()
        assert (info.last_block_height, info.last_block_app_hash) == (1, d.app_hashes[-1])
        assert again.app.chain_id == d.chain_id
        assert again.query("/models/model", {"id": "uni/m"}).code == 0
        assert again.run("uni-pub", register("uni", "n")).code == 0
    finally:
        again.close()


def test_check_tx_before_the_first_block(fresh: Driver) -> None:
    fresh.init_chain()
    response = fresh.check(fresh.sign("uni-pub", [register("uni", "m")]))
    assert response.code == 0, response.log
