"""The docker compose testnet, built and run for real: ``make docker-testnet``'s steps.

A Docker engine (``chain.ops.dockernet`` installs and starts one when none answers and this
user may; the module skips, saying why in one line, only where no engine can run), the node
image built from this checkout (local debootstrap bases where no registry answers), and the
host-networking compose file ``testnet init --docker`` wrote for 4 validators. Then what users
and operators rely on: four validators at one app hash, transactions through two nodes reaching
every node, Prometheus in the project scraping every node, logs through ``docker compose logs``,
a non-root image, the restart policy bringing back a crashed app, a killed node catching up
after ``up``, the chain kept in its volumes across ``down``/``up``, and ``down --volumes``
leaving nothing behind. The bridge-network file runs as well, on its own ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from clirun import modelgov

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.ops import compose as dc
from chain.ops import dockernet
from chain.ops.monitoring import APP_JOB, ENGINE_JOB, WEIGHTS_JOB

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
# Ports of no other test module (tests/integration/nets.py), overridable on a shared machine.
BASE_PORT = int(os.environ.get("MODELGOV_DOCKER_TEST_PORT", "30656"))
BRIDGE_PORT = int(os.environ.get("MODELGOV_DOCKER_BRIDGE_TEST_PORT", "18656"))
MODEL = "northwind-uni/boxed"
PRICED = """
def authorize(ctx):
    return allow(fee=ctx.quantity * 7)
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[None]:
    """A Docker engine that answers; stopped at the end if this module started it."""
    try:
        started = dockernet.ensure_engine()
    except dockernet.DockerError as exc:
        pytest.skip(f"no Docker engine can run here: {str(exc).splitlines()[0]}")
    try:
        yield
    finally:
        if started is not None:
            dockernet.stop_engine(started)


