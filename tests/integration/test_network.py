"""The network as operators and clients see it: real engines, real apps, real RPC.

One testnet serves the whole module; tests run in file order and the destructive ones (a
validator killed, the network restarted) come last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import modelgov
from nets import running

from app.core import crypto, errors
from app.core.crypto import SECP256K1_ORDER
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import testnet as net
from chain.client import ClientError, Node
from chain.keys import Key

pytestmark = pytest.mark.integration
BASE_PORT = 20656

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64  # open-health's own weights: another org's digest is held


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    """Four validators with short blocks; every process is stopped at teardown."""
    with running(tmp_path_factory.mktemp("testnet"), 4, BASE_PORT, chain_id="it-chain") as testnet:
        yield testnet


def nodes(network: net.Testnet) -> list[Node]:
    """A client per validator."""
    return [Node(n.rpc_url) for n in network.nodes]


def key(network: net.Testnet, name: str) -> Key:
    """A consortium account's key from the testnet keyring."""
    return network.keyring.get(name)


def register(name: str, org: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org=org, name=name))


def publish(model: str, version: str, digest: str, parents: tuple[str, ...] = ()) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        publish_version=tx_pb2.PublishVersion(
            model=model,
            version=version,
            weights_digest=digest,
            size_bytes=10,
            format="safetensors",
            framework="pytorch",
            parents=parents,
        )
    )


def test_txs_through_different_nodes_are_seen_by_all(network: net.Testnet) -> None:
    clients = nodes(network)
    researcher = key(network, "northwind-researcher")
    clients[0].send(researcher, [register("mlp", "northwind-uni")])
    clients[1].send(researcher, [publish("northwind-uni/mlp", "1.0", DIGEST_A)])
    last = clients[2].send(
        researcher, [publish("northwind-uni/mlp", "1.1", DIGEST_B, ("northwind-uni/mlp@1.0",))]
    )
    for client in clients:
        client.wait_for_height(last.height)
        found = client.record(
            "/models/version", {"model": "northwind-uni/mlp", "version": "1.1"}, state_pb2.Version
        )
        assert found.parents == ["northwind-uni/mlp@1.0"]
        assert found.height == last.height


def test_every_node_reports_the_same_app_hash_at_every_height(network: net.Testnet) -> None:
    clients = nodes(network)
    top = min(c.height() for c in clients)
    assert top >= 3
    for height in range(1, top + 1):
        hashes = {
            c.rpc.call("block", height=str(height))["block"]["header"]["app_hash"] for c in clients
        }
        assert len(hashes) == 1, f"app hashes diverge at height {height}: {hashes}"


def test_a_failing_message_is_refused_in_the_block_and_consumes_the_nonce(
    network: net.Testnet,
) -> None:
    client = nodes(network)[3]
    researcher = key(network, "northwind-researcher")
    before = client.account(researcher.address).nonce
    with pytest.raises(ClientError) as refused:
        client.send(researcher, [publish("northwind-uni/mlp", "1.0", DIGEST_B)])
    assert (refused.value.codespace, refused.value.code) == (
        model_errors.MODELS,
        model_errors.VERSION_EXISTS.code,
    )
    assert client.account(researcher.address).nonce == before + 1


def _signed(node: Node, signer: Key, nonce: int, chain_id: str | None = None) -> tx_pb2.Tx:
    body = tx_pb2.TxBody(
        chain_id=node.chain_id if chain_id is None else chain_id,
        sender=signer.pubkey,
        nonce=nonce,
        messages=[register("x", "northwind-uni")],
    )
    raw = body.SerializeToString()
    return tx_pb2.Tx(body=raw, signature=crypto.sign(signer.private_key, raw))


def _high_s(tx: tx_pb2.Tx) -> tx_pb2.Tx:
    s = int.from_bytes(tx.signature[32:], "big")
    flipped = tx.signature[:32] + (SECP256K1_ORDER - s).to_bytes(32, "big")
    return tx_pb2.Tx(body=tx.body, signature=flipped)


def _bad_signature(tx: tx_pb2.Tx) -> tx_pb2.Tx:
    body = tx_pb2.TxBody.FromString(tx.body)
    body.memo = "changed after signing"
    return tx_pb2.Tx(body=body.SerializeToString(), signature=tx.signature)


def test_every_rejection_is_answered_through_the_real_rpc(network: net.Testnet) -> None:
    client = nodes(network)[1]
    researcher = key(network, "northwind-researcher")
    admin = key(network, "acme-admin")
    nonce = client.account(researcher.address).nonce
    stranger = Key("stranger", hashlib.sha256(b"not a member").digest())
    cases: list[tuple[str, bytes, errors.ErrorCode]] = [
        ("undecodable", b"\xff\x00garbage", errors.UNDECODABLE),
        (
            "oversize",
            _signed(client, researcher, nonce).SerializeToString() + b"\x00" * 70000,
            errors.OVERSIZE,
        ),
        (
            "bad signature",
            _bad_signature(_signed(client, researcher, nonce)).SerializeToString(),
            errors.BAD_SIGNATURE,
        ),
        ("high s", _high_s(_signed(client, researcher, nonce)).SerializeToString(), errors.HIGH_S),
        (
            "wrong chain",
            _signed(client, researcher, nonce, "other-chain").SerializeToString(),
            errors.WRONG_CHAIN,
        ),
        (
            "replayed nonce",
            _signed(client, researcher, nonce - 1).SerializeToString(),
            errors.NONCE_REPLAYED,
        ),
        ("nonce gap", _signed(client, researcher, nonce + 5).SerializeToString(), errors.NONCE_GAP),
        ("unknown sender", _signed(client, stranger, 0).SerializeToString(), errors.UNKNOWN_SENDER),
        ("missing role", _signed(client, admin, 0).SerializeToString(), errors.MISSING_ROLE),
    ]
    for name, raw, expected in cases:
        with pytest.raises(ClientError) as refused:
            client.broadcast(raw)
        assert (refused.value.codespace, refused.value.code) == (
            expected.codespace,
            expected.code,
        ), name
        assert refused.value.args[0].startswith(expected.name), name


