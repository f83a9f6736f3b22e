"""The docker compose testnet: the same nodes as the process testnet, one container per process.

``write_compose`` writes, for a testnet that ``init`` made (same genesis, keys, node ids, ports
and commands), two compose files of one project:

    docker-compose.yml         host networking: every listener on the host's 127.0.0.1 under
                               the process testnet's port, exactly as ``testnet start`` runs them
                               (what ``make docker-testnet`` and the docker test run)
    docker-compose.bridge.yml  a bridge network: node<i> is a host name, listeners on 0.0.0.0
                               inside the containers, published on the host's 127.0.0.1 under
                               the same numbers (for machines where host networking is not
                               what a container gets, such as Docker Desktop)

and ``.env`` beside them (the base images and the compose profiles; ``chain.ops.dockernet``
rewrites it where the registries' images cannot be pulled). Node *i* is four services:

    node<i>-init     copies the node's home (DIR/node<i>) into its named volume once, and
                     refuses a volume that holds another chain's genesis
    node<i>          the app (``chain.testnet.app_command``)
    node<i>-engine   the engine (``engine_command``) under ``chain.ops.guard``, which ends it
                     when its app is replaced (CometBFT never reconnects to a new app)
    node<i>-weights  the weights server (``weights_command``)

Inside a container the node's home is ``/data`` (the volume) and ``python`` is the image's
interpreter. The engine reaches its app over the unix socket ``/data/abci.sock`` in the volume
both containers mount, owner-only as in the process testnet, so no ABCI port is open on any
network; the engine's differences from its config.toml come as ``CMT_*`` environment variables
(its documented overrides). Prometheus scrapes every node from the same project, on port B+7;
Grafana (profile ``grafana``) serves the dashboards of ``chain.ops.monitoring`` on B+8.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain import plan as net
from chain.engine.version import COMETBFT_VERSION
from chain.ops.monitoring import (
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    prometheus_config,
    write_provisioning,
    write_yaml,
)

NETWORKS = ("host", "bridge")
COMPOSE_FILES = {"host": "docker-compose.yml", "bridge": "docker-compose.bridge.yml"}
COMPOSE_FILE = COMPOSE_FILES["host"]
ENV_FILE = ".env"
IMAGE = f"modelgov:cometbft-{COMETBFT_VERSION}"
# The Dockerfile's default base images (its ARGs), overridable through .env.
BASE_IMAGES = {
    "MODELGOV_GO_IMAGE": "golang:1.23-bookworm",
    "MODELGOV_BUILD_IMAGE": "python:3.11-slim-bookworm",
    "MODELGOV_PYTHON_IMAGE": "python:3.11-slim-bookworm",
}
PROMETHEUS_IMAGE = "prom/prometheus:v2.53.2"
GRAFANA_IMAGE = "grafana/grafana:11.2.0"
PROMETHEUS_VARIABLE = "MODELGOV_PROMETHEUS_IMAGE"
GRAFANA_PROFILE = "grafana"
HOME = "/data"
ABCI_SOCKET = f"unix://{HOME}/abci.sock"
LOOPBACK, ANY = "127.0.0.1", "0.0.0.0"
PYTHON = "python"
GUARD = (PYTHON, "-m", "chain.ops.guard")
USER = "modelgov"
DASHBOARDS_IN_GRAFANA = "/etc/grafana/dashboards"
PROMETHEUS_OFFSET, GRAFANA_OFFSET = 7, 8  # B+7, B+8: free in node 0's block of ports
LOGGING = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
SEED = (
    f"if [ -e {HOME}/cometbft/config/genesis.json ]; then"
    f" cmp -s /seed/cometbft/config/genesis.json {HOME}/cometbft/config/genesis.json"
    " || { echo 'this volume holds another chain: docker compose down -v drops it' >&2;"
    " exit 1; };"
    f" else cp -R /seed/. {HOME}/ && chown -R {USER}:{USER} {HOME}; fi"
)


def base_port(testnet: net.Testnet) -> int:
    """The testnet's base port B: node 0's P2P port."""
    return testnet.nodes[0].ports.p2p


def monitoring_ports(testnet: net.Testnet) -> tuple[int, int]:
    """Prometheus's and Grafana's host ports: B+7 and B+8."""
    return base_port(testnet) + PROMETHEUS_OFFSET, base_port(testnet) + GRAFANA_OFFSET


def container_node(node: net.NodeSpec) -> net.NodeSpec:
    """The node as its containers see it: its home is the volume at /data, where the app
    listens on the unix socket its engine opens."""
    return replace(node, home=HOME, abci_address=ABCI_SOCKET)


def in_image(args: list[str]) -> list[str]:
    """A process testnet command as a container runs it: the image's python."""
    head, *rest = args
    return [PYTHON if head == sys.executable else head, *rest]


