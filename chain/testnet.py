"""A local testnet: N validators, each a CometBFT engine and a modelgov app, on loopback.

Port scheme (node i, base port B = 26656 by default; every port is B + offset + 100*i):

    P2P  B+0 (26656)   RPC  B+1 (26657)   ABCI B+2 (26658)
    engine Prometheus B+4 (26660)         app Prometheus B+5 (26661)   weights B+6 (26662)

``init`` writes the node homes, keys and a shared genesis; ``start`` runs the processes detached
with a log file each and waits for blocks; ``stop`` ends them. A start that fails stops what it
started. The manifest ``testnet.json`` records what init made so the other commands need only
the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chain.engine.config import set_values
from chain.engine.install import find_cometbft
from chain.genesis import (
    account_pubkeys,
    app_state_of,
    engine_genesis,
    load_consortium,
    validator_entry,
)
from chain.keys import Keyring
from chain.ops.monitoring import write_monitoring
from chain.rpc import RpcClient, RpcError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONSORTIUM = PROJECT_ROOT / "genesis" / "consortium.example.toml"
DEFAULT_BASE_PORT = 26656
MANIFEST = "testnet.json"
PIDS = "pids.json"


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


def init(
    directory: Path,
    validators: int,
    *,
    consortium_file: Path = DEFAULT_CONSORTIUM,
    chain_id: str = "",
    base_port: int = DEFAULT_BASE_PORT,
    timeout_commit: str = "1s",
    force: bool = False,
    docker: bool = False,
) -> Testnet:
    """Write node homes, account keys and the shared genesis for ``validators`` nodes, the
    monitoring files (``chain.ops.monitoring``) and, with ``docker``, a docker-compose.yml."""
    if not 1 <= validators <= 50:
        raise TestnetError("--validators must be between 1 and 50")
    directory = directory.resolve()
    if (directory / MANIFEST).exists() or (directory.exists() and any(directory.iterdir())):
        if not force:
            raise TestnetError(f"{directory} is not empty; pass --force to replace it")
        if (directory / PIDS).exists():
            stop(directory)
        shutil.rmtree(directory)
    consortium = load_consortium(consortium_file)
    chain_id = chain_id or str(consortium.get("chain_id") or "modelgov-local")
    binary = find_cometbft()
    directory.mkdir(parents=True)
    keyring = Keyring(directory / "keys")
    pubkeys = account_pubkeys(consortium, keyring)
    app_state = app_state_of(consortium, pubkeys)
    nodes = [_init_node(binary, directory, i, base_port) for i in range(validators)]
    base = json.loads((nodes[0].engine_home / "config" / "genesis.json").read_text())
    base.setdefault("consensus_params", {}).setdefault("version", {})["app"] = "1"
    entries = [
        validator_entry(n.engine_home / "config" / "priv_validator_key.json", n.name) for n in nodes
    ]
    genesis = engine_genesis(base, chain_id, app_state, entries)
    for node in nodes:
        (node.engine_home / "config" / "genesis.json").write_text(json.dumps(genesis, indent=2))
        _configure(node, nodes, timeout_commit)
    testnet = Testnet(str(directory), chain_id, tuple(nodes))
    testnet.save()
    write_monitoring(testnet)
    if docker:
        from chain.ops.compose import write_compose  # imports this module

        write_compose(testnet)
    return testnet


def add_node(directory: Path, timeout_commit: str = "") -> NodeSpec:
    """Make one more node for a testnet: same genesis, peers with every node, a fresh validator
    key that governance can give power (``modelgov tx gov propose set-validator``). It starts as
    a full node; start it with ``start_node``."""
    testnet = Testnet.load(directory)
    binary = find_cometbft()
    base = testnet.nodes[0].ports.p2p
    node = _init_node(binary, Path(testnet.directory), len(testnet.nodes), base)
    genesis = (testnet.nodes[0].engine_home / "config" / "genesis.json").read_text()
    (node.engine_home / "config" / "genesis.json").write_text(genesis)
    nodes = [*testnet.nodes, node]
    commit = timeout_commit or _setting(testnet.nodes[0], "timeout_commit")
    _configure(node, nodes, commit)
    Testnet(testnet.directory, testnet.chain_id, tuple(nodes)).save()
    return node


def _setting(node: NodeSpec, name: str) -> str:
    """A string setting of a node's config.toml (first occurrence)."""
    for line in (node.engine_home / "config" / "config.toml").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"')
    raise TestnetError(f"{node.name}'s config.toml has no {name}")


