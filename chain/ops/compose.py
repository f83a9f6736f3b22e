"""The docker compose testnet: the same nodes as the process testnet, one container per process.

``write_compose`` writes ``DIR/docker-compose.yml`` for a testnet that ``init`` made: the same
genesis, keys, node ids, ports and commands. Node *i* is four services:

    node<i>-init     copies the node's home (DIR/node<i>) into its named volume once
    node<i>          the app (``chain.testnet.app_command``); owns the node's network namespace
    node<i>-engine   the engine (``engine_command``), sharing node<i>'s network namespace
    node<i>-weights  the weights server (``weights_command``), sharing it too

so the engine reaches the app's ABCI listener and the weights server the RPC on 127.0.0.1,
unpublished. ABCI between those two containers is TCP on that shared loopback: the process
testnet's unix socket lives in the host's node directory, which the containers do not see.
Inside a container the home is ``/data`` (the volume), ``python`` is the image's interpreter,
and what other containers must reach (P2P, RPC, both metrics ports, the weights server) listens
on 0.0.0.0 instead of 127.0.0.1; the engine's differences from its config.toml come as
``CMT_*`` environment variables (its documented overrides: listen addresses, the app's address
and persistent peers ``<id>@node<j>:<p2p>``). Ports are published on the host's loopback under
the same numbers as the process testnet. Prometheus and Grafana run beside them with the
provisioning of ``chain.ops.monitoring``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain import testnet as net
from chain.engine.version import COMETBFT_VERSION
from chain.ops.monitoring import (
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    prometheus_config,
    write_provisioning,
    write_yaml,
)

COMPOSE_FILE = "docker-compose.yml"
IMAGE = f"modelgov:cometbft-{COMETBFT_VERSION}"
PROMETHEUS_IMAGE = "prom/prometheus:v2.53.2"
GRAFANA_IMAGE = "grafana/grafana:11.2.0"
HOME = "/data"
LOOPBACK, ANY = "127.0.0.1", "0.0.0.0"
PYTHON = "python"
DASHBOARDS_IN_GRAFANA = "/etc/grafana/dashboards"


def container_node(node: net.NodeSpec) -> net.NodeSpec:
    """The node as its containers see it: its home is the volume at /data, its app listens on
    the ABCI port of the loopback its containers share."""
    return replace(node, home=HOME, abci_address=abci_address(node))


def abci_address(node: net.NodeSpec) -> str:
    """The app's ABCI address inside the node's network namespace."""
    return f"tcp://{LOOPBACK}:{node.ports.abci}"


def listening(args: list[str]) -> list[str]:
    """A process testnet command as a container runs it: the image's python, and bare
    ``127.0.0.1:PORT`` listeners on 0.0.0.0 so other containers reach them (ABCI ``tcp://`` and
    RPC ``http://`` addresses stay on the node's own loopback)."""
    head, *rest = args
    program = PYTHON if head == sys.executable else head
    return [
        program,
        *(ANY + a[len(LOOPBACK) :] if a.startswith(LOOPBACK + ":") else a for a in rest),
    ]


def app_service_command(node: net.NodeSpec) -> list[str]:
    """The app's command: ``chain.testnet.app_command`` of the containerised node."""
    return listening(net.app_command(container_node(node)))


def weights_service_command(node: net.NodeSpec) -> list[str]:
    """The weights server's command: ``chain.testnet.weights_command``, RPC on loopback."""
    return listening(net.weights_command(container_node(node)))


def engine_service_command(node: net.NodeSpec) -> list[str]:
    """The engine's command: ``chain.testnet.engine_command`` with the image's cometbft."""
    return net.engine_command(Path("cometbft"), container_node(node))


def engine_environment(node: net.NodeSpec, nodes: tuple[net.NodeSpec, ...]) -> dict[str, str]:
    """What differs from the node's config.toml inside the compose network (CMT_* overrides)."""
    peers = ",".join(f"{n.node_id}@{n.name}:{n.ports.p2p}" for n in nodes if n.index != node.index)
    return {
        "CMT_P2P_LADDR": f"tcp://{ANY}:{node.ports.p2p}",
        "CMT_RPC_LADDR": f"tcp://{ANY}:{node.ports.rpc}",
        "CMT_PROXY_APP": abci_address(node),
        "CMT_P2P_PERSISTENT_PEERS": peers,
        "CMT_INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR": f"{ANY}:{node.ports.engine_metrics}",
    }


def _http_check(url: str) -> dict[str, Any]:
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=3)"
    return {
        "test": ["CMD", PYTHON, "-c", probe],
        "interval": "5s",
        "timeout": "5s",
        "retries": 12,
        "start_period": "10s",
    }


def _published(*ports: int) -> list[str]:
    return [f"{LOOPBACK}:{p}:{p}" for p in ports]