def listening(args: list[str]) -> list[str]:
    """A process testnet command on a bridge network: the image's python, and bare
    ``127.0.0.1:PORT`` listeners on 0.0.0.0 so other containers reach them (``http://``
    addresses stay on the node's own loopback)."""
    head, *rest = in_image(args)
    return [head, *(ANY + a[len(LOOPBACK) :] if a.startswith(LOOPBACK + ":") else a for a in rest)]


def app_service_command(node: net.NodeSpec, network: str = "host") -> list[str]:
    """The app's command: ``chain.testnet.app_command`` of the containerised node."""
    command = net.app_command(container_node(node))
    return in_image(command) if network == "host" else listening(command)


def weights_service_command(node: net.NodeSpec, network: str = "host") -> list[str]:
    """The weights server's command: ``chain.testnet.weights_command``, RPC on loopback."""
    command = net.weights_command(container_node(node))
    return in_image(command) if network == "host" else listening(command)


def engine_service_command(node: net.NodeSpec) -> list[str]:
    """The engine's command: ``chain.testnet.engine_command`` with the image's cometbft, under
    ``chain.ops.guard``, which ends an engine whose app was replaced (it never reconnects)."""
    engine = net.engine_command(Path("cometbft"), container_node(node))
    return [*GUARD, ABCI_SOCKET.removeprefix("unix://"), "--", *engine]


def engine_environment(
    node: net.NodeSpec, nodes: tuple[net.NodeSpec, ...], network: str = "host"
) -> dict[str, str]:
    """What differs from the node's config.toml in its containers (CMT_* overrides): the app's
    socket in the volume; on a bridge network also the listeners and the peers' host names."""
    environment = {"CMT_PROXY_APP": ABCI_SOCKET}
    if network == "host":
        return environment
    peers = ",".join(f"{n.node_id}@{n.name}:{n.ports.p2p}" for n in nodes if n.index != node.index)
    return {
        **environment,
        "CMT_P2P_LADDR": f"tcp://{ANY}:{node.ports.p2p}",
        "CMT_RPC_LADDR": f"tcp://{ANY}:{node.ports.rpc}",
        "CMT_P2P_PERSISTENT_PEERS": peers,
        "CMT_INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR": f"{ANY}:{node.ports.engine_metrics}",
    }


def _http_check(url: str) -> dict[str, Any]:
    """A health check the node image can run (its python; no curl or wget in it)."""
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=3)"
    return {
        "test": ["CMD", PYTHON, "-c", probe],
        "interval": "5s",
        "timeout": "5s",
        "retries": 12,
        "start_period": "10s",
    }


def _wget_check(url: str) -> dict[str, Any]:
    """A health check for the Prometheus and Grafana images (both have wget, neither python)."""
    return {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", url],
        "interval": "10s",
        "timeout": "5s",
        "retries": 6,
        "start_period": "10s",
    }


def _published(*ports: int | tuple[int, int]) -> list[str]:
    """Ports published on the host's loopback: ``PORT`` or ``(host port, container port)``."""
    pairs = [p if isinstance(p, tuple) else (p, p) for p in ports]
    return [f"{LOOPBACK}:{host}:{inside}" for host, inside in pairs]