def _init_node(binary: Path, directory: Path, index: int, base_port: int) -> NodeSpec:
    name = f"node{index}"
    home = directory / name
    engine_home = home / "cometbft"
    _run([str(binary), "init", "--home", str(engine_home)])
    node_id = _run([str(binary), "show-node-id", "--home", str(engine_home)]).strip()
    (home / "app").mkdir(parents=True)
    (home / "logs").mkdir()
    return NodeSpec(index, name, str(home), node_id, NodePorts.of(index, base_port))


def _configure(node: NodeSpec, nodes: list[NodeSpec], timeout_commit: str) -> None:
    peers = ",".join(f"{n.node_id}@127.0.0.1:{n.ports.p2p}" for n in nodes if n.index != node.index)
    set_values(
        node.engine_home / "config" / "config.toml",
        {
            "moniker": node.name,
            "proxy_app": f"tcp://127.0.0.1:{node.ports.abci}",
            "rpc.laddr": f"tcp://127.0.0.1:{node.ports.rpc}",
            "p2p.laddr": f"tcp://127.0.0.1:{node.ports.p2p}",
            "p2p.persistent_peers": peers,
            "p2p.addr_book_strict": False,
            "p2p.allow_duplicate_ip": True,
            "consensus.timeout_commit": timeout_commit,
            "instrumentation.prometheus": True,
            "instrumentation.prometheus_listen_addr": f"127.0.0.1:{node.ports.engine_metrics}",
        },
    )


def _run(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        raise TestnetError(f"{' '.join(args)} failed: {exc.stderr.strip()}") from None
    return out.stdout


# --- processes ------------------------------------------------------------------------------


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
        f"tcp://127.0.0.1:{node.ports.abci}",
        "--metrics",
        f"127.0.0.1:{node.ports.app_metrics}",
    ]


def engine_command(binary: Path, node: NodeSpec) -> list[str]:
    """The command that runs a node's engine."""
    return [str(binary), "start", "--home", str(node.engine_home)]


def start(directory: Path, timeout: float = 60.0) -> Testnet:
    """Start every node that is not running and wait until all commit blocks."""
    testnet = Testnet.load(directory)
    binary = find_cometbft()
    started: list[int] = []
    try:
        for node in testnet.nodes:
            if not _node_running(directory, node):
                started.extend(start_node(directory, node, binary))
        wait_until_producing(testnet, timeout)
    except BaseException:
        _terminate(started)
        _forget(directory, started)
        raise
    return testnet


