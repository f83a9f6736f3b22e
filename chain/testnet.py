"""A local testnet: N validators, each a CometBFT engine and a modelgov app, on loopback.

The port scheme, the manifest and the commands of the processes are the plan
(``chain.plan``), which the docker compose and monitoring files read too.

The engine reaches its app over a unix socket, ``<node>/abci.sock``, which only the node's own
user can open: no TCP port that another local process could talk ABCI to. Where that path is
over the kernel's 107-byte limit (a deep directory), the socket lives in a private per-user
directory instead (``$TMPDIR/modelgov-<uid>/``, mode 0700); the manifest records where.

``init`` writes the node homes, keys and a shared genesis; ``start`` starts every process that
is not running (app, then engine, then the weights server) detached with a log file each and
waits for blocks; ``stop`` ends them. A start that fails stops what it started. The manifest
``testnet.json`` records what init made so the other commands need only the directory, and
``pids.json`` the processes running (pid and kernel start time, so a reused pid is not taken for
one of ours).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.engine.config import SocketPathError, set_values, unix_address
from chain.engine.install import find_cometbft
from chain.keys import Keyring
from chain.ops.logwriter import LOG_PATH_ENV
from chain.ops.monitoring import write_monitoring
from chain.ops.status import MAX_BLOCK_AGE_S, block_age, problem_of
from chain.plan import (  # the plan, re-exported: callers know a testnet by this module
    ABCI_SOCKET as ABCI_SOCKET,
)
from chain.plan import (
    DEFAULT_BASE_PORT as DEFAULT_BASE_PORT,
)
from chain.plan import (
    MANIFEST as MANIFEST,
)
from chain.plan import (
    PIDS as PIDS,
)
from chain.plan import (
    PROJECT_ROOT as PROJECT_ROOT,
)
from chain.plan import (
    ROLES as ROLES,
)
from chain.plan import (
    NodePorts as NodePorts,
)
from chain.plan import (
    NodeSpec as NodeSpec,
)
from chain.plan import (
    Testnet as Testnet,
)
from chain.plan import (
    TestnetError as TestnetError,
)
from chain.plan import (
    abci_socket_path as abci_socket_path,
)
from chain.plan import (
    app_command as app_command,
)
from chain.plan import (
    engine_command as engine_command,
)
from chain.plan import (
    private_socket_dir as private_socket_dir,
)
from chain.plan import (
    weights_command as weights_command,
)
from chain.rpc import RpcClient, RpcError

DEFAULT_CONSORTIUM = PROJECT_ROOT / "genesis" / "consortium.example.toml"


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
    # Imported here: chain.genesis loads the whole state machine, which every other testnet
    # command (and the CLI's start, which imports this module) can do without.
    from chain.genesis import (
        account_pubkeys,
        app_state_of,
        engine_genesis,
        initial_height_of,
        load_consortium,
        validator_entry,
    )

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
    genesis = engine_genesis(base, chain_id, app_state, entries, initial_height_of(consortium))
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
    ports = NodePorts.of(index, base_port)
    return NodeSpec(index, name, str(home), node_id, ports, _abci_address(home))


def _abci_address(home: Path) -> str:
    try:
        return unix_address(abci_socket_path(home))
    except SocketPathError as exc:
        raise TestnetError(f"{exc}; put the testnet in a shorter directory") from None


def _prepare_socket_dir(node: NodeSpec) -> None:
    """Make sure the directory of a unix ABCI socket outside the node's home exists and is
    ours alone: a directory another user made (or a link) could hand the engine their socket."""
    scheme, _, path = node.abci.partition("://")
    parent = Path(path).parent
    if scheme != "unix" or parent == Path(node.home):
        return
    try:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = parent.lstat()
    except OSError as exc:
        raise TestnetError(f"cannot make the socket directory {parent}: {exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise TestnetError(
            f"the socket directory {parent} must be owned by uid {os.getuid()} with mode 0700; "
            "remove it and start again"
        )


def _configure(node: NodeSpec, nodes: list[NodeSpec], timeout_commit: str) -> None:
    peers = ",".join(f"{n.node_id}@127.0.0.1:{n.ports.p2p}" for n in nodes if n.index != node.index)
    set_values(
        node.engine_home / "config" / "config.toml",
        {
            "moniker": node.name,
            "proxy_app": node.abci,
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


@dataclass(frozen=True)
class Action:
    """One thing ``start`` did to one process of a node."""

    node: str
    role: str  # app, engine or weights
    pid: int
    what: str  # "started", or "stopped" for an engine whose app had died

    def describe(self) -> str:
        """``started app (pid 123)`` and the like, for the operator."""
        why = " whose app had died" if self.what == "stopped" else ""
        return f"{self.what} {self.role}{why} (pid {self.pid})"


@dataclass(frozen=True)
class StartReport:
    """What ``start`` found and did."""

    testnet: Testnet
    actions: tuple[Action, ...]

    def by_node(self) -> dict[str, list[Action]]:
        """The actions grouped by node, nodes in testnet order, untouched nodes left out."""
        grouped: dict[str, list[Action]] = {}
        for action in self.actions:
            grouped.setdefault(action.node, []).append(action)
        return grouped


def start(directory: Path, timeout: float = 60.0) -> StartReport:
    """Start every process of every node that is not running and leave running ones alone.

    Per node the app starts first and the engine once the app's socket answers, then the weights
    server. An engine whose app is gone is stopped and started again after the new app: the
    engine (CometBFT v0.38) never reconnects to its app, it stops itself when the connection
    breaks. An app whose engine died is left running: a new engine's handshake (Info, then
    replay of the blocks the app lacks) brings it up to date. When anything started, waits
    until every node has committed a block past the highest one any node had once all answer,
    so the chain is moving and restarted nodes have caught up when this returns; raises
    TestnetError naming the laggards, or at once the node whose process exited meanwhile (and
    the last line of its log: an engine that cannot open its data says so there).
    """
    testnet = Testnet.load(directory)
    binary = find_cometbft()
    deadline = time.monotonic() + timeout
    actions: list[Action] = []
    try:
        _start_missing(directory, list(testnet.nodes), binary, actions)
        watch = _processes_of(directory, list(testnet.nodes))
        wait_until_producing(testnet, timeout, watch=watch)
        if any(a.what == "started" for a in actions):
            top = max(_height(n) for n in testnet.nodes)
            left = max(deadline - time.monotonic(), 1.0)
            wait_until_producing(testnet, left, top + 1, watch=watch)
    except BaseException:
        _undo(directory, list(testnet.nodes), actions)
        raise
    return StartReport(testnet, tuple(actions))


def _undo(directory: Path, nodes: list[NodeSpec], actions: list[Action]) -> None:
    """Stop what a failed start started. An engine is first given the moment it needs to
    create its databases (until its RPC answers): one ended while it creates them can leave a
    LevelDB without its CURRENT file, which no later start opens ("database entry point either
    missing or corrupted")."""
    started = [a for a in actions if a.what == "started"]
    by_name = {n.name: n for n in nodes}
    for action in started:
        if action.role == "engine" and action.node in by_name:
            _wait_for_engine_setup(by_name[action.node], action.pid)
    pids = [a.pid for a in started]
    _terminate(pids)
    _forget(directory, pids)


def _wait_for_engine_setup(node: NodeSpec, pid: int, timeout: float = 10.0) -> None:
    """Wait until an engine's RPC accepts connections (its databases exist by then) or it has
    exited, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        if _accepts(f"tcp://127.0.0.1:{node.ports.rpc}"):
            return
        time.sleep(0.1)


def start_node(directory: Path, node: NodeSpec, binary: Path | None = None) -> list[int]:
    """Start whichever of one node's processes are not running (app, then engine, then the
    weights server) without waiting for blocks; returns the pids it started. On failure it
    stops what it started and raises TestnetError."""
    actions: list[Action] = []
    try:
        _start_missing(directory, [node], binary or find_cometbft(), actions)
    except BaseException:
        _undo(directory, [node], actions)
        raise
    return [a.pid for a in actions if a.what == "started"]


def _start_missing(
    directory: Path, nodes: list[NodeSpec], binary: Path, actions: list[Action]
) -> None:
    """Start the missing processes of ``nodes``, appending each step to ``actions`` as it is
    taken (so a caller can undo them). Every app is spawned before any is waited for: their
    start-up (imports, opening LevelDB) overlaps. No engine starts before every app answers: an
    app that fails (a broken state.db) then fails the start before any engine was launched,
    rather than while engines are still creating their databases."""
    running = {n.name: node_processes(directory, n) for n in nodes}
    for node in nodes:
        if "app" not in running[node.name] and "engine" in running[node.name]:
            pid = running[node.name].pop("engine")
            _stop_orphaned_engine(pid)
            _forget(directory, [pid])
            actions.append(Action(node.name, "engine", pid, "stopped"))
    apps: dict[str, subprocess.Popen[bytes]] = {}
    for node in nodes:
        if "app" not in running[node.name]:
            _prepare_socket_dir(node)
            apps[node.name] = _launch(directory, node, "app", app_command(node), actions)
    for node in nodes:
        if node.name in apps:
            _wait_for_app(node, apps[node.name])
    for node in nodes:
        if "engine" not in running[node.name]:
            _launch(directory, node, "engine", engine_command(binary, node), actions)
        if "weights" not in running[node.name]:
            _launch(directory, node, "weights", weights_command(node), actions)


def _launch(
    directory: Path, node: NodeSpec, role: str, args: list[str], actions: list[Action]
) -> subprocess.Popen[bytes]:
    process = _spawn(args, Path(node.home) / "logs" / f"{role}.log")
    actions.append(Action(node.name, role, process.pid, "started"))
    _record(directory, node, role, process.pid)
    return process


def _stop_orphaned_engine(pid: int) -> None:
    """An engine whose app died stops itself within moments; give it that, then end it."""
    if not _reap(pid, 3.0):
        _terminate([pid])


def node_processes(directory: Path, node: NodeSpec) -> dict[str, int]:
    """The live processes of ``node`` by role (app, engine, weights) and their pids."""
    return {
        p["role"]: p["pid"]
        for p in _load_pids(Path(directory))
        if p["node"] == node.name and _entry_alive(p)
    }


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a node process whose output goes to ``log`` through a rotating writer
    (chain/ops/logwriter.py: at most 64 MiB a file, three old files kept), which exits when
    the process does."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "chain.ops.logwriter"],
        env={**os.environ, LOG_PATH_ENV: str(log)},  # not in argv: a node's processes are
        stdin=subprocess.PIPE,  # the ones whose command line names its directory
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    assert writer.stdin is not None
    try:
        return subprocess.Popen(
            args,
            stdout=writer.stdin,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
    finally:
        writer.stdin.close()  # the process holds the pipe now: its exit ends the writer


def _wait_for_app(node: NodeSpec, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until the app accepts connections at its ABCI address (a unix socket or a port)."""
    log = Path(node.home) / "logs" / "app.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TestnetError(f"the app exited with {process.returncode}; see {log}")
        if _accepts(node.abci):
            return
        time.sleep(0.1)
    raise TestnetError(f"the app did not listen on {node.abci} within {timeout:.0f}s; see {log}")


