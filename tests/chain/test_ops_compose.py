"""The docker compose files, checked without a Docker engine: structure, drift, the image.

Both compose files must satisfy the compose specification's structure, and every node service
must run exactly the process testnet's command (same genesis, keys, node ids, ports) with only
the documented container differences. The engine's CMT_* overrides are proven on a real engine
and the volume's seed script on a real shell. tests/integration/test_docker_testnet.py builds
the image and runs the host-networking file for real.
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
    "profiles",
    "logging",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
INTERPOLATION = re.compile(r"\$\{(\w+):-([^}]+)\}")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[net.Testnet, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("compose") / "net"
    testnet = net.init(directory, 3, base_port=BASE_PORT, docker=True)
    specs = {n: read_yaml(directory / f) for n, f in dc.COMPOSE_FILES.items()}
    return testnet, specs


def _services(spec: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = spec["services"]
    return services


@pytest.mark.parametrize("network", dc.NETWORKS)
def test_each_file_has_the_compose_specifications_structure(
    made: tuple[net.Testnet, dict[str, Any]], network: str
) -> None:
    testnet, specs = made
    spec = specs[network]
    assert set(spec) <= TOP_LEVEL and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", spec["name"])
    services, volumes = _services(spec), spec["volumes"]
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
            assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", port), (name, port)
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services and how["condition"] in CONDITIONS, (name, needed)
        mode = service.get("network_mode", "")
        if network == "host":
            assert mode == "host" and "ports" not in service, name
        elif mode:
            assert mode.removeprefix("service:") in services and "ports" not in service, name
        if not name.endswith("-init"):
            check = service["healthcheck"]
            assert check["test"][0] == "CMD" and check["retries"] > 0, name
            assert service["restart"] == "unless-stopped", name
            assert service["logging"]["driver"] == "json-file", name
        if "build" in service:
            assert (Path(service["build"]["context"]) / service["build"]["dockerfile"]).exists()
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["node0-init"]  # one build of the image serves every service
    assert services["node0-init"]["build"]["network"] == "host"  # no bridge needed to build
    assert all(v == {} for v in volumes.values())
    used = {m.split(":")[0] for s in services.values() for m in s["volumes"]}
    assert set(volumes) <= used


def test_both_files_are_one_project_named_by_chain_and_base_port(
    made: tuple[net.Testnet, dict[str, Any]],
) -> None:
    testnet, specs = made
    assert {s["name"] for s in specs.values()} == {f"modelgov-local-{BASE_PORT}"}
    assert dc.project_name(replace(testnet, chain_id="Acme Chain!")) == f"acme-chain-{BASE_PORT}"


def _as_process(args: list[str], node: net.NodeSpec) -> list[str]:
    """Undo the documented container differences: python, /data, 0.0.0.0 listeners."""
    out = [sys.executable if args[0] == "python" else args[0]]
    for arg in args[1:]:
        arg = node.home + arg.removeprefix(dc.HOME) if arg.startswith(dc.HOME + "/") else arg
        out.append(arg.replace("0.0.0.0:", "127.0.0.1:"))
    return out


@pytest.mark.parametrize("network", dc.NETWORKS)
def test_every_node_service_runs_the_process_testnets_command_and_ports(
    made: tuple[net.Testnet, dict[str, Any]], network: str
) -> None:
    testnet, specs = made
    services = _services(specs[network])
    binary = install.find_cometbft()
    for node in testnet.nodes:
        app, engine = services[node.name], services[f"{node.name}-engine"]
        weights = services[f"{node.name}-weights"]
        in_volume = replace(node, abci_address=dc.ABCI_SOCKET)
        assert _as_process(app["command"], node) == net.app_command(in_volume)
        assert _as_process(weights["command"], node) == net.weights_command(node)
        guard, engine_command = engine["command"][:5], engine["command"][5:]
        assert guard == ["python", "-m", "chain.ops.guard", "/data/abci.sock", "--"]
        assert _as_process(engine_command, node)[1:] == net.engine_command(binary, node)[1:]
        assert engine_command[0] == "cometbft"
        assert "unix:///data/abci.sock" in app["command"]  # ABCI never on a network
        p = node.ports
        listen = "127.0.0.1" if network == "host" else "0.0.0.0"
        assert f"{listen}:{p.app_metrics}" in app["command"]
        assert f"{listen}:{p.weights}" in weights["command"]
        if network == "bridge":
            published = {int(port.split(":")[-1]) for port in app["ports"]}
            assert published == {p.p2p, p.rpc, p.engine_metrics, p.app_metrics, p.weights}
        assert services[f"{node.name}-init"]["volumes"][0] == f"./{node.name}:/seed:ro"


@pytest.mark.parametrize("network", dc.NETWORKS)
def test_the_engines_overrides_differ_from_config_toml_only_where_documented(
    made: tuple[net.Testnet, dict[str, Any]], network: str
) -> None:
    testnet, specs = made
    for node in testnet.nodes:
        env = _services(specs[network])[f"{node.name}-engine"]["environment"]
        config = tomllib.loads((node.engine_home / "config" / "config.toml").read_text())
        assert config["proxy_app"] == node.abci == f"unix://{node.home}/abci.sock"
        assert env["CMT_PROXY_APP"] == "unix:///data/abci.sock"  # the same file, in the volume
        if network == "host":
            assert set(env) == {"CMT_PROXY_APP"}  # listeners and peers as in config.toml
            continue
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


@pytest.mark.parametrize("network", dc.NETWORKS)
def test_prometheus_scrapes_every_node_and_grafana_reads_it(
    made: tuple[net.Testnet, dict[str, Any]], network: str
) -> None:
    testnet, specs = made
    files = Path(testnet.directory) / "monitoring" / "docker" / network
    config = read_yaml(files / "prometheus.yml")
    targets = {
        (job["job_name"], c["labels"]["node"], c["targets"][0])
        for job in config["scrape_configs"]
        for c in job["static_configs"]
    }
    host = {n.name: "127.0.0.1" if network == "host" else n.name for n in testnet.nodes}
    p = {n.name: n.ports for n in testnet.nodes}
    expected = {("cometbft", n, f"{host[n]}:{p[n].engine_metrics}") for n in host}
    expected |= {("modelgov-app", n, f"{host[n]}:{p[n].app_metrics}") for n in host}
    expected |= {("modelgov-weights", n, f"{host[n]}:{p[n].weights}") for n in host}
    assert targets == expected
    prometheus_port, grafana_port = dc.monitoring_ports(testnet)
    assert (prometheus_port, grafana_port) == (BASE_PORT + 7, BASE_PORT + 8)
    url = f"127.0.0.1:{prometheus_port}" if network == "host" else "prometheus:9090"
    source = read_yaml(files / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert source["datasources"][0]["url"] == f"http://{url}"
    provider = read_yaml(files / "grafana" / "provisioning" / "dashboards" / "modelgov.yml")
    assert provider["providers"][0]["options"]["path"] == dc.DASHBOARDS_IN_GRAFANA
    services = _services(specs[network])
    assert services["grafana"]["profiles"] == [dc.GRAFANA_PROFILE]
    command = " ".join(services["prometheus"]["command"])
    if network == "host":
        assert f"--web.listen-address=127.0.0.1:{prometheus_port}" in command
        assert services["grafana"]["environment"]["GF_SERVER_HTTP_PORT"] == str(grafana_port)
    else:
        assert services["prometheus"]["ports"] == [f"127.0.0.1:{prometheus_port}:9090"]
        assert services["grafana"]["ports"] == [f"127.0.0.1:{grafana_port}:3000"]


def test_monitoring_ports_are_no_nodes_ports(made: tuple[net.Testnet, dict[str, Any]]) -> None:
    testnet, _ = made
    taken = {port for n in testnet.nodes for port in vars(n.ports).values()}
    assert not taken & set(dc.monitoring_ports(testnet))


def test_the_env_file_holds_the_dockerfiles_defaults_and_the_grafana_profile(
    made: tuple[net.Testnet, dict[str, Any]],
) -> None:
    testnet, specs = made
    env = dc.read_env(Path(testnet.directory))
    assert env == dc.env_defaults()
    assert env["COMPOSE_PROFILES"] == "grafana"
    dockerfile = (ROOT / "Dockerfile").read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert arguments == {k.removeprefix("MODELGOV_"): v for k, v in dc.BASE_IMAGES.items()}
    for spec in specs.values():
        build = _services(spec)["node0-init"]["build"]["args"]
        for argument, value in build.items():
            variable, default = INTERPOLATION.fullmatch(value).groups()  # type: ignore[union-attr]
            assert (variable, default) == (f"MODELGOV_{argument}", arguments[argument])
        image = _services(spec)["prometheus"]["image"]
        variable, default = INTERPOLATION.fullmatch(image).groups()  # type: ignore[union-attr]
        assert env[variable] == default == dc.PROMETHEUS_IMAGE


def test_the_env_file_round_trips(tmp_path: Path) -> None:
    values = {"COMPOSE_PROFILES": "", "MODELGOV_GO_IMAGE": "modelgov-local/go:go1.26-abc"}
    dc.write_env(tmp_path, values, "why")
    assert dc.read_env(tmp_path) == values
    assert (tmp_path / ".env").read_text().startswith("# why\n")
    assert dc.read_env(tmp_path / "absent") == {}


def _seed(seed: Path, data: Path) -> subprocess.CompletedProcess[str]:
    """Run the init service's script on this host, with its paths and user moved here."""
    script = dc.SEED.replace("/seed", "\0seed").replace(dc.HOME, "\0data")
    script = script.replace("\0seed", str(seed)).replace("\0data", str(data))
    script = script.replace(f"{dc.USER}:{dc.USER}", f"{os.getuid()}:{os.getgid()}")
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)


