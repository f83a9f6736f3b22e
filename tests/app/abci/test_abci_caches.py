"""Nothing a block answers depends on what the process remembers.

A validator that saw every transaction in its mempool (verified signatures remembered, license
programs compiled, parameters converted, committed reads and tree nodes cached, gas estimates
learned) and one that restarts before every block with all of that forgotten, that never saw the
transactions before they came in a block, and that crashes once between FinalizeBlock and
Commit and replays the block, must answer every block alike: app hash, every tx result (logs and
events included) and validator updates. The blocks are the recorded cross-Python sequence (every
message kind, hostile values and scripts).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from app.abci.modelgov_app import ModelgovApp
from app.core import crypto
from app.licenses import programs
from app.pb.tendermint.abci import types_pb2 as abci
from app.store import MerkleStore

APP_TESTS = Path(__file__).resolve().parents[1]
BLOCKS = APP_TESTS / "recorded" / "blocks.json.gz"


def _replay_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "xpy_replay_for_caches", APP_TESTS / "crosspython" / "xpy_replay.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _forget_process_caches() -> None:
    """What a fresh process starts without (each of these is process-wide)."""
    programs.CACHE = programs.ProgramCache()
    programs.PARAMS = programs.ParamsCache()
    crypto._parsed.cache_clear()


class Cold:
    """A node that restarts before every block and sees each block's txs for the first time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = MerkleStore(path)
        self.app = ModelgovApp(self.store)

    def restart(self) -> None:
        self.store.close()
        _forget_process_caches()
        self.store = MerkleStore(self.path)
        self.app = ModelgovApp(self.store)

    def block(self, height: int, seconds: int, txs: list[bytes], crash: bool) -> dict[str, Any]:
        request = abci.RequestFinalizeBlock(
            txs=txs, height=height, time=Timestamp(seconds=seconds), proposer_address=b"\x01" * 20
        )
        proposal = abci.RequestProcessProposal(txs=txs, height=height)
        accepted = self.app.process_proposal(proposal).status
        if crash:  # killed after FinalizeBlock: the engine replays the block after Info
            self.app.finalize_block(request)
            self.restart()
            assert self.app.info(abci.RequestInfo()).last_block_height == height - 1
        response = self.app.finalize_block(request)
        self.app.commit(abci.RequestCommit())
        return {"accept": accepted, "response": response}


def test_a_cold_restarting_crashing_node_answers_every_block_as_a_warm_one(
    tmp_path: Path,
) -> None:
    xpy = _replay_module()
    sequence: dict[str, Any] = json.loads(gzip.decompress(BLOCKS.read_bytes()))
    warm = xpy.Replayer(sequence, tmp_path / "warm")
    genesis = warm.init_chain()
    blocks: list[tuple[int, list[bytes], dict[str, Any]]] = []
    original = warm.app.finalize_block

    def recording(req: abci.RequestFinalizeBlock) -> abci.ResponseFinalizeBlock:
        response: abci.ResponseFinalizeBlock = original(req)
        blocks.append((req.time.seconds, list(req.txs), xpy.results(response)))
        return response

    warm.app.finalize_block = recording
    accepted = [warm.block(data)["accept"] for data in sequence["blocks"]]
    warm.store.close()
    assert len(blocks) == len(sequence["blocks"])

    _forget_process_caches()
    cold = Cold(tmp_path / "cold")
    try:
        cold.app.init_chain(_genesis_request(warm))
        for height, (seconds, txs, want) in enumerate(blocks, start=1):
            if height > 1:  # before the first Commit a restart would get InitChain again
                cold.restart()
            got = cold.block(height, seconds, txs, crash=height % 7 == 3)
            assert got["accept"] == (
                abci.ResponseProcessProposal.ACCEPT
                if accepted[height - 1]
                else abci.ResponseProcessProposal.REJECT
            )
            assert xpy.results(got["response"]) == want, f"height {height} differs"
        assert cold.store.root.hex() == blocks[-1][2]["app_hash"] != genesis
    finally:
        cold.store.close()


def _genesis_request(replayer: Any) -> abci.RequestInitChain:
    """The InitChain the warm replayer sent (rebuilt from the sequence as it builds it)."""
    sent: list[abci.RequestInitChain] = []

    class Capture:
        def init_chain(self, req: abci.RequestInitChain) -> abci.ResponseInitChain:
            sent.append(req)
            return abci.ResponseInitChain()

    app = replayer.app
    replayer.app = Capture()
    try:
        replayer.init_chain()
    finally:
        replayer.app = app
    return sent[0]