def _accepts(address: str) -> bool:
    """Whether something accepts connections at ``unix://PATH`` or ``tcp://HOST:PORT``."""
    scheme, _, rest = address.partition("://")
    try:
        if scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.5)
                probe.connect(rest)
        else:
            host, _, port = rest.rpartition(":")
            socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_until_producing(
    testnet: Testnet,
    timeout: float = 60.0,
    height: int = 1,
    watch: dict[int, tuple[NodeSpec, str]] | None = None,
) -> None:
    """Wait until every node has committed ``height`` and is no longer catching up (a node the
    engine still has in block sync reports the chain's height before it votes again, so
    `testnet status` would still call it unhealthy); raises TestnetError naming the laggards,
    or, as soon as one of the ``watch`` processes (pid -> node, role) has exited, naming it."""
    deadline = time.monotonic() + timeout
    behind: list[str] = []
    while time.monotonic() < deadline:
        _check_alive(watch or {}, height)
        behind = [n.name for n in testnet.nodes if _height(n, synced=True) < height]
        if not behind:
            return
        time.sleep(0.3)
    logs = ", ".join(f"{Path(testnet.directory) / n}/logs/" for n in behind)
    raise TestnetError(
        f"{', '.join(behind)} did not reach height {height} in {timeout:.0f}s; see {logs}"
    )