def test_the_seed_copies_once_and_refuses_another_chains_volume(tmp_path: Path) -> None:
    seed, data = tmp_path / "seed", tmp_path / "data"
    genesis = Path("cometbft/config/genesis.json")
    (seed / genesis).parent.mkdir(parents=True)
    (seed / genesis).write_text('{"chain_id": "a"}')
    (seed / "app").mkdir()
    data.mkdir()
    assert _seed(seed, data).returncode == 0
    assert (data / genesis).read_text() == '{"chain_id": "a"}' and (data / "app").is_dir()
    (data / "app" / "state").write_text("blocks")  # the chain grows in the volume
    (seed / "app" / "state").write_text("stale")
    assert _seed(seed, data).returncode == 0
    assert (data / "app" / "state").read_text() == "blocks"  # a later start keeps it
    (seed / genesis).write_text('{"chain_id": "b"}')
    refused = _seed(seed, data)
    assert refused.returncode == 1 and "another chain" in refused.stderr
    assert (data / genesis).read_text() == '{"chain_id": "a"}'


def test_the_dockerfile_runs_setups_steps_offline_capable_and_as_a_user() -> None:
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
        '".[dev',
        "-m chain.engine.protogen",
    ):
        assert step in setup and step in dockerfile, step
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.MULTILINE)
    assert stages == ["engine", "build", "node"]
    instructions = [ln for ln in dockerfile.splitlines() if not ln.startswith("#")]
    assert not any("--mount" in ln for ln in instructions)  # the classic builder builds it
    assert "GOPROXY=off" in dockerfile  # protogen reads only what stage engine downloaded
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users == [dc.USER]
    assert f"--uid 10001 --user-group --create-home {dc.USER}" in dockerfile
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
    """The bridge file relies on CMT_* variables overriding config.toml: run one engine with
    them and see (its app listens on another socket than config.toml names, as in a volume)."""
    node = single.nodes[0]
    spec = read_yaml(Path(single.directory) / dc.COMPOSE_FILES["bridge"])
    directory = Path(single.directory)
    moved = Path(node.abci.removeprefix("unix://")).with_name("moved")  # no longer than it
    env = {
        **spec["services"][f"{node.name}-engine"]["environment"],
        "CMT_PROXY_APP": f"unix://{moved}",
    }
    logs = Path(node.home) / "logs"
    on_moved = replace(node, abci_address=env["CMT_PROXY_APP"])
    app = subprocess.Popen(
        net.app_command(on_moved),
        stdout=(logs / "app.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    net._record(directory, node, "app", app.pid)
    net._wait_for_app(on_moved, app)
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
    assert not Path(node.abci).exists()  # config.toml's socket was never opened
