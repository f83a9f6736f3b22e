"""Node.wait_for_height returns only once the node's app has committed the height: the engine's
``/status`` counts a block as soon as it has stored it, before its app has executed and
committed it, and a query in between answers from the block before."""

from __future__ import annotations

from typing import Any

import pytest

from chain.client import ClientError, Node
from chain.rpc import RpcClient


class StoredBeforeApplied(RpcClient):
    """``/status`` at ``stored`` at once; ``/abci_info`` one block further per poll, up to
    ``stored`` (or up to ``stuck``: an app that stopped committing)."""

    def __init__(self, stored: int, applied: int, stuck: int | None = None) -> None:
        super().__init__("http://127.0.0.1:1")
        self.stored, self.applied = stored, applied
        self.ceiling = stored if stuck is None else stuck
        self.polls = 0

    def call(self, method: str, **params: Any) -> Any:
        if method == "status":
            return {"sync_info": {"latest_block_height": str(self.stored)}}
        if method == "abci_info":
            self.polls += 1
            seen, self.applied = self.applied, min(self.applied + 1, self.ceiling)
            return {"response": {"last_block_height": str(seen)} if seen else {}}
        raise AssertionError(method)


def node_with(rpc: RpcClient) -> Node:
    node = Node("http://127.0.0.1:1", chain_id="test")
    node.rpc = rpc
    return node


@pytest.mark.parametrize(
    ("stored", "applied", "wanted", "polls"),
    [
        (7, 6, 7, 2),  # stored, not yet applied: wait for the app
        (7, 7, 7, 1),  # applied: at once
        (7, 0, 1, 2),  # a fresh app answers no height at all (JSON leaves out the zero)
    ],
)
def test_it_waits_for_the_apps_commit_not_the_engines_store(
    stored: int, applied: int, wanted: int, polls: int
) -> None:
    rpc = StoredBeforeApplied(stored, applied)
    node_with(rpc).wait_for_height(wanted, timeout=5)
    assert rpc.polls == polls
    assert node_with(rpc).applied_height() >= wanted


def test_a_height_stored_but_never_applied_times_out() -> None:
    rpc = StoredBeforeApplied(stored=8, applied=6, stuck=7)
    with pytest.raises(ClientError, match="did not reach height 8"):
        node_with(rpc).wait_for_height(8, timeout=0.5)
    assert rpc.polls >= 2


class Clock(RpcClient):
    """A node whose engine stored ``stored`` (at ``time``) and whose app applied ``applied``."""

    def __init__(self, stored: int, applied: int) -> None:
        super().__init__("http://127.0.0.1:1")
        self.stored, self.applied = stored, applied

    def call(self, method: str, **params: Any) -> Any:
        if method == "status":
            sync = {"latest_block_height": str(self.stored)}
            return {"sync_info": {**sync, "latest_block_time": "2026-12-02T10:00:05.5Z"}}
        if method == "abci_info":
            return {"response": {"last_block_height": str(self.applied)}}
        raise AssertionError(method)


@pytest.mark.parametrize(("stored", "applied"), [(7, 7), (7, 6)])
def test_a_dry_run_assumes_the_block_after_the_state_it_reads(stored: int, applied: int) -> None:
    """Stored but not yet applied, block 7 is the next for the state a query reads (at 6), and
    its time is known; applied, the next is 8, at the latest time known."""
    height, time = node_with(Clock(stored, applied)).next_block()
    assert (height, time) == (applied + 1, 1_796_205_605)