def _processes_of(directory: Path, nodes: list[NodeSpec]) -> dict[int, tuple[NodeSpec, str]]:
    """pid -> (node, role) of every live process of ``nodes``."""
    return {
        pid: (node, role) for node in nodes for role, pid in node_processes(directory, node).items()
    }


def _check_alive(watch: dict[int, tuple[NodeSpec, str]], height: int) -> None:
    """Raise TestnetError naming the first watched process that has exited: its node cannot
    commit (nor, where it held more than a third of the power, can the chain) and its log says
    why."""
    for pid, (node, role) in watch.items():
        if not _alive(pid):
            _reap(pid, 0.1)
            log = Path(node.home) / "logs" / f"{role}.log"
            raise TestnetError(
                f"{node.name}'s {role} (pid {pid}) exited before the testnet reached height "
                f"{height}: {_last_line(log) or 'its log is empty'}; see {log}"
            )


def _last_line(log: Path, wait: float = 2.0) -> str:
    """The last non-empty line of a log, at most 300 characters, once the log has stopped
    growing (its writer, a process of its own, may still be copying what the process wrote
    before it exited), waiting at most ``wait`` seconds for that."""
    deadline = time.monotonic() + wait
    before = None
    while True:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            text = ""
        if (text and text == before) or time.monotonic() > deadline:
            lines = [x for x in text.splitlines() if x.strip()]
            return lines[-1].strip()[:300] if lines else ""
        before = text
        time.sleep(0.2)