def _build(context: str) -> dict[str, Any]:
    """How compose builds the node image: the Dockerfile, its base images from .env."""
    args = {
        name.removeprefix("MODELGOV_"): f"${{{name}:-{default}}}"
        for name, default in BASE_IMAGES.items()
    }
    # Host networking for the build's RUN steps too: an engine without a default bridge (as
    # chain.ops.dockernet starts one) has no other network to give them.
    return {"context": context, "dockerfile": "Dockerfile", "args": args, "network": "host"}


def _placed(service: dict[str, Any], network: str, owner: str, ports: list[str]) -> Any:
    """Put a service on the network: the host's, or (bridge) the owner's namespace or ports."""
    if network == "host":
        return {**service, "network_mode": "host"}
    if owner:
        return {**service, "network_mode": f"service:{owner}"}
    return {**service, "ports": ports}


def node_services(
    node: net.NodeSpec, nodes: tuple[net.NodeSpec, ...], build: str, network: str = "host"
) -> dict[str, Any]:
    """The four services of one node."""
    volume = f"{node.name}-data:{HOME}"
    p = node.ports
    running = {"image": IMAGE, "volumes": [volume], "restart": "unless-stopped", "logging": LOGGING}
    init = {
        "image": IMAGE,
        **({"build": _build(build)} if node.index == 0 else {}),  # one build serves all
        "user": "0:0",
        "command": ["sh", "-c", SEED],
        "volumes": [f"./{node.name}:/seed:ro", volume],
        "restart": "no",
    }
    app = {
        **running,
        "command": app_service_command(node, network),
        "depends_on": {f"{node.name}-init": {"condition": "service_completed_successfully"}},
        "healthcheck": _http_check(f"http://{LOOPBACK}:{p.app_metrics}/metrics"),
    }
    # On a bridge network every peer's name must resolve before an engine dials it.
    waits_for = [node] if network == "host" else list(nodes)
    engine = {
        **running,
        "command": engine_service_command(node),
        "environment": engine_environment(node, nodes, network),
        "depends_on": {n.name: {"condition": "service_healthy"} for n in waits_for},
        "healthcheck": _http_check(f"http://{LOOPBACK}:{p.rpc}/health"),
    }
    weights = {
        **running,
        "command": weights_service_command(node, network),
        "depends_on": {f"{node.name}-engine": {"condition": "service_healthy"}},
        "healthcheck": _http_check(f"http://{LOOPBACK}:{p.weights}/v1/health"),
    }
    ports = _published(p.p2p, p.rpc, p.engine_metrics, p.app_metrics, p.weights)
    return {
        f"{node.name}-init": _placed(init, network, "", []),
        node.name: _placed(app, network, "", ports),
        f"{node.name}-engine": _placed(engine, network, node.name, []),
        f"{node.name}-weights": _placed(weights, network, node.name, []),
    }


