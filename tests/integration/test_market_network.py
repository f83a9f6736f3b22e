"""The market on a real testnet (base port 8656): a sale across nodes, a lease that ends at its
last block on every node, ``modelgov watch`` streaming a model's changes as they commit, and a
store that follows a model replicating it (within its fee budget) and serving it after the
original store stops.

The CLI runs as ``python -m chain.cli.main`` from this checkout, like a user's ``modelgov``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from nets import running

from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.weights.client import pull, push
from chain.weights.follow import load_status
from chain.weights.store import BlobStore

pytestmark = pytest.mark.integration
BASE_PORT = 8656
ROOT = Path(__file__).resolve().parents[2]
MODEL = "northwind-uni/market"
FEE = """
def authorize(ctx):
    return allow(fee=ctx.quantity * ctx.params["price"], note="per unit")
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("market"), 3, BASE_PORT) as testnet:
        yield testnet


def cli(network: net.Testnet, node: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against node ``node`` with the testnet's keyring."""
    where = ["--node", network.nodes[node].rpc_url]
    keys = ["--keyring", str(network.keyring.directory)] if args[0] == "tx" else []
    command = [sys.executable, "-m", "chain.cli.main", *args, *where, *keys]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90)


def ok(network: net.Testnet, node: int, *args: str) -> subprocess.CompletedProcess[str]:
    done = cli(network, node, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def balance(node: Node, org: str) -> int:
    return node.balance(org).amount


def publish(version: str) -> tx_pb2.Msg:
    body = tx_pb2.PublishVersion(
        model=MODEL,
        version=version,
        weights_digest="sha256:" + f"{version}".encode().hex().ljust(64, "0")[:64],
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
    )
    return tx_pb2.Msg(publish_version=body)


@pytest.fixture(scope="module")
def model(network: net.Testnet) -> str:
    """northwind-uni/market@1.0 under a license of 3 credits a unit."""
    node = Node(network.nodes[0].rpc_url)
    researcher = network.keyring.get("northwind-researcher")
    register = tx_pb2.RegisterModel(owner_org="northwind-uni", name="market")
    node.send(researcher, [tx_pb2.Msg(register_model=register), publish("1.0")])
    source = ROOT / "build" / "market-fee.lic"
    source.parent.mkdir(exist_ok=True)
    source.write_text(FEE)
    ok(network, 0, "tx", "license", "deploy", "fee", str(source), "--params", '{"price": 3}',
       "--from", "northwind-researcher")  # fmt: skip
    ok(network, 0, "tx", "license", "attach", f"{MODEL}@1.0", "northwind-uni/fee",
       "--from", "northwind-researcher")  # fmt: skip
    return MODEL


def test_a_lease_ends_at_its_last_block_on_every_node(network: net.Testnet, model: str) -> None:
    nodes = [Node(n.rpc_url) for n in network.nodes]
    ok(network, 1, "tx", "market", "offer-lease", f"{model}@1.0", "--price", "1000",
       "--purpose", "inference", "--download", "--from", "northwind-admin")  # fmt: skip
    leased = ok(network, 2, "tx", "market", "lease", f"{model}@1.0", "--blocks", "4",
                "--max-price", "4", "--from", "acme-admin", "-o", "json")  # fmt: skip
    start = json.loads(leased.stdout)["height"]
    [lease] = list(nodes[2].leases(org="acme-ai"))
    assert (lease.start_height, lease.end_height, lease.paid) == (start, start + 3, 4)
    consumer = network.keyring.get("acme-ml")
    use = tx_pb2.Use(model=model, version="1.0", purpose="inference", quantity=2, max_fee=100)
    fees: list[tuple[int, int, int]] = []
    while True:
        node = nodes[len(fees) % 3]  # the node that answers the send has its block
        done = node.send(consumer, [tx_pb2.Msg(use=use)])
        [receipt] = list(node.receipts(model=model, from_height=done.height))[-1:]
        fees.append((done.height, receipt.fee, receipt.lease_id))
        if done.height > start + 3:
            break
    assert any(height <= start + 3 for height, _, _ in fees), fees
    for height, fee, lease_id in fees:
        covered = height <= start + 3
        assert (fee, lease_id) == ((0, lease.id) if covered else (6, 0)), fees
    digest = nodes[0].version(model, "1.0").weights_digest
    address = network.keyring.get("acme-ml").address
    for node in nodes:
        node.wait_for_height(fees[-1][0])
        during, _ = node.read_access(address, digest, clock=(start + 3, int(time.time())))
        after, _ = node.read_access(address, digest, clock=(start + 4, int(time.time())))
        assert (during.allowed, during.rule, after.allowed) == (True, "lease", False)


def test_a_sale_across_nodes(network: net.Testnet, model: str) -> None:
    nodes = [Node(n.rpc_url) for n in network.nodes]
    before = balance(nodes[0], "acme-ai"), balance(nodes[0], "northwind-uni")
    ok(network, 1, "tx", "market", "list", model, "--price", "700", "--from", "northwind-admin")
    listed = json.loads(ok(network, 2, "query", "listings", "-o", "json").stdout)
    assert [x["model"] for x in listed["listings"]] == [model]
    refused = cli(network, 2, "tx", "market", "buy", model, "--max-price", "699",
                  "--from", "acme-admin")  # fmt: skip
    assert refused.returncode == 1 and "price_above_max" in refused.stderr
    bought = ok(network, 2, "tx", "market", "buy", model, "--max-price", "700",
                "--from", "acme-admin", "-o", "json")  # fmt: skip
    height = json.loads(bought.stdout)["height"]
    for node in nodes:
        node.wait_for_height(height)
        assert node.model(model).owner_org == "acme-ai"
        assert balance(node, "acme-ai") == before[0] - 700
        assert balance(node, "northwind-uni") == before[1] + 700
        assert list(node.listings()) == [] and list(node.lease_offers()) == []


def test_watch_streams_versions_license_changes_and_revocations(
    network: net.Testnet, model: str
) -> None:
    owner = Node(network.nodes[0].rpc_url).model(model).owner_org
    publisher = "acme-ml" if owner == "acme-ai" else "northwind-researcher"
    command = [sys.executable, "-m", "chain.cli.main", "watch", model, "--count", "2", "-o", "json",
               "--node", network.nodes[1].rpc_url]  # fmt: skip
    watcher = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert watcher.stderr is not None
        assert watcher.stderr.readline().startswith(b"watching")  # subscribed: changes count
        node = Node(network.nodes[0].rpc_url)
        key = network.keyring.get(publisher)
        node.send(key, [publish("2.0")])
        status = tx_pb2.SetVersionStatus(
            model=model, version="1.0", status=tx_pb2.VERSION_STATUS_REVOKED, reason="bad data"
        )
        node.send(key, [tx_pb2.Msg(set_version_status=status)])
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    lines = [json.loads(line) for line in out.decode().splitlines()]
    kinds = [(x["kind"], x.get("version"), x.get("status")) for x in lines]
    assert kinds == [("version", "2.0", None), ("status", "1.0", "revoked")], lines
    assert all(x["model"] == model and x["height"] > 0 for x in lines)


DOWNLOAD_FEE = """
def authorize(ctx):
    if ctx.purpose == "download":
        return allow(fee=5, note="a copy")
    return allow(fee=0)
"""
REPLICATED = "northwind-uni/replicated"


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_follower_replicates_within_its_budget_and_serves_when_the_original_stops(
    network: net.Testnet, tmp_path: Path
) -> None:
    nodes = [Node(n.rpc_url) for n in network.nodes]
    owner = network.keyring.get("northwind-researcher")
    source = tmp_path / "weights.bin"
    source.write_bytes(b"replicated weights " * 4096)
    lic = tmp_path / "download-fee.lic"
    lic.write_text(DOWNLOAD_FEE)
    ok(network, 0, "tx", "license", "deploy", "copies", str(lic), "--from", "northwind-researcher")
    version = push(
        nodes[0], owner, network.nodes[0].weights_url, source, REPLICATED, "1.0",
        license_id="northwind-uni/copies", fmt="other",
    )  # fmt: skip
    store = Path(network.nodes[1].home) / "weights"
    url = network.nodes[1].weights_url
    follow = ["weights", "follow", REPLICATED, "--store", str(store), "--from", "acme-ml",
              "--url", url, "--keyring", str(network.keyring.directory)]  # fmt: skip
    ok(network, 1, *follow)

    def status() -> dict[str, Any]:
        return load_status(store).get(f"{REPLICATED}@1.0", {})

    wait_for("a refusal over budget", lambda: status().get("result") == "refused")
    assert "asks 5 credits" in status()["reason"] and "max fee of 0" in status()["reason"]
    ok(network, 1, *follow, "--max-fee", "10")
    wait_for("the replica", lambda: status().get("result") == "replicated")
    assert BlobStore(store).has(version.weights_digest)
    both = {network.nodes[0].weights_url, url}

    def listed_on_node2() -> bool:
        return {p.url for p in nodes[2].providers(version.weights_digest)} == both

    wait_for("node2 to list both providers", listed_on_node2)
    command = [sys.executable, "-m", "chain.cli.main", "weights", "follows", "--store", str(store),
               "-o", "json"]  # fmt: skip
    listed = json.loads(subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout)
    assert [f["model"] for f in listed["follows"]] == [REPLICATED]
    original = net.node_processes(Path(network.directory), network.nodes[0])["weights"]
    os.kill(original, signal.SIGTERM)
    wait_for("the original store to stop", lambda: not _serves(network.nodes[0].weights_url))
    pulled = pull(nodes[2], network.keyring.get("acme-ml"), f"{REPLICATED}@1.0", tmp_path / "got")
    assert pulled.provider == url
    assert pulled.path is not None and pulled.path.read_bytes() == source.read_bytes()


def _serves(url: str) -> bool:
    try:
        return requests.get(f"{url}/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_watch_reconnects_after_its_node_restarts_and_prints_each_change_once(
    network: net.Testnet, model: str
) -> None:
    """The watched node stops and starts again; a version published while it was down (the
    chain halts without it, so the tx commits around its return) and one after are printed
    once each, in order, after one printed before; stderr says it reconnected."""
    owner = Node(network.nodes[0].rpc_url).model(model).owner_org
    publisher = "acme-ml" if owner == "acme-ai" else "northwind-researcher"
    directory, watched = Path(network.directory), network.nodes[1]
    command = [sys.executable, "-m", "chain.cli.main", "watch", model, "--count", "3", "-o", "json",
               "--reconnect-for", "120", "--node", watched.rpc_url]  # fmt: skip
    watcher = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    node, key = Node(network.nodes[0].rpc_url), network.keyring.get(publisher)
    try:
        assert watcher.stderr is not None
        assert watcher.stderr.readline().startswith(b"watching")
        node.send(key, [publish("7.0")])
        time.sleep(1)  # the watcher prints 7.0 from its first connection
        net.stop_node(directory, watched)
        with ThreadPoolExecutor(1) as pool:
            during = pool.submit(node.send, key, [publish("7.1")])
            time.sleep(2)
            net.start_node(directory, watched)
            Node(watched.rpc_url).wait_for_height(during.result(timeout=90).height, timeout=90)
        node.send(key, [publish("7.2")])
        out, err = watcher.communicate(timeout=120)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [(x["kind"], x["version"]) for x in lines] == [
        ("version", "7.0"),
        ("version", "7.1"),
        ("version", "7.2"),
    ], lines
    assert b"watch: lost the node" in err and b"watch: reconnected" in err
