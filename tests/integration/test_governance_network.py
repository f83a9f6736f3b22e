"""Live validator changes on a real testnet: a fifth validator joins by vote and signs blocks;
another leaves by vote and the network keeps committing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nets import running

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import testnet as net
from chain.client import Node

pytestmark = pytest.mark.integration
BASE_PORT = 28656
ADMINS = ("northwind-admin", "acme-admin", "openhealth-admin")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("governance"), 4, BASE_PORT) as testnet:
        yield testnet


def validator_key(node: net.NodeSpec) -> tuple[bytes, str]:
    """(ed25519 public key, hex address) of a node's validator key file."""
    key = json.loads((node.engine_home / "config" / "priv_validator_key.json").read_text())
    return base64.b64decode(key["pub_key"]["value"]), key["address"]


def vote_in(network: net.Testnet, client: Node, pubkey: bytes, power: int, title: str) -> int:
    """Propose a validator change, have every org's admin vote yes; the decided height."""
    action = tx_pb2.ProposalAction(set_validator=tx_pb2.SetValidator(pubkey=pubkey, power=power))
    admins = [network.keyring.get(name) for name in ADMINS]
    submit = tx_pb2.SubmitProposal(action=action, title=title)
    client.send(admins[0], [tx_pb2.Msg(submit_proposal=submit)])
    proposals, _ = client.page("/members/proposals", {"limit": 200}, state_pb2.Proposal)
    proposal_id = proposals[-1].id
    for admin in admins:
        found = client.record("/members/proposal", {"id": proposal_id}, state_pb2.Proposal)
        if found.status != state_pb2.PROPOSAL_STATUS_VOTING:
            break  # decided early: it would pass whatever the rest voted
        ballot = tx_pb2.CastVote(proposal_id=proposal_id, option=tx_pb2.VOTE_OPTION_YES)
        client.send(admin, [tx_pb2.Msg(cast_vote=ballot)])
    found = client.record("/members/proposal", {"id": proposal_id}, state_pb2.Proposal)
    assert found.status == state_pb2.PROPOSAL_STATUS_PASSED, found.result
    return found.decided_height


def validator_addresses(client: Node) -> set[str]:
    return {v["address"] for v in client.rpc.validators()["validators"]}


def signers(client: Node, height: int) -> set[str]:
    commit = client.rpc.commit(height)["signed_header"]["commit"]
    return {s["validator_address"] for s in commit["signatures"] if s["block_id_flag"] == 2}


def test_a_fifth_validator_joins_by_vote_and_signs_blocks(network: net.Testnet) -> None:
    directory = Path(network.directory)
    fifth = net.add_node(directory)
    net.start_node(directory, fifth)
    joined = Node(fifth.rpc_url)
    client = Node(network.nodes[0].rpc_url)
    joined.wait_for_height(client.height(), timeout=60)
    pubkey, address = validator_key(fifth)
    assert address not in validator_addresses(client)
    decided = vote_in(network, client, pubkey, 10, "add node4")
    client.wait_for_height(decided + 4, timeout=60)
    assert address in validator_addresses(client)
    deadline = time.monotonic() + 30
    while address not in signers(client, client.height() - 1):
        assert time.monotonic() < deadline, "the new validator never signed a block"
        time.sleep(0.5)
    assert joined.height() >= decided + 3


def test_a_validator_leaves_by_vote_and_the_rest_keep_committing(network: net.Testnet) -> None:
    client = Node(network.nodes[0].rpc_url)
    leaving = network.nodes[3]
    pubkey, address = validator_key(leaving)
    decided = vote_in(network, client, pubkey, 0, "remove node3")
    client.wait_for_height(decided + 3, timeout=60)
    assert address not in validator_addresses(client)
    net.kill_node(Path(network.directory), leaving)
    before = client.height()
    client.wait_for_height(before + 3, timeout=60)
    hashes = {
        Node(n.rpc_url).rpc.call("block", height=str(before + 2))["block"]["header"]["app_hash"]
        for n in network.nodes[:3]
    }
    assert len(hashes) == 1