def start_node(directory: Path, node: NodeSpec, binary: Path | None = None) -> list[int]:
    """Start one node's app, wait for its ABCI port, then its engine; returns their pids."""
    binary = binary or find_cometbft()
    logs = Path(node.home) / "logs"
    app = _spawn(app_command(node), logs / "app.log")
    pids = [app.pid]
    _record(directory, node, "app", app.pid)
    try:
        _wait_for_port(node.ports.abci, app, logs / "app.log")
        engine = _spawn(engine_command(binary, node), logs / "engine.log")
    except BaseException:
        _terminate(pids)
        _forget(directory, pids)
        raise
    pids.append(engine.pid)
    _record(directory, node, "engine", engine.pid)
    weights = _spawn(weights_command(node), logs / "weights.log")
    pids.append(weights.pid)
    _record(directory, node, "weights", weights.pid)
    return pids


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TestnetError(f"the app exited with {process.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TestnetError(f"the app did not listen on port {port} within 30s; see {log}")


def wait_until_producing(testnet: Testnet, timeout: float = 60.0, height: int = 1) -> None:
    """Wait until every node has committed ``height``; raises TestnetError naming the laggards."""
    deadline = time.monotonic() + timeout
    behind: list[str] = []
    while time.monotonic() < deadline:
        behind = [n.name for n in testnet.nodes if _height(n) < height]
        if not behind:
            return
        time.sleep(0.3)
    logs = ", ".join(f"{Path(testnet.directory) / n}/logs/" for n in behind)
    raise TestnetError(
        f"{', '.join(behind)} did not reach height {height} in {timeout:.0f}s; see {logs}"
    )


def _height(node: NodeSpec) -> int:
    try:
        status = RpcClient(node.rpc_url, timeout=2).status()
    except RpcError:
        return -1
    return int(status["sync_info"]["latest_block_height"])


def stop(directory: Path, timeout: float = 15.0) -> int:
    """Stop every process the testnet runs (engines first); returns how many were running."""
    pids = _load_pids(directory)
    ordered = [p["pid"] for p in pids if p["role"] == "weights"]
    ordered += [p["pid"] for p in pids if p["role"] == "engine"]
    ordered += [p["pid"] for p in pids if p["role"] == "app"]
    running = _terminate(ordered, timeout)
    (directory / PIDS).unlink(missing_ok=True)
    return running


def kill_node(directory: Path, node: NodeSpec) -> None:
    """SIGKILL a node's engine and app at once, as a power cut would."""
    victims = [p for p in _load_pids(directory) if p["node"] == node.name]
    for entry in victims:
        if _alive(entry["pid"]):
            os.kill(entry["pid"], signal.SIGKILL)
    _forget(directory, [p["pid"] for p in victims])
    for entry in victims:
        _reap(entry["pid"], 5.0)


def _terminate(pids: list[int], timeout: float = 15.0) -> int:
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGTERM)
    for pid in alive:
        if not _reap(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _reap(pid, 5.0)
    return len(alive)


def _reap(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit (collecting it if it is our child); True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return True
        except ChildProcessError:
            if not _alive(pid):
                return True
        time.sleep(0.05)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _node_running(directory: Path, node: NodeSpec) -> bool:
    return any(p["node"] == node.name and _alive(p["pid"]) for p in _load_pids(directory))


def _load_pids(directory: Path) -> list[dict[str, Any]]:
    path = directory / PIDS
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return entries


def _record(directory: Path, node: NodeSpec, role: str, pid: int) -> None:
    entries = [p for p in _load_pids(directory) if _alive(p["pid"])]
    entries.append({"node": node.name, "role": role, "pid": pid})
    (directory / PIDS).write_text(json.dumps(entries, indent=2) + "\n")


def _forget(directory: Path, pids: list[int]) -> None:
    entries = [p for p in _load_pids(directory) if p["pid"] not in pids]
    (directory / PIDS).write_text(json.dumps(entries, indent=2) + "\n")


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeStatus:
    """What ``testnet status`` shows for one node."""

    name: str
    rpc: str
    running: bool
    height: int
    app_hash: str
    peers: int
    catching_up: bool


def status(directory: Path) -> list[NodeStatus]:
    """Height, app hash and peers of every node (height -1 when its RPC does not answer)."""
    testnet = Testnet.load(directory)
    rows = []
    for node in testnet.nodes:
        client = RpcClient(node.rpc_url, timeout=2)
        try:
            sync = client.status()["sync_info"]
            peers = int(client.net_info()["n_peers"])
            height, app_hash = int(sync["latest_block_height"]), sync["latest_app_hash"]
            catching_up = bool(sync["catching_up"])
        except RpcError:
            height, app_hash, peers, catching_up = -1, "", 0, False
        running = _node_running(directory, node)
        rows.append(
            NodeStatus(node.name, node.rpc_url, running, height, app_hash, peers, catching_up)
        )
    return rows
