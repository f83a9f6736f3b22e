"""The plan of a local testnet: its port scheme, what init made for each node (the manifest),
and the command of each process. A leaf: the process testnet (``chain.testnet``), the docker
compose files (``chain.ops.compose``) and the monitoring files (``chain.ops.monitoring``) all
read it, and it imports none of them.

Port scheme (node i, base port B = 26656 by default; every port is B + offset + 100*i):

    P2P  B+0 (26656)   RPC  B+1 (26657)   ABCI B+2 (reserved: engines reach apps over sockets)
    engine Prometheus B+4 (26660)         app Prometheus B+5 (26661)   weights B+6 (26662)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from chain.engine.config import UNIX_PATH_MAX
from chain.keys import Keyring

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_PORT = 26656
MANIFEST = "testnet.json"
PIDS = "pids.json"
ABCI_SOCKET = "abci.sock"
ROLES = ("app", "engine", "weights")  # the order a node's processes start in


class TestnetError(RuntimeError):
    """The testnet could not be initialised, started or stopped; the message says why."""


@dataclass(frozen=True)
class NodePorts:
    """The loopback ports of one node."""

    p2p: int
    rpc: int
    abci: int
    engine_metrics: int
    app_metrics: int
    weights: int

    @classmethod
    def of(cls, index: int, base: int = DEFAULT_BASE_PORT) -> NodePorts:
        """Ports of node ``index`` under the documented scheme."""
        b = base + 100 * index
        return cls(
            p2p=b, rpc=b + 1, abci=b + 2, engine_metrics=b + 4, app_metrics=b + 5, weights=b + 6
        )


@dataclass(frozen=True)
class NodeSpec:
    """What init made for one node."""

    index: int
    name: str
    home: str  # the node's directory; engine home is home/cometbft, app home is home/app
    node_id: str
    ports: NodePorts
    abci_address: str = ""  # unix://PATH; empty in manifests from before the unix socket

    @property
    def abci(self) -> str:
        """Where the app listens for its engine (an old manifest's nodes: the ABCI TCP port)."""
        return self.abci_address or f"tcp://127.0.0.1:{self.ports.abci}"

    @property
    def engine_home(self) -> Path:
        """The CometBFT home (config, data, keys)."""
        return Path(self.home) / "cometbft"

    @property
    def app_home(self) -> Path:
        """The app's LevelDB lives here."""
        return Path(self.home) / "app"

    @property
    def rpc_url(self) -> str:
        """The node's JSON-RPC endpoint."""
        return f"http://127.0.0.1:{self.ports.rpc}"

    @property
    def weights_url(self) -> str:
        """The node's weights server."""
        return f"http://127.0.0.1:{self.ports.weights}"


@dataclass(frozen=True)
class Testnet:
    """A testnet's manifest."""

    directory: str
    chain_id: str
    nodes: tuple[NodeSpec, ...]

    @property
    def keyring(self) -> Keyring:
        """The consortium accounts' keys that init generated."""
        return Keyring(Path(self.directory) / "keys")

    @classmethod
    def load(cls, directory: Path) -> Testnet:
        """Read the manifest; raises TestnetError saying to run init when there is none."""
        path = directory / MANIFEST
        if not path.exists():
            raise TestnetError(
                f"{directory} holds no testnet; create one with "
                f"`modelgov testnet init --validators 4 --dir {directory}`"
            )
        raw = json.loads(path.read_text())
        nodes = tuple(NodeSpec(**{**n, "ports": NodePorts(**n["ports"])}) for n in raw["nodes"])
        return cls(raw["directory"], raw["chain_id"], nodes)

    def save(self) -> None:
        """Write the manifest."""
        path = Path(self.directory) / MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def abci_socket_path(home: Path) -> Path:
    """Where a node's app listens: ``<home>/abci.sock``, or, when that path is over the
    kernel's limit, a file named by a digest of ``home`` in the user's private socket
    directory (both the app and the engine must use the same short path)."""
    inside = home / ABCI_SOCKET
    if len(os.fsencode(inside)) <= UNIX_PATH_MAX:
        return inside
    digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:24]
    return private_socket_dir() / f"{digest}.sock"


def private_socket_dir() -> Path:
    """The per-user directory for sockets whose node path is too long."""
    return Path(tempfile.gettempdir()) / f"modelgov-{os.getuid()}"


SHARED_ADDRESS_CONNECTIONS = 32
"""A testnet's weights server's bound on connections from one client address: every node of a
one-host testnet, its CLI and its Prometheus reach a store from 127.0.0.1 (on a docker bridge,
from the gateway through docker-proxy), so the server's default of 8, meant for one member's
address, would turn the testnet's own traffic away."""


def weights_command(node: NodeSpec) -> list[str]:
    """The command that runs a node's weights server (its store is ``<node>/weights``)."""
    return [
        sys.executable,
        "-m",
        "chain.weights.server",
        "--store",
        str(Path(node.home) / "weights"),
        "--listen",
        f"127.0.0.1:{node.ports.weights}",
        "--node",
        node.rpc_url,
        "--per-address-connections",
        str(SHARED_ADDRESS_CONNECTIONS),
    ]


def app_command(node: NodeSpec) -> list[str]:
    """The command that runs a node's application process."""
    return [
        sys.executable,
        "-m",
        "app",
        "--home",
        str(node.app_home),
        "--address",
        node.abci,
        "--metrics",
        f"127.0.0.1:{node.ports.app_metrics}",
    ]


def engine_command(binary: Path, node: NodeSpec) -> list[str]:
    """The command that runs a node's engine."""
    return [str(binary), "start", "--home", str(node.engine_home)]