@pytest.fixture(scope="module")
def network(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    """The compose project up and producing blocks; torn down (volumes too) whatever happens."""
    directory = tmp_path_factory.mktemp("docker") / "net"
    testnet = net.init(directory, 4, base_port=BASE_PORT, timeout_commit="300ms", docker=True)
    try:
        dockernet.prepare_images(directory)
        dockernet.start(testnet)
        yield testnet
    finally:
        with contextlib.suppress(dockernet.DockerError):
            dockernet.down(directory, volumes=True)


def compose(testnet: net.Testnet, *args: str) -> str:
    return dockernet.compose(Path(testnet.directory), *args)


def inspect(testnet: net.Testnet, service: str, template: str) -> str:
    """``docker inspect`` of a service's container (``{{.State.Pid}}`` and the like)."""
    container = compose(testnet, "ps", "-a", "-q", service).strip()
    done = subprocess.run(
        ["docker", "inspect", "--format", template, container],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def labelled(kind: str, project: str) -> list[str]:
    """The project's containers, volumes or networks that the engine still has."""
    listing = {"container": ["ps", "-a"], "volume": ["volume", "ls"], "network": ["network", "ls"]}
    label = f"label=com.docker.compose.project={project}"
    done = subprocess.run(
        ["docker", *listing[kind], "-q", "--filter", label],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()


def nodes(testnet: net.Testnet) -> list[Node]:
    return [Node(n.rpc_url) for n in testnet.nodes]


def one_app_hash(clients: list[Node], height: int) -> set[bytes]:
    """Every node's app hash after ``height`` (a set of one when they agree)."""
    for client in clients:
        client.wait_for_height(height + 1, timeout=60)
    return {c.app_hash_at(height) for c in clients}


def balance(node: Node, org: str) -> int:
    return state_pb2.Balance.FromString(node.query("/credits/balance", {"org": org}).value).amount


def test_node_status_shows_four_validators_at_one_app_hash(network: net.Testnet) -> None:
    for _ in range(30):  # the four answers may straddle a block: ask until they do not
        done = modelgov("node", "status", "--dir", network.directory, "-o", "json")
        assert done.returncode == 0, done.stderr
        reports = json.loads(done.stdout)["nodes"]
        assert [r["name"] for r in reports] == ["node0", "node1", "node2", "node3"]
        assert all(r["validators"] == 4 and r["is_validator"] for r in reports), reports
        if len({(r["height"], r["app_hash"]) for r in reports}) == 1:
            return
        time.sleep(0.2)
    pytest.fail(f"the four nodes never reported one height and app hash: {reports}")


def test_transactions_through_two_nodes_reach_every_node(network: net.Testnet) -> None:
    clients = nodes(network)
    owner = network.keyring.get("northwind-researcher")
    consumer = network.keyring.get("acme-ml")
    publish = tx_pb2.PublishVersion(
        model=MODEL,
        version="1.0",
        weights_digest="sha256:" + "d" * 64,
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
    )
    register = tx_pb2.RegisterModel(owner_org="northwind-uni", name="boxed")
    clients[0].send(owner, [tx_pb2.Msg(register_model=register)])
    clients[0].send(owner, [tx_pb2.Msg(publish_version=publish)])
    deploy = tx_pb2.DeployLicense(name="boxed", source=PRICED)
    clients[1].send(owner, [tx_pb2.Msg(deploy_license=deploy)])
    attach = tx_pb2.AttachLicense(model=MODEL, version="1.0", license="northwind-uni/boxed")
    clients[1].send(owner, [tx_pb2.Msg(attach_license=attach)])
    before = balance(clients[3], "acme-ai")
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="inference", quantity=3, max_fee=100)
    done = clients[1].send(consumer, [tx_pb2.Msg(use=use)])
    for client in clients:
        client.wait_for_height(done.height)
        assert balance(client, "acme-ai") == before - 21
    assert len(one_app_hash(clients, done.height)) == 1


def prometheus(network: net.Testnet, path: str, **params: str) -> Any:
    port, _ = dc.monitoring_ports(network)
    reply = requests.get(f"http://127.0.0.1:{port}{path}", params=params, timeout=10)
    reply.raise_for_status()
    return reply.json()["data"]


def scrapes_every_node(testnet: net.Testnet) -> None:
    """Prometheus in the project has every engine, app and weights server up, with metrics."""
    expected = {(job, n.name) for job in (ENGINE_JOB, APP_JOB, WEIGHTS_JOB) for n in testnet.nodes}
    deadline = time.monotonic() + 90
    while True:
        up = prometheus(testnet, "/api/v1/query", query="up")["result"]
        scraped = {(r["metric"]["job"], r["metric"]["node"]) for r in up if r["value"][1] == "1"}
        if scraped == expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert scraped == expected
    heights = prometheus(testnet, "/api/v1/query", query="cometbft_consensus_height")["result"]
    assert {r["metric"]["node"] for r in heights} == {n.name for n in testnet.nodes}
    committed = prometheus(testnet, "/api/v1/query", query="modelgov_committed_height")["result"]
    assert all(int(r["value"][1]) > 0 for r in committed) and len(committed) == 4


def test_prometheus_in_the_project_scrapes_every_node(network: net.Testnet) -> None:
    scrapes_every_node(network)


def test_logs_come_through_docker_compose_logs(network: net.Testnet) -> None:
    app = compose(network, "logs", "--no-color", "node1")
    engine = compose(network, "logs", "--no-color", "--tail", "200", "node1-engine")
    assert "state at height" in app  # the app's first line, on stderr
    assert "committed state" in engine


def test_the_node_image_runs_as_a_user(network: net.Testnet) -> None:
    for service in ("node0", "node0-engine", "node0-weights"):
        assert compose(network, "exec", "-T", service, "id", "-u").strip() == "10001", service
    assert inspect(network, "node0", "{{.Config.User}}") == dc.USER
    assert dockernet.image_size() < 500_000_000


def test_the_restart_policy_brings_back_a_crashed_app(network: net.Testnet) -> None:
    """SIGKILL of node3's app process (a crash, not a `docker kill`): the engine loses its app
    and exits; the policy restarts both and node3 catches up."""
    pid = int(inspect(network, "node3", "{{.State.Pid}}"))
    os.kill(pid, signal.SIGKILL)
    clients = nodes(network)
    deadline = time.monotonic() + 120
    while int(inspect(network, "node3", "{{.RestartCount}}")) < 1:
        assert time.monotonic() < deadline, "node3's app was not restarted"
        time.sleep(0.5)
    top = max(c.height() for c in clients[:3]) + 2
    clients[3].wait_for_height(top, timeout=120)
    assert len(one_app_hash(clients, top)) == 1


def test_a_killed_node_catches_up_after_up(network: net.Testnet) -> None:
    clients = nodes(network)
    compose(network, "kill", "node2", "node2-engine", "node2-weights")
    for service in ("node2", "node2-engine", "node2-weights"):
        assert inspect(network, service, "{{.State.Status}}") == "exited", service
    with pytest.raises(Exception):  # noqa: B017 - any failure to answer will do
        clients[2].height()
    owner = network.keyring.get("northwind-researcher")
    register = tx_pb2.RegisterModel(owner_org="northwind-uni", name="while-node2-was-down")
    done = clients[0].send(owner, [tx_pb2.Msg(register_model=register)])  # 3 of 4 validators
    dockernet.start(network)
    clients[2].wait_for_height(done.height + 1, timeout=120)
    assert len(one_app_hash(clients, done.height)) == 1
    model = clients[2].query("/models/model", {"id": "northwind-uni/while-node2-was-down"})
    assert model.value


def test_down_and_up_keep_the_chain_in_its_volumes(network: net.Testnet) -> None:
    clients = nodes(network)
    before = min(c.height() for c in clients)
    project = dc.project_name(network)
    dockernet.down(Path(network.directory))
    assert labelled("container", project) == []
    assert len(labelled("volume", project)) == len(network.nodes) + 1  # and prometheus-data
    dockernet.start(network)
    assert min(c.height() for c in clients) > before
    model = clients[3].query("/models/model", {"id": MODEL})
    assert model.value


def test_down_with_volumes_leaves_nothing_behind(network: net.Testnet) -> None:
    project = dc.project_name(network)
    dockernet.down(Path(network.directory), volumes=True)
    for kind in ("container", "volume", "network"):
        assert labelled(kind, project) == [], kind


def test_the_bridge_network_file_runs_too(
    engine: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """docker-compose.bridge.yml (for machines without host networking): node names resolve
    between containers, the ports are published on the host's loopback under the same numbers,
    and one transaction reaches every node."""
    directory = tmp_path_factory.mktemp("bridge") / "net"
    testnet = net.init(directory, 4, base_port=BRIDGE_PORT, timeout_commit="300ms", docker=True)
    project = dc.project_name(testnet)
    try:
        dockernet.prepare_images(directory)
        dockernet.start(testnet, network="bridge")
        clients = nodes(testnet)
        owner = testnet.keyring.get("northwind-researcher")
        register = tx_pb2.RegisterModel(owner_org="northwind-uni", name="bridged")
        done = clients[3].send(owner, [tx_pb2.Msg(register_model=register)])
        assert len(one_app_hash(clients, done.height)) == 1
        assert clients[0].query("/models/model", {"id": "northwind-uni/bridged"}).value
        scrapes_every_node(testnet)
        assert len(labelled("network", project)) == 1
    finally:
        dockernet.down(directory, volumes=True, network="bridge")
    for kind in ("container", "volume", "network"):
        assert labelled(kind, project) == [], kind