def node_services(
    node: net.NodeSpec, nodes: tuple[net.NodeSpec, ...], build: str
) -> dict[str, Any]:
    """The four services of one node."""
    volume = f"{node.name}-data:{HOME}"
    p = node.ports
    init = {
        "image": IMAGE,
        "build": {"context": build, "dockerfile": "Dockerfile"},
        "user": "0:0",
        "command": ["sh", "-c", f"cp -Rn /seed/. {HOME}/ && chown -R modelgov:modelgov {HOME}"],
        "volumes": [f"./{node.name}:/seed:ro", volume],
        "restart": "no",
    }
    app = {
        "image": IMAGE,
        "command": app_service_command(node),
        "volumes": [volume],
        "ports": _published(p.p2p, p.rpc, p.engine_metrics, p.app_metrics, p.weights),
        "depends_on": {f"{node.name}-init": {"condition": "service_completed_successfully"}},
        "healthcheck": _http_check(f"http://{LOOPBACK}:{p.app_metrics}/metrics"),
        "restart": "unless-stopped",
    }
    engine = {
        "image": IMAGE,
        "command": engine_service_command(node),
        "environment": engine_environment(node, nodes),
        "volumes": [volume],
        "network_mode": f"service:{node.name}",
        "depends_on": {n.name: {"condition": "service_healthy"} for n in nodes},
        "healthcheck": _http_check(f"http://{LOOPBACK}:{p.rpc}/health"),
        "restart": "unless-stopped",
    }
    weights = {
        "image": IMAGE,
        "command": weights_service_command(node),
        "volumes": [volume],
        "network_mode": f"service:{node.name}",
        "depends_on": {f"{node.name}-engine": {"condition": "service_healthy"}},
        "healthcheck": _http_check(f"http://{LOOPBACK}:{p.rpc}/health"),
        "restart": "unless-stopped",
    }
    return {
        f"{node.name}-init": init,
        node.name: app,
        f"{node.name}-engine": engine,
        f"{node.name}-weights": weights,
    }


def monitoring_services() -> dict[str, Any]:
    """Prometheus (the docker prometheus.yml) and Grafana (provisioned, anonymous viewer)."""
    prometheus = {
        "image": PROMETHEUS_IMAGE,
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
        ],
        "volumes": [
            "./monitoring/docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "prometheus-data:/prometheus",
        ],
        "ports": _published(PROMETHEUS_PORT),
        "healthcheck": {
            "test": ["CMD", "wget", "-q", "-O", "-", f"http://localhost:{PROMETHEUS_PORT}/-/ready"],
            "interval": "10s",
            "timeout": "5s",
            "retries": 6,
        },
        "restart": "unless-stopped",
    }
    grafana = {
        "image": GRAFANA_IMAGE,
        "environment": {
            "GF_AUTH_ANONYMOUS_ENABLED": "true",
            "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        },
        "volumes": [
            "./monitoring/docker/grafana/provisioning:/etc/grafana/provisioning:ro",
            f"./monitoring/grafana/dashboards:{DASHBOARDS_IN_GRAFANA}:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "ports": _published(GRAFANA_PORT),
        "depends_on": {"prometheus": {"condition": "service_healthy"}},
        "healthcheck": {
            "test": ["CMD", "wget", "-q", "-O", "-", f"http://localhost:{GRAFANA_PORT}/api/health"],
            "interval": "10s",
            "timeout": "5s",
            "retries": 6,
        },
        "restart": "unless-stopped",
    }
    return {"prometheus": prometheus, "grafana": grafana}


def compose(testnet: net.Testnet, build: Path = net.PROJECT_ROOT) -> dict[str, Any]:
    """The compose file's content for ``testnet``, built from the checkout at ``build``."""
    services: dict[str, Any] = {}
    for node in testnet.nodes:
        services.update(node_services(node, testnet.nodes, str(build)))
    services.update(monitoring_services())
    volumes = [f"{n.name}-data" for n in testnet.nodes] + ["prometheus-data", "grafana-data"]
    return {
        "name": project_name(testnet.chain_id),
        "services": services,
        "volumes": {v: {} for v in volumes},
    }


def project_name(chain_id: str) -> str:
    """A compose project name (lowercase letters, digits, dashes, underscores) from the chain."""
    return re.sub(r"[^a-z0-9_-]", "-", chain_id.lower()).strip("-_") or "modelgov"


def write_compose(testnet: net.Testnet) -> Path:
    """Write docker-compose.yml and the containers' Prometheus and Grafana provisioning."""
    directory = Path(testnet.directory)
    docker = directory / "monitoring" / "docker"
    write_yaml(
        docker / "prometheus.yml",
        prometheus_config(testnet.nodes, lambda n: n.name),
        f"Prometheus inside the compose testnet {testnet.chain_id}",
    )
    write_provisioning(
        docker / "grafana" / "provisioning",
        f"http://prometheus:{PROMETHEUS_PORT}",
        DASHBOARDS_IN_GRAFANA,
    )
    path = directory / COMPOSE_FILE
    write_yaml(
        path,
        compose(testnet),
        f"docker compose testnet {testnet.chain_id}: `docker compose -f {COMPOSE_FILE} up -d`",
    )
    return path
