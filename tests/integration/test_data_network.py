"""Datasets on a real 4-validator testnet (issue 13): the demo's datasets chapter runs through
the engine, a model trained on licensed data pays the data's owner its royalty, and every node
agrees. Base port 13656 (the datasets helper's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nets import running

from chain import testnet as net
from chain.client import Node
from chain.demo_data import DATASET, MODEL, data_tour

pytestmark = pytest.mark.integration
BASE_PORT = 13656


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("data"), 4, BASE_PORT) as testnet:
        yield testnet


def test_the_datasets_chapter_pays_a_royalty_and_every_node_agrees(
    network: net.Testnet, capsys: pytest.CaptureFixture[str]
) -> None:
    data_tour(network)
    told = capsys.readouterr().out
    assert "refused [models/37]" in told, told
    assert "royalty 1000 bp for open-health/clinical-notes@1.0" in told, told
    nodes = [Node(n.rpc_url) for n in network.nodes]
    receipts = list(nodes[3].receipts(model=MODEL))
    assert [(p.org, p.amount) for p in receipts[-1].payees] == [
        ("acme-ai", 450),
        ("open-health", 50),
    ]
    assert [r.purpose for r in nodes[2].receipts(model=DATASET)] == ["training"]
    top = min(n.height() for n in nodes)
    hashes = {n.app_hash_at(top) for n in nodes}
    assert len(hashes) == 1