def monitoring_services(testnet: net.Testnet, network: str = "host") -> dict[str, Any]:
    """Prometheus (the compose prometheus.yml) and Grafana (profile grafana, provisioned,
    anonymous viewer), on B+7 and B+8 of the host's loopback."""
    prometheus_port, grafana_port = monitoring_ports(testnet)
    address, prometheus_listen, grafana_listen = (LOOPBACK, prometheus_port, grafana_port)
    if network != "host":
        address, prometheus_listen, grafana_listen = ANY, PROMETHEUS_PORT, GRAFANA_PORT
    files = f"./monitoring/docker/{network}"
    prometheus = {
        "image": f"${{{PROMETHEUS_VARIABLE}:-{PROMETHEUS_IMAGE}}}",
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--web.listen-address={address}:{prometheus_listen}",
        ],
        "volumes": [
            f"{files}/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "prometheus-data:/prometheus",
        ],
        "healthcheck": _wget_check(f"http://{LOOPBACK}:{prometheus_listen}/-/ready"),
        "restart": "unless-stopped",
        "logging": LOGGING,
    }
    grafana = {
        "image": GRAFANA_IMAGE,
        "profiles": [GRAFANA_PROFILE],
        "environment": {
            "GF_SERVER_HTTP_ADDR": address,
            "GF_SERVER_HTTP_PORT": str(grafana_listen),
            "GF_AUTH_ANONYMOUS_ENABLED": "true",
            "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        },
        "volumes": [
            f"{files}/grafana/provisioning:/etc/grafana/provisioning:ro",
            f"./monitoring/grafana/dashboards:{DASHBOARDS_IN_GRAFANA}:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "depends_on": {"prometheus": {"condition": "service_healthy"}},
        "healthcheck": _wget_check(f"http://{LOOPBACK}:{grafana_listen}/api/health"),
        "restart": "unless-stopped",
        "logging": LOGGING,
    }
    published = (
        _published((prometheus_port, PROMETHEUS_PORT)),
        _published((grafana_port, GRAFANA_PORT)),
    )
    return {
        "prometheus": _placed(prometheus, network, "", published[0]),
        "grafana": _placed(grafana, network, "", published[1]),
    }


def compose(
    testnet: net.Testnet, build: Path = net.PROJECT_ROOT, network: str = "host"
) -> dict[str, Any]:
    """The compose file's content for ``testnet``, built from the checkout at ``build``."""
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}")
    services: dict[str, Any] = {}
    for node in testnet.nodes:
        services.update(node_services(node, testnet.nodes, str(build), network))
    services.update(monitoring_services(testnet, network))
    volumes = [f"{n.name}-data" for n in testnet.nodes] + ["prometheus-data", "grafana-data"]
    return {
        "name": project_name(testnet),
        "services": services,
        "volumes": {v: {} for v in volumes},
    }


def project_name(testnet: net.Testnet) -> str:
    """The compose project (lowercase letters, digits, dashes, underscores): the chain id and
    the base port, so two testnets of one chain on one host keep apart volumes."""
    chain = re.sub(r"[^a-z0-9_-]", "-", testnet.chain_id.lower()).strip("-_") or "modelgov"
    return f"{chain}-{base_port(testnet)}"


def env_defaults() -> dict[str, str]:
    """What ``.env`` says before anything is known about this machine's registries."""
    return {
        "COMPOSE_PROFILES": GRAFANA_PROFILE,
        **BASE_IMAGES,
        PROMETHEUS_VARIABLE: PROMETHEUS_IMAGE,
    }


def write_env(directory: Path, values: dict[str, str], why: str) -> Path:
    """Write the compose project's ``.env`` (variables for the compose files, and profiles)."""
    path = directory / ENV_FILE
    lines = [f"# {why}", *(f"{k}={v}" for k, v in values.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_env(directory: Path) -> dict[str, str]:
    """The variables of the project's ``.env`` (empty when there is none)."""
    path = directory / ENV_FILE
    if not path.exists():
        return {}
    pairs = (ln.partition("=") for ln in path.read_text().splitlines() if not ln.startswith("#"))
    return {k.strip(): v.strip() for k, sep, v in pairs if sep}


def write_compose(testnet: net.Testnet) -> Path:
    """Write both compose files, their Prometheus and Grafana provisioning, and ``.env``;
    returns the host-networking file."""
    directory = Path(testnet.directory)
    prometheus_port, _ = monitoring_ports(testnet)
    for network in NETWORKS:
        files = directory / "monitoring" / "docker" / network
        host = (lambda n: LOOPBACK) if network == "host" else (lambda n: n.name)
        write_yaml(
            files / "prometheus.yml",
            prometheus_config(testnet.nodes, host),
            f"Prometheus inside the compose testnet {testnet.chain_id} ({network} network)",
        )
        prometheus = (
            f"{LOOPBACK}:{prometheus_port}"
            if network == "host"
            else f"prometheus:{PROMETHEUS_PORT}"
        )
        write_provisioning(
            files / "grafana" / "provisioning", f"http://{prometheus}", DASHBOARDS_IN_GRAFANA
        )
        write_yaml(
            directory / COMPOSE_FILES[network],
            compose(testnet, network=network),
            f"docker compose testnet {testnet.chain_id}, {network} network: "
            f"`docker compose -f {COMPOSE_FILES[network]} up -d`",
        )
    write_env(
        directory,
        env_defaults(),
        "compose variables; `python -m chain.ops.dockernet up` rewrites them for this machine",
    )
    return directory / COMPOSE_FILE