def _height(node: NodeSpec, synced: bool = False) -> int:
    """The node's latest height, -1 when its RPC does not answer or, with ``synced``, while it
    is still catching up."""
    try:
        status = RpcClient(node.rpc_url, timeout=2).status()
    except RpcError:
        return -1
    if synced and status["sync_info"].get("catching_up"):
        return -1
    return int(status["sync_info"]["latest_block_height"])


def stop(directory: Path, timeout: float = 15.0) -> int:
    """Stop every process the testnet runs (engines first); returns how many were running."""
    pids = [p for p in _load_pids(directory) if _entry_alive(p)]
    ordered = [p["pid"] for role in ("weights", "engine", "app") for p in pids if p["role"] == role]
    running = _terminate(ordered, timeout)
    (directory / PIDS).unlink(missing_ok=True)
    _remove_sockets(directory)
    return running


def _remove_sockets(directory: Path) -> None:
    """Unlink the stopped apps' unix sockets (an app leaves its socket file behind, and one in
    the private socket directory would outlive the testnet)."""
    if not (directory / MANIFEST).exists():
        return
    for node in Testnet.load(directory).nodes:
        scheme, _, path = node.abci.partition("://")
        if scheme == "unix":
            Path(path).unlink(missing_ok=True)


def kill_node(directory: Path, node: NodeSpec) -> None:
    """SIGKILL every process of a node at once, as a power cut would."""
    victims = node_processes(directory, node)
    for pid in victims.values():
        _signal(pid, signal.SIGKILL)
    _forget(directory, list(victims.values()))
    for pid in victims.values():
        _reap(pid, 5.0)


def _terminate(pids: list[int], timeout: float = 15.0) -> int:
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:
        _signal(pid, signal.SIGTERM)
        _signal(pid, signal.SIGCONT)  # a paused process handles SIGTERM only once resumed
    for pid in alive:
        if not _reap(pid, timeout):
            _signal(pid, signal.SIGKILL)
            _reap(pid, 5.0)
    return len(alive)


