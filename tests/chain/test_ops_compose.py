"""The docker compose testnet, checked without a Docker engine: structure, drift, the image.

The compose file must satisfy the compose specification's structure, and every node service must
run exactly the process testnet's command (same genesis, keys, node ids, ports) with only the
documented container differences. The engine's CMT_* overrides are proven on a real engine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from chain import testnet as net
from chain.engine import install
from chain.engine.version import (
    COMETBFT_MODULE,
    COMETBFT_VERSION,
    GOGOPROTO_MODULE,
    GOGOPROTO_VERSION,
)
from chain.ops import compose as dc
from chain.ops.monitoring import read_yaml

ROOT = Path(__file__).resolve().parents[2]
BASE_PORT = 30656
TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
SERVICE_KEYS = {
    "image",
    "build",
    "user",
    "command",
    "environment",
    "volumes",
    "ports",
    "depends_on",
    "healthcheck",
    "restart",
    "network_mode",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[net.Testnet, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("compose") / "net"
    testnet = net.init(directory, 3, base_port=BASE_PORT, docker=True)
    return testnet, read_yaml(directory / "docker-compose.yml")


def test_the_file_has_the_compose_specifications_structure(
    made: tuple[net.Testnet, dict[str, Any]],
) -> None:
    testnet, spec = made
    assert set(spec) <= TOP_LEVEL and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", spec["name"])
    services, volumes = spec["services"], spec["volumes"]
    expected = {f"{n.name}{s}" for n in testnet.nodes for s in ("-init", "", "-engine", "-weights")}
    assert set(services) == expected | {"prometheus", "grafana"}
    for name, service in services.items():
        assert set(service) <= SERVICE_KEYS, name
        assert isinstance(service["image"], str) and service["image"], name
        assert all(isinstance(a, str) for a in service.get("command", [])), name
        for mount in service["volumes"]:
            source = mount.split(":")[0]
            assert source.startswith("./") or source in volumes, (name, mount)
            if source.startswith("./"):
                assert (Path(testnet.directory) / source).exists(), (name, mount)
        for port in service.get("ports", []):
            assert re.fullmatch(r"127\.0\.0\.1:(\d+):\1", port), (name, port)
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services and how["condition"] in CONDITIONS, (name, needed)
        if "network_mode" in service:
            owner = service["network_mode"].removeprefix("service:")
            assert owner in services and "ports" not in service, name
        if not name.endswith("-init"):
            check = service["healthcheck"]
            assert check["test"][0] == "CMD" and check["retries"] > 0, name
        if "build" in service:
            assert (Path(service["build"]["context"]) / service["build"]["dockerfile"]).exists()
    assert all(v == {} for v in volumes.values())
    used = {m.split(":")[0] for s in services.values() for m in s["volumes"]}
    assert set(volumes) <= used


def _as_process(args: list[str], node: net.NodeSpec) -> list[str]:
    """Undo the documented container differences: python, /data, 0.0.0.0 listeners."""
    out = [sys.executable if args[0] == "python" else args[0]]
    for arg in args[1:]:
        arg = node.home + arg.removeprefix(dc.HOME) if arg.startswith(dc.HOME + "/") else arg
        out.append(arg.replace("0.0.0.0:", "127.0.0.1:"))
    return out


def test_every_node_service_runs_the_process_testnets_command_and_ports(
    made: tuple[net.Testnet, dict[str, Any]],
) -> None:
    testnet, spec = made
    services = spec["services"]
    binary = install.find_cometbft()
    for node in testnet.nodes:
        app, engine = services[node.name], services[f"{node.name}-engine"]
        weights = services[f"{node.name}-weights"]
        on_loopback = replace(node, abci_address=dc.abci_address(node))
        assert _as_process(app["command"], node) == net.app_command(on_loopback)
        assert _as_process(weights["command"], node) == net.weights_command(node)
        assert _as_process(engine["command"], node)[1:] == net.engine_command(binary, node)[1:]
        assert engine["command"][0] == "cometbft"
        p = node.ports
        published = {int(port.split(":")[-1]) for port in app["ports"]}
        assert published == {p.p2p, p.rpc, p.engine_metrics, p.app_metrics, p.weights}
        assert f"0.0.0.0:{p.app_metrics}" in app["command"]
        assert f"tcp://127.0.0.1:{p.abci}" in app["command"]  # ABCI stays inside the node
        assert services[f"{node.name}-init"]["volumes"][0] == f"./{node.name}:/seed:ro"


def test_the_engines_overrides_name_the_same_peers_and_ports(
    made: tuple[net.Testnet, dict[str, Any]],
) -> None:
    testnet, spec = made
    for node in testnet.nodes:
        env = spec["services"][f"{node.name}-engine"]["environment"]
        config = tomllib.loads((node.engine_home / "config" / "config.toml").read_text())
        on_host = config["p2p"]["persistent_peers"]
        in_compose = env["CMT_P2P_PERSISTENT_PEERS"]
        for other in testnet.nodes:
            if other.index != node.index:
                assert f"{other.node_id}@127.0.0.1:{other.ports.p2p}" in on_host.split(",")
                assert f"{other.node_id}@{other.name}:{other.ports.p2p}" in in_compose.split(",")
        assert len(in_compose.split(",")) == len(on_host.split(",")) == len(testnet.nodes) - 1
        assert env["CMT_RPC_LADDR"] == f"tcp://0.0.0.0:{node.ports.rpc}"
        assert env["CMT_P2P_LADDR"] == f"tcp://0.0.0.0:{node.ports.p2p}"
        metrics = config["instrumentation"]["prometheus_listen_addr"]
        assert env["CMT_INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR"] == metrics.replace(
            "127.0.0.1", "0.0.0.0"
        )
        assert config["proxy_app"] == node.abci == f"unix://{node.home}/abci.sock"
        assert env["CMT_PROXY_APP"] == f"tcp://127.0.0.1:{node.ports.abci}"  # between containers


def test_prometheus_and_grafana_in_compose_use_container_hostnames(
    made: tuple[net.Testnet, dict[str, Any]],
) -> None:
    testnet, _ = made
    docker = Path(testnet.directory) / "monitoring" / "docker"
    config = read_yaml(docker / "prometheus.yml")
    targets = {
        (job["job_name"], c["labels"]["node"], c["targets"][0])
        for job in config["scrape_configs"]
        for c in job["static_configs"]
    }
    expected = {("cometbft", n.name, f"{n.name}:{n.ports.engine_metrics}") for n in testnet.nodes}
    expected |= {("modelgov-app", n.name, f"{n.name}:{n.ports.app_metrics}") for n in testnet.nodes}
    expected |= {("modelgov-weights", n.name, f"{n.name}:{n.ports.weights}") for n in testnet.nodes}
    assert targets == expected
    source = read_yaml(docker / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    provider = read_yaml(docker / "grafana" / "provisioning" / "dashboards" / "modelgov.yml")
    assert provider["providers"][0]["options"]["path"] == dc.DASHBOARDS_IN_GRAFANA


def test_the_dockerfile_runs_the_install_steps_of_setup_and_the_readme() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    setup = (ROOT / "scripts" / "setup").read_text()
    readme = (ROOT / "README.md").read_text()
    engine = f"go install {COMETBFT_MODULE}/cmd/cometbft@{COMETBFT_VERSION}"
    assert engine in dockerfile and engine in readme
    assert (
        'f"{COMETBFT_MODULE}/cmd/cometbft@{COMETBFT_VERSION}"' in Path(install.__file__).read_text()
    )
    assert f"{GOGOPROTO_MODULE}@{GOGOPROTO_VERSION}" in dockerfile
    assert f"{COMETBFT_MODULE}@{COMETBFT_VERSION}" in dockerfile
    for step in (
        "-m pip install",
        "--disable-pip-version-check",
        '-e ".[dev',
        "-m chain.engine.protogen",
    ):
        assert step in setup and step in dockerfile, step
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.MULTILINE)
    assert stages == ["engine", "node"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".bin", "app/pb", "build"} <= set(ignored)


@pytest.fixture
def single(tmp_path: Path) -> Iterator[net.Testnet]:
    testnet = net.init(tmp_path / "one", 1, base_port=BASE_PORT + 1000, docker=True)
    try:
        yield testnet
    finally:
        net.stop(Path(testnet.directory))


def test_a_real_engine_takes_the_compose_overrides(single: net.Testnet) -> None:
    """The compose file relies on CMT_* variables overriding config.toml: run one and see (the
    app listens on the compose ABCI port, where config.toml names the host's unix socket)."""
    node = single.nodes[0]
    spec = read_yaml(Path(single.directory) / "docker-compose.yml")
    env = spec["services"][f"{node.name}-engine"]["environment"]
    directory = Path(single.directory)
    logs = Path(node.home) / "logs"
    on_loopback = replace(node, abci_address=env["CMT_PROXY_APP"])
    app = subprocess.Popen(
        net.app_command(on_loopback),
        stdout=(logs / "app.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    net._record(directory, node, "app", app.pid)
    net._wait_for_app(on_loopback, app)
    engine = subprocess.Popen(
        net.engine_command(install.find_cometbft(), node),
        env={**os.environ, **env},
        stdout=(logs / "engine.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    net._record(directory, node, "engine", engine.pid)
    net.wait_until_producing(single, timeout=60, height=2)
    status = requests.post(node.rpc_url, json={"method": "status", "id": 1}, timeout=5).json()
    assert status["result"]["node_info"]["listen_addr"] == env["CMT_P2P_LADDR"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = requests.get(f"http://127.0.0.1:{node.ports.engine_metrics}/metrics", timeout=5).text
        if "cometbft_consensus_height" in text:
            break
        time.sleep(0.5)
    assert f'cometbft_consensus_height{{chain_id="{single.chain_id}"}}' in text