def test_a_query_proof_verifies_against_a_committed_app_hash(network: net.Testnet) -> None:
    client = nodes(network)[2]
    result = client.query(
        "/models/version", {"model": "northwind-uni/mlp", "version": "1.0"}, prove=True
    )
    assert result.proof is not None
    assert client.verified(result)
    absent = client.query_key(b"\x02mno/such-model")
    assert absent.value == b"" and absent.proof is not None
    assert client.verified(absent)
    tampered = type(result)(result.value + b"x", result.key, result.height, result.proof)
    assert not client.verified(tampered)


def test_a_query_path_of_raw_bytes_is_refused_and_the_node_keeps_running(
    network: net.Testnet,
) -> None:
    """The engine's RPC turns ``path=0x...`` into raw bytes; a path that is not UTF-8 once made
    the app close its query connection, and CometBFT stops itself when one does: anyone who
    reached an RPC port could stop the node with one request."""
    import requests

    victim = network.nodes[3]
    answer = requests.get(f"{victim.rpc_url}/abci_query", params={"path": "0xFFFE"}, timeout=10)
    response = answer.json()["result"]["response"]
    assert (response["codespace"], response["code"]) == (
        errors.BAD_QUERY.codespace,
        errors.BAD_QUERY.code,
    )
    node = Node(victim.rpc_url)
    node.wait_for_height(node.height() + 2)


def test_the_cli_commits_queries_and_exits_with_meaningful_codes(network: net.Testnet) -> None:
    node = ["--node", network.nodes[1].rpc_url]
    keyring = ["--keyring", str(network.keyring.directory), "--from", "openhealth-admin"]
    done = modelgov("tx", "model", "register", "triage", "--org", "open-health", *node, *keyring)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("committed at height ")
    publish_args = [
        "tx",
        "model",
        "publish",
        "open-health/triage",
        "1.0",
        "--digest",
        DIGEST_C,
        "--size",
        "99",
        "--format",
        "onnx",
        "--metric",
        "auroc=0.91",
        *node,
        *keyring,
        "-o",
        "json",
    ]
    published = modelgov(*publish_args)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["code"] == 0
    again = modelgov(*publish_args)
    assert again.returncode == 1
    error = json.loads(again.stdout)["error"]  # under -o json, the error is JSON too
    assert (error["codespace"], error["code"], error["name"]) == ("models", 7, "version_exists")
    assert len(error["tx_hash"]) == 64
    text = modelgov(*publish_args[:-2])
    assert text.returncode == 1
    assert "[models/7]" in text.stderr and "version_exists" in text.stderr
    shown = modelgov("query", "version", "open-health/triage@1.0", "--prove", *node, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["metrics"] == [{"name": "auroc", "value": "0.91"}]
    assert record["proof"]["verified"] is True
    listed = modelgov("query", "models", "--owner", "open-health", *node, "-o", "json")
    assert [m["id"] for m in json.loads(listed.stdout)["models"]] == ["open-health/triage"]
    unreachable = modelgov("query", "models", "--node", "http://127.0.0.1:9")
    assert unreachable.returncode == 3 and "cannot reach the node" in unreachable.stderr


def test_a_validator_killed_with_sigkill_catches_up_to_the_same_app_hash(
    network: net.Testnet,
) -> None:
    directory = Path(network.directory)
    victim = network.nodes[3]
    net.kill_node(directory, victim)
    clients = nodes(network)
    researcher = key(network, "northwind-researcher")
    for version in ("2.0", "2.1", "2.2"):
        outcome = clients[0].send(researcher, [publish("northwind-uni/mlp", version, DIGEST_A)])
    net.start_node(directory, victim)
    restarted = Node(victim.rpc_url)
    restarted.wait_for_height(outcome.height + 2, timeout=60)
    height = outcome.height + 1
    expected = clients[0].rpc.call("block", height=str(height))["block"]["header"]["app_hash"]
    got = restarted.rpc.call("block", height=str(height))["block"]["header"]["app_hash"]
    assert got == expected
    found = restarted.record(
        "/models/version", {"model": "northwind-uni/mlp", "version": "2.2"}, state_pb2.Version
    )
    assert found.height == outcome.height


def test_the_whole_network_restarts_from_leveldb_with_nothing_lost(network: net.Testnet) -> None:
    directory = Path(network.directory)
    client = nodes(network)[0]
    before = client.height()
    models_before = client.query("/models/models", {}).value
    net.stop(directory)
    net.start(directory, timeout=90)
    client.wait_for_height(before + 2, timeout=60)
    assert client.query("/models/models", {}).value == models_before
    researcher = key(network, "northwind-researcher")
    outcome = client.send(researcher, [publish("northwind-uni/mlp", "3.0", DIGEST_B)])
    assert outcome.height > before
