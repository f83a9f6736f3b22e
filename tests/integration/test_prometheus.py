"""A real Prometheus scrapes a real 4-validator testnet with the prometheus.yml that init wrote.

After traffic (register, publish, deploy, attach, an allowed and a denied use), every target is
up, the engines' metrics carry the chain id, and every PromQL expression of the generated Grafana
dashboards returns data through Prometheus's HTTP API.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from clirun import modelgov
from nets import running

from app import APP_VERSION, SOFTWARE_VERSION
from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import ClientError, Node, TxOutcome
from chain.ops.monitoring import (
    APP_JOB,
    ENGINE_JOB,
    WEIGHTS_JOB,
    expressions,
    read_yaml,
    write_yaml,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BASE_PORT = 24656
MODEL = "northwind-uni/ops"
LICENSE = """
def authorize(ctx):
    if ctx.purpose == "redistribution":
        return deny("not licensed")
    return allow(fee=ctx.quantity * 3)
"""


def prometheus_binary() -> str:
    """Prometheus on PATH, installed by scripts/install-prometheus if missing."""
    found = shutil.which("prometheus")
    if found:
        return found
    done = subprocess.run(
        [str(ROOT / "scripts" / "install-prometheus")], capture_output=True, text=True, timeout=600
    )
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip(f"Prometheus could not be installed (apt unreachable?): {done.stderr[-500:]}")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("prometheus"), 4, BASE_PORT) as testnet:
        yield testnet


@pytest.fixture(scope="module")
def prometheus(network: net.Testnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus on a free loopback port with the generated config (scrape interval 1s)."""
    binary = prometheus_binary()
    work: Path = tmp_path_factory.mktemp("tsdb")
    config = read_yaml(Path(network.directory) / "monitoring" / "prometheus.yml")
    # A 1s interval keeps the test short; the timeout is the interval, so a busy 2-core machine
    # must still answer every scrape within it: the up-check below waits for a clean round.
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    write_yaml(work / "prometheus.yml", config, "test copy")
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{url}/-/ready", timeout=2).ok, 60, "Prometheus ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def query(url: str, expr: str) -> list[dict[str, Any]]:
    reply = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert reply["status"] == "success", (expr, reply)
    result: list[dict[str, Any]] = reply["data"]["result"]
    return result


def everywhere(nodes: list[Node], done: TxOutcome) -> None:
    """Wait until every node applied the block of ``done``: the next step is sent through
    another node, whose CheckTx would refuse it a block behind (CI saw no_license)."""
    for node in nodes:
        node.wait_for_height(done.height)


def send_traffic(network: net.Testnet) -> None:
    """What the consortium dashboard shows: a model, a version, a license, uses, a denial."""
    nodes = [Node(n.rpc_url) for n in network.nodes]
    publisher = network.keyring.get("northwind-researcher")
    consumer = network.keyring.get("acme-ml")
    register = tx_pb2.RegisterModel(owner_org="northwind-uni", name="ops")
    everywhere(nodes, nodes[0].send(publisher, [tx_pb2.Msg(register_model=register)]))
    publish = tx_pb2.PublishVersion(
        model=MODEL,
        version="1.0",
        weights_digest="sha256:" + "d" * 64,
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
    )
    everywhere(nodes, nodes[1].send(publisher, [tx_pb2.Msg(publish_version=publish)]))
    deploy = tx_pb2.DeployLicense(name="ops", source=LICENSE, params=from_data({}))
    everywhere(nodes, nodes[2].send(publisher, [tx_pb2.Msg(deploy_license=deploy)]))
    attach = tx_pb2.AttachLicense(model=MODEL, version="1.0", license="northwind-uni/ops")
    everywhere(nodes, nodes[3].send(publisher, [tx_pb2.Msg(attach_license=attach)]))
    for purpose, node in (("inference", nodes[0]), ("research", nodes[1])):
        use = tx_pb2.Use(model=MODEL, version="1.0", purpose=purpose, quantity=2, max_fee=100)
        node.send(consumer, [tx_pb2.Msg(use=use)])
    denied = tx_pb2.Use(model=MODEL, version="1.0", purpose="redistribution", quantity=1)
    with pytest.raises(ClientError):
        nodes[2].send(consumer, [tx_pb2.Msg(use=denied)])


def dashboard_expressions(network: net.Testnet) -> list[str]:
    folder = Path(network.directory) / "monitoring" / "grafana" / "dashboards"
    boards = sorted(folder.glob("*.json"))
    assert [b.name for b in boards] == ["chain-health.json", "consortium-activity.json"]
    return [e for b in boards for e in expressions(json.loads(b.read_text()))]


def test_prometheus_scrapes_every_target_and_every_dashboard_query_has_data(
    network: net.Testnet, prometheus: str
) -> None:
    send_traffic(network)
    jobs = (ENGINE_JOB, APP_JOB, WEIGHTS_JOB)
    expected = {(job, n.name) for job in jobs for n in network.nodes}

    def all_up() -> bool:
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        up = {
            (t["labels"]["job"], t["labels"]["node"])
            for t in targets["activeTargets"]
            if t["health"] == "up"
        }
        return up == expected

    wait_for(all_up, 180, "every target up")
    heights = query(prometheus, "cometbft_consensus_height")
    assert len(heights) == len(network.nodes)
    assert {h["metric"]["chain_id"] for h in heights} == {network.chain_id}
    time.sleep(5)  # a few more scrapes after the traffic, so rates have two samples
    empty = [e for e in dashboard_expressions(network) if not query(prometheus, e)]
    assert not empty, f"dashboard queries without data: {empty}"
    denials = query(prometheus, "max(modelgov_use_denials_total)")
    assert float(denials[0]["value"][1]) == 1
    receipts = query(prometheus, 'max(modelgov_receipts_total{model="northwind-uni/ops"})')
    assert float(receipts[0]["value"][1]) >= 1


def test_promtool_accepts_the_generated_config(network: net.Testnet) -> None:
    prometheus_binary()
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed with this Prometheus")
    config = Path(network.directory) / "monitoring" / "prometheus.yml"
    checked = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_node_status_reports_every_node(network: net.Testnet) -> None:
    shown = modelgov("node", "status", "--dir", network.directory, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    reports = json.loads(shown.stdout)["nodes"]
    assert [r["name"] for r in reports] == [n.name for n in network.nodes]
    for report in reports:
        assert report["reachable"] and report["chain_id"] == network.chain_id
        assert report["peers"] == len(network.nodes) - 1 and not report["catching_up"]
        assert report["validators"] == len(network.nodes) and report["voting_power"] > 0
        assert (report["app_version"], report["app_protocol"]) == (SOFTWARE_VERSION, APP_VERSION)
        assert report["height"] > 0 and len(report["app_hash"]) == 64
    one = modelgov("node", "status", "--node", network.nodes[1].rpc_url)
    assert one.returncode == 0 and "app_version:" in one.stdout and "node1" in one.stdout
