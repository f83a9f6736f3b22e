"""``modelgov genesis export`` on a real testnet: a chain's records start a new chain.

A one-validator testnet registers a model; its state is exported through the node (while it
runs) and from the stopped node's home, which agree; a second testnet initialised from the
export (new validator keys, the same chain id) starts at the next height and holds the old
records: the model is there, and the old account signs on with its next nonce.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from nets import running

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import testnet as net
from chain.cli.main import cli
from chain.client import Node
from chain.genesis import check_genesis_file

pytestmark = pytest.mark.integration
BASE_PORT = 31656


def register(name: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        register_model=tx_pb2.RegisterModel(owner_org="northwind-uni", name=name, description="")
    )


def export(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["genesis", "export", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    doc: dict[str, object] = json.loads(Path(args[args.index("-o") + 1]).read_text())
    return doc


def test_a_new_chain_starts_from_an_export(tmp_path: Path) -> None:
    with running(tmp_path / "old", 1, BASE_PORT) as old:
        node = Node(old.nodes[0].rpc_url)
        researcher = old.keyring.get("northwind-researcher")
        node.send(researcher, [register("exported")])
        through = export("--node", old.nodes[0].rpc_url, "-o", str(tmp_path / "node.json"))
    stopped = tmp_path / "home.json"
    from_home = export("--home", old.nodes[0].home, "-o", str(stopped))
    assert through["app_state"] == from_home["app_state"]
    assert int(str(from_home["initial_height"])) >= int(str(through["initial_height"])) > 2
    check_genesis_file(stopped)
    height = int(str(from_home["initial_height"]))
    new = net.init(
        tmp_path / "new" / "net",
        1,
        consortium_file=stopped,
        base_port=BASE_PORT,
        timeout_commit="300ms",
    )
    assert new.chain_id == old.chain_id
    try:
        net.start(Path(new.directory), timeout=90)
        client = Node(new.nodes[0].rpc_url)
        client.wait_for_height(height + 1)
        status = client.rpc.status()["sync_info"]
        assert int(status["earliest_block_height"]) == height
        model = client.record("/models/model", {"id": "northwind-uni/exported"}, state_pb2.Model)
        assert model.owner_org == "northwind-uni"
        client.send(researcher, [register("after")])
        assert client.account(researcher.address).nonce == 2
    finally:
        net.stop(Path(new.directory))
