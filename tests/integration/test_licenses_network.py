"""Licenses on a real 4-validator testnet: uses pay, hostile scripts neither crash nor split it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import modelgov
from nets import running

from app.core.valuemap import from_data
from app.licenses import errors as license_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors as usage_errors
from chain import testnet as net
from chain.client import ClientError, Node

pytestmark = pytest.mark.integration
BASE_PORT = 22656
MODEL = "northwind-uni/scorer"
PRICED = """
def authorize(ctx):
    if ctx.caller.org_kind == "commercial" and ctx.purpose == "redistribution":
        return deny("commercial redistribution needs a separate agreement")
    return allow(fee=ctx.quantity * ctx.params["price"], note="thanks")
"""
HOSTILE_AT_RUN = {
    "loop": "def authorize(ctx):\n    n = 0\n    for i in range(100000):\n"
    "        for j in range(100000):\n            n += j\n    return allow()\n",
    "recursion": "def f(n):\n    return f(n + 1)\n\ndef authorize(ctx):\n    return f(0)\n",
    "strings": "def authorize(ctx):\n    s = 'ab'\n    for i in range(64):\n        s = s + s\n"
    "    return allow()\n",
    "power": "def authorize(ctx):\n    return allow(fee=2 ** (2 ** 30))\n",
}
HOSTILE_AT_DEPLOY = {
    "import": "import os\ndef authorize(ctx):\n    return allow()\n",
    "dunder": "def authorize(ctx):\n    return ().__class__.__bases__\n",
    "eval": "def authorize(ctx):\n    return eval('1')\n",
    "float": "def authorize(ctx):\n    return allow(fee=1 / 2)\n",
}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("licenses"), 4, BASE_PORT) as testnet:
        yield testnet


def deploy(name: str, source: str, **params: object) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    )


def attach(license_id: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=MODEL, version="1.0", license=license_id)
    )


def use(purpose: str, quantity: int = 1, max_fee: int = 10_000) -> tx_pb2.Msg:
    body = tx_pb2.Use(
        model=MODEL, version="1.0", purpose=purpose, quantity=quantity, max_fee=max_fee
    )
    return tx_pb2.Msg(use=body)


def balance(node: Node, org: str) -> int:
    return state_pb2.Balance.FromString(node.query("/credits/balance", {"org": org}).value).amount


def test_a_use_pays_the_owner_on_every_node(network: net.Testnet) -> None:
    nodes = [Node(n.rpc_url) for n in network.nodes]
    publisher = network.keyring.get("northwind-researcher")
    consumer = network.keyring.get("acme-ml")
    publish = tx_pb2.PublishVersion(
        model=MODEL,
        version="1.0",
        weights_digest="sha256:" + "c" * 64,
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
    )
    nodes[0].send(
        publisher,
        [tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org="northwind-uni", name="scorer"))],
    )
    nodes[0].send(publisher, [tx_pb2.Msg(publish_version=publish)])
    nodes[1].send(publisher, [deploy("priced", PRICED, price=25)])
    nodes[1].send(publisher, [attach("northwind-uni/priced")])
    before = balance(nodes[2], "acme-ai"), balance(nodes[2], "northwind-uni")
    done = nodes[2].send(consumer, [use("inference", quantity=4)])
    with pytest.raises(ClientError) as denied:
        nodes[3].send(consumer, [use("redistribution")])
    assert (denied.value.codespace, denied.value.code) == (
        usage_errors.USAGE,
        usage_errors.DENIED.code,
    )
    assert "separate agreement" in str(denied.value)
    for node in nodes:
        node.wait_for_height(done.height)
        assert balance(node, "acme-ai") == before[0] - 100
        assert balance(node, "northwind-uni") == before[1] + 100


def test_hostile_scripts_are_refused_at_deploy(network: net.Testnet) -> None:
    node = Node(network.nodes[1].rpc_url)
    publisher = network.keyring.get("northwind-researcher")
    for name, source in HOSTILE_AT_DEPLOY.items():
        with pytest.raises(ClientError) as refused:
            node.broadcast(node.sign(publisher, [deploy(name, source)]))
        assert refused.value.code == license_errors.INVALID_SCRIPT.code, name
        assert "line" in str(refused.value), name


def test_hostile_scripts_stop_in_gas_and_no_node_diverges(network: net.Testnet) -> None:
    nodes = [Node(n.rpc_url) for n in network.nodes]
    publisher = network.keyring.get("northwind-researcher")
    consumer = network.keyring.get("acme-ml")
    for name, source in HOSTILE_AT_RUN.items():
        nodes[0].send(publisher, [deploy(f"hostile-{name}", source)])
        nodes[0].send(publisher, [attach(f"northwind-uni/hostile-{name}")])
        with pytest.raises(ClientError) as stopped:
            nodes[1].send(consumer, [use("research")])
        assert stopped.value.codespace == usage_errors.USAGE, name
        assert stopped.value.code in (
            usage_errors.OUT_OF_GAS.code,
            usage_errors.MEMORY_EXCEEDED.code,
            usage_errors.SCRIPT_FAILED.code,
        ), name
    top = max(n.height() for n in nodes) + 2
    for node in nodes:
        node.wait_for_height(top)
    hashes = {n.rpc.call("block", height=str(top))["block"]["header"]["app_hash"] for n in nodes}
    assert len(hashes) == 1
    statuses = net.status(Path(network.directory))
    assert all(s.running and s.height >= top for s in statuses)


def test_the_cli_deploys_attaches_evaluates_uses_and_lists_receipts(network: net.Testnet) -> None:
    node = ["--node", network.nodes[2].rpc_url]
    keys = ["--keyring", str(network.keyring.directory)]
    template = str(Path(__file__).resolve().parents[2] / "genesis" / "licenses" / "pay-per-use.lic")
    params = json.dumps({"tiers": [[5, 10], [None, 4]]})
    publisher = [*node, *keys, "--from", "northwind-researcher"]
    deployed = modelgov(
        "tx", "license", "deploy", "tiered", template, "--params", params, *publisher
    )
    assert deployed.returncode == 0, deployed.stderr
    attached = modelgov(
        "tx", "license", "attach", f"{MODEL}@1.0", "northwind-uni/tiered", *publisher
    )
    assert attached.returncode == 0, attached.stderr
    address = network.keyring.get("acme-ml").address
    asked = modelgov(
        "query",
        "evaluate",
        f"{MODEL}@1.0",
        "--address",
        address,
        "--purpose",
        "inference",
        "--quantity",
        "3",
        *node,
        "-o",
        "json",
    )
    assert asked.returncode == 0, asked.stderr
    decision = json.loads(asked.stdout)
    assert decision["allowed"] and decision["license"] == "northwind-uni/tiered"
    consumer = [*node, *keys, "--from", "acme-ml"]
    too_cheap = modelgov(
        "tx",
        "use",
        f"{MODEL}@1.0",
        "--purpose",
        "inference",
        "--quantity",
        "3",
        "--max-fee",
        str(decision["fee"] - 1),
        *consumer,
    )
    assert too_cheap.returncode == 1 and "fee_above_max" in too_cheap.stderr
    paid = modelgov(
        "tx",
        "use",
        f"{MODEL}@1.0",
        "--purpose",
        "inference",
        "--quantity",
        "3",
        "--max-fee",
        str(decision["fee"]),
        *consumer,
    )
    assert paid.returncode == 0, paid.stderr
    listed = modelgov(
        "query", "receipts", "--model", MODEL, "--consumer-org", "acme-ai", *node, "-o", "json"
    )
    receipts = json.loads(listed.stdout)["receipts"]
    assert receipts[-1]["license"] == "northwind-uni/tiered"
    assert receipts[-1]["fee"] == decision["fee"]
    totals = json.loads(modelgov("query", "totals", "northwind-uni", *node, "-o", "json").stdout)
    assert totals["fees"] >= decision["fee"]
    balances = modelgov("query", "balance", *node)
    assert balances.returncode == 0 and "acme-ai" in balances.stdout