def _signal(pid: int, sig: int) -> None:
    """Send ``sig`` unless the process has exited meanwhile."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


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
    return _proc_stat(pid)[:1] not in ("", "Z")


def _proc_stat(pid: int) -> str:
    """The fields of /proc/PID/stat after the command name (state first); empty when gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rpartition(") ")[2]
    except OSError:
        return ""


def _start_time(pid: int) -> int:
    """The kernel's start time of ``pid`` (clock ticks since boot; 0 when gone): with the pid,
    it names one process, where a pid alone may have been reused by an unrelated one."""
    fields = _proc_stat(pid).split()
    return int(fields[19]) if len(fields) > 19 else 0


def _entry_alive(entry: dict[str, Any]) -> bool:
    """Whether a recorded process still runs (entries from older versions have no start time)."""
    pid = int(entry["pid"])
    since = entry.get("since")
    return _alive(pid) and (since is None or _start_time(pid) == since)


def _load_pids(directory: Path) -> list[dict[str, Any]]:
    path = directory / PIDS
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return entries


def _record(directory: Path, node: NodeSpec, role: str, pid: int) -> None:
    entries = [p for p in _load_pids(directory) if _entry_alive(p)]
    entries.append({"node": node.name, "role": role, "pid": pid, "since": _start_time(pid)})
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
    running: bool  # every process of the node runs
    height: int
    app_hash: str
    peers: int
    catching_up: bool
    processes: str = ""  # the roles that run, e.g. "app,weights" ("" when none)
    block_age_s: int = -1  # seconds since its newest block (-1: unknown)
    problem: str = ""  # what is wrong, in words ("" when nothing is)


def status(directory: Path, max_age: int = MAX_BLOCK_AGE_S) -> list[NodeStatus]:
    """Height, app hash, peers and the age of the newest block of every node (height -1 when
    its RPC does not answer), and what is wrong with each: a process down, no answer, no new
    block for more than ``max_age`` seconds."""
    testnet = Testnet.load(directory)
    return [_node_status(directory, node, max_age) for node in testnet.nodes]


def _node_status(directory: Path, node: NodeSpec, max_age: int) -> NodeStatus:
    live = node_processes(directory, node)
    processes = ",".join(role for role in ROLES if role in live)
    down = [role for role in ROLES if role not in live]
    client = RpcClient(node.rpc_url, timeout=2)
    try:
        sync = client.status()["sync_info"]
        peers = int(client.net_info()["n_peers"])
    except (RpcError, KeyError, ValueError) as exc:
        problem = f"{', '.join(down)} not running; " if down else ""
        return NodeStatus(
            node.name,
            node.rpc_url,
            not down,
            -1,
            "",
            0,
            False,
            processes,
            -1,
            f"{problem}RPC does not answer ({exc})",
        )
    height, app_hash = int(sync["latest_block_height"]), sync["latest_app_hash"]
    catching_up = bool(sync["catching_up"])
    age = block_age(sync["latest_block_time"], time.time())
    problem = problem_of(height, age, max_age, catching_up)
    if down:
        problem = "; ".join(p for p in (f"{', '.join(down)} not running", problem) if p)
    return NodeStatus(
        node.name,
        node.rpc_url,
        not down,
        height,
        app_hash,
        peers,
        catching_up,
        processes,
        age,
        problem,
    )


def stop_node(directory: Path, node: NodeSpec, timeout: float = 15.0) -> int:
    """Stop one node's processes (weights server and engine first, then the app), as
    ``stop`` does for all; returns how many were running."""
    live = node_processes(directory, node)
    ordered = [live[role] for role in ("weights", "engine", "app") if role in live]
    running = _terminate(ordered, timeout)
    _forget(directory, ordered)
    scheme, _, path = node.abci.partition("://")
    if scheme == "unix":
        Path(path).unlink(missing_ok=True)
    return running


def find_node(directory: Path, name: str) -> NodeSpec:
    """The node called ``name``; raises TestnetError listing the names there are."""
    testnet = Testnet.load(directory)
    for node in testnet.nodes:
        if node.name == name:
            return node
    names = ", ".join(n.name for n in testnet.nodes)
    raise TestnetError(f"no node {name!r} in {directory}; nodes: {names}")
