"""Chaos under load: a 4-validator testnet keeps its ledger through crashes, pauses, partitions.

Continuous signed load runs from five accounts, one thread each, every thread starting on its
own node: the three org admins transfer credits round a ring of organisations, two consumers
``use`` a model whose license charges a fee, so every committed tx moves credits. A thread keeps
up to ``--window`` txs in flight in nonce order; when its node stops answering or its txs stop
landing it moves to the next node and sends the same signed bytes again (a tx can land only once:
its nonce). It counts a tx committed when the account's nonce on a node has passed it and
``/tx`` finds it in a block, and records its hash and height.

Meanwhile, one after the other, with ``--settle`` seconds of load between them (``--rounds``
times, the victims moving on by one node each round):

- ``kill-app``      SIGKILL one node's app (its engine stops itself), ``--down`` s later
                    ``testnet start``
- ``kill-engine``   SIGKILL one node's engine alone (its app keeps running), ``testnet start``
- ``pause``         SIGSTOP every process of one node for ``--pause`` s, then SIGCONT
- ``partition``     drop one node's P2P traffic for ``--partition`` s (iptables on loopback: its
                    listening port and the local ports of every P2P connection its engine holds)
- ``kill-network``  SIGKILL every process of every node, ``--down`` s later ``testnet start``

A fault's recovery time runs from the repair (the start, SIGCONT or unblock) until the faulted
node's height reaches the others' (for ``kill-network``: until every node commits a block past
the last one before the kill). Then the load stops and the ledger is checked on every node by
walking its blocks through RPC: every tx a client saw committed is in the chain exactly once and
at the height the client saw, every node has the same block and app hash at every height, and
the balances sum to the genesis total, the same on every node.

    .venv/bin/python benchmarks/chaos.py --settle 20 --window 4 --rounds 2

It runs as root where iptables can be used (``scripts/install-iptables`` installs it); elsewhere
the partition is skipped with the reason. Exit status 1 when a check found a problem.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import errors
from app.core.valuemap import from_data
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import testnet as net
from chain.client import ClientError, Node
from chain.keys import Key
from chain.rpc import RpcClient, RpcError

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("kill-app", "kill-engine", "pause", "partition", "kill-network")
MODEL, VERSION = "northwind-uni/chaos", "1.0"
PRICE = 3
LICENSE = 'def authorize(ctx):\n    return allow(fee=ctx.quantity * ctx.params["price"])\n'
# admin account -> the organisation it pays; consumer accounts use the model
TRANSFERS = {
    "northwind-admin": "acme-ai",
    "acme-admin": "open-health",
    "openhealth-admin": "northwind-uni",
}
CONSUMERS = ("acme-ml", "openhealth-auditor")
RPC_TIMEOUT = 3.0
STALL = 6.0  # seconds without progress before a client moves to the next node
DRAIN = 90.0  # seconds a client keeps following its in-flight txs once the load stops
HOME_AFTER = 10.0  # seconds after a move before a client goes back to its own node


@dataclass(frozen=True)
class Plan:
    """What one chaos run does."""

    base_port: int = 27656
    validators: int = 4
    settle: float = 8.0  # seconds of load before the first fault, between faults, after them
    down: float = 8.0  # seconds a killed node stays down before `testnet start`
    pause: float = 15.0
    partition: float = 20.0
    window: int = 1  # txs in flight per account
    faults: tuple[str, ...] = FAULTS
    rounds: int = 1  # the fault sequence is run this many times, victims moving on a node each
    timeout_commit: str = "300ms"


@dataclass
class Fault:
    """One fault as it happened."""

    name: str
    node: str
    at: float  # seconds since the load started
    lasted: float = 0.0  # from injection to repair
    recovery: float = -1.0  # from repair until the node caught up; -1: it never did
    behind: int = 0  # blocks the node lacked at the repair
    committed_meanwhile: int = 0  # client txs committed from injection to recovery
    skipped: str = ""  # why it did not run
    note: str = ""


@dataclass
class Report:
    """What a run measured and what the final checks found."""

    plan: Plan
    seconds: float = 0.0
    signed: int = 0
    broadcasts: int = 0
    committed: int = 0
    failed_in_block: int = 0
    moves: int = 0
    height: int = 0
    faults: list[Fault] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the final checks found wrong
    total_credits: int = 0


# --- load -----------------------------------------------------------------------------------


@dataclass
class Pending:
    """A signed tx a client has not yet seen committed."""

    nonce: int
    raw: bytes
    hash: str
    sent: bool = False  # accepted by the current node's mempool (or already known there)
    refused: bool = False  # some node's CheckTx refused it (reported once)


class Client(threading.Thread):
    """One account's sender: txs in nonce order, moving between nodes when one fails it."""

    def __init__(
        self,
        key: Key,
        urls: list[str],
        chain_id: str,
        message: Callable[[random.Random], tx_pb2.Msg],
        window: int,
        stopping: threading.Event,
    ) -> None:
        super().__init__(name=key.name, daemon=True)
        self.key, self.message, self.window, self.stopping = key, message, window, stopping
        self.nodes = [Node(url, chain_id) for url in urls]
        for node in self.nodes:
            node.rpc.timeout = RPC_TIMEOUT
        self.at = 0
        self.moved_at = 0.0
        self.random = random.Random(key.name)
        self.committed: dict[str, tuple[int, float]] = {}  # hash -> (height, monotonic time)
        self.failed: dict[str, int] = {}  # hash -> code, for txs that failed in their block
        self.signed = self.broadcasts = self.moves = 0
        self.errors: list[str] = []

    def run(self) -> None:
        """Send until told to stop, then follow the txs in flight; never raises."""
        try:
            self._run()
        except Exception as exc:
            self.errors.append(f"{self.name}: stopped by {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        nonce = self._first_nonce()
        pending: list[Pending] = []
        progress = time.monotonic()
        drain_until = 0.0
        while True:
            if self.stopping.is_set():
                drain_until = drain_until or time.monotonic() + DRAIN
                if not pending:
                    return
                if time.monotonic() > drain_until:
                    self.errors.append(f"{self.name}: {len(pending)} txs never seen committed")
                    return
            while not self.stopping.is_set() and len(pending) < self.window:
                pending.append(self._sign(nonce))
                nonce += 1
            node = self.nodes[self.at]
            if not self._broadcast(node, pending):
                self._move(pending, 0.2)
                continue
            done = self._landed(node, pending)
            if done < 0:
                self._move(pending, 0.2)
            elif done:
                for tx in pending[:done]:
                    self._record(tx)
                pending = pending[done:]
                progress = time.monotonic()
                self._go_home(pending)
            elif time.monotonic() - progress > STALL:
                self._move(pending)
                progress = time.monotonic()
            else:
                time.sleep(0.1)

    def _first_nonce(self) -> int:
        for _ in range(60):
            for node in self.nodes:
                with contextlib.suppress(RpcError, ClientError):
                    return int(node.account(self.key.address).nonce)
            time.sleep(1)
        raise RuntimeError("no node answered the account query")

    def _sign(self, nonce: int) -> Pending:
        raw = self.nodes[0].sign(self.key, [self.message(self.random)], nonce=nonce)
        self.signed += 1
        return Pending(nonce, raw, hashlib.sha256(raw).hexdigest().upper())

    def _broadcast(self, node: Node, pending: list[Pending]) -> bool:
        """Hand the unsent txs to ``node`` in nonce order; False when the node failed us."""
        for tx in pending:
            if tx.sent:
                continue
            self.broadcasts += 1
            try:
                checked = node.rpc.broadcast_tx_sync(tx.raw)
            except RpcError as exc:
                if "already exists in cache" in str(exc):
                    tx.sent = True
                    continue
                return False
            code, space = int(checked.get("code", 0)), checked.get("codespace", "")
            if code == 0 or is_error(space, code, errors.NONCE_REPLAYED):
                tx.sent = True  # in its mempool now, or its nonce is already used up there
            elif is_error(space, code, errors.NONCE_GAP):
                return True  # the node has not seen a predecessor yet: wait, then move
            else:
                if not tx.refused:
                    self.errors.append(f"{self.name}: CheckTx refused {tx.hash}: {checked['log']}")
                tx.refused = True
                return True
        return True

    def _landed(self, node: Node, pending: list[Pending]) -> int:
        """How many of the oldest pending txs the node's state shows committed (-1: no answer)."""
        try:
            next_nonce = int(node.account(self.key.address).nonce)
        except (RpcError, ClientError):
            return -1
        return sum(1 for tx in pending if tx.nonce < next_nonce)

    def _record(self, tx: Pending) -> None:
        """Find a tx whose nonce is used up in a block, on whichever node answers."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for node in [self.nodes[self.at], *self.nodes]:
                with contextlib.suppress(RpcError):
                    found = node.rpc.tx(bytes.fromhex(tx.hash))
                    if found is not None:
                        self.committed[tx.hash] = (int(found["height"]), time.monotonic())
                        code = int(found["tx_result"].get("code", 0))
                        if code:
                            self.failed[tx.hash] = code
                        return
            time.sleep(0.3)
        self.errors.append(f"{self.name}: nonce {tx.nonce} is used but tx {tx.hash} is in no block")

    def _move(self, pending: list[Pending], pause: float = 0.0) -> None:
        time.sleep(pause)
        self.at = (self.at + 1) % len(self.nodes)
        self.moved_at = time.monotonic()
        self.moves += 1
        for tx in pending:
            tx.sent = False

    def _go_home(self, pending: list[Pending]) -> None:
        """Back to the client's own node a while after a move, once nothing is in flight."""
        if self.at and not pending and time.monotonic() - self.moved_at > HOME_AFTER:
            self.at = 0


def is_error(codespace: str, code: int, error: errors.ErrorCode) -> bool:
    """Whether a CheckTx answer is ``error``."""
    return (codespace, code) == (error.codespace, error.code)


def transfer_to(org: str) -> Callable[[random.Random], tx_pb2.Msg]:
    """Messages of an admin: a few credits to ``org``."""

    def make(rng: random.Random) -> tx_pb2.Msg:
        amount = rng.randint(1, 20)
        return tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=org, amount=amount))

    return make


def use_model(rng: random.Random) -> tx_pb2.Msg:
    """Messages of a consumer: a paid use of the chaos model."""
    quantity = rng.randint(1, 3)
    body = tx_pb2.Use(
        model=MODEL, version=VERSION, purpose="inference", quantity=quantity, max_fee=100
    )
    return tx_pb2.Msg(use=body)


def set_up_model(testnet: net.Testnet) -> None:
    """Register and publish the chaos model and attach a license that charges PRICE a unit,
    on every node before the load starts (a client whose first node had not committed the
    attachment yet would see its first use refused as no_license)."""
    node = Node(testnet.nodes[0].rpc_url)
    publisher = testnet.keyring.get("northwind-researcher")
    owner, name = MODEL.split("/")
    publish = tx_pb2.PublishVersion(
        model=MODEL,
        version=VERSION,
        weights_digest="sha256:" + "d" * 64,
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
    )
    deploy = tx_pb2.DeployLicense(name="chaos", source=LICENSE, params=from_data({"price": PRICE}))
    attach = tx_pb2.AttachLicense(model=MODEL, version=VERSION, license=f"{owner}/chaos")
    for msg in (
        tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org=owner, name=name)),
        tx_pb2.Msg(publish_version=publish),
        tx_pb2.Msg(deploy_license=deploy),
        tx_pb2.Msg(attach_license=attach),
    ):
        height = node.send(publisher, [msg]).height
    for spec in testnet.nodes:
        Node(spec.rpc_url).wait_for_height(height, timeout=60)


def clients_for(testnet: net.Testnet, window: int, stopping: threading.Event) -> list[Client]:
    """The five senders, client i starting on node i (mod the node count)."""
    urls = [n.rpc_url for n in testnet.nodes]
    senders: list[tuple[str, Callable[[random.Random], tx_pb2.Msg]]] = [
        *((name, transfer_to(org)) for name, org in TRANSFERS.items()),
        *((name, use_model) for name in CONSUMERS),
    ]
    clients = []
    for i, (name, message) in enumerate(senders):
        order = urls[i % len(urls) :] + urls[: i % len(urls)]
        key = testnet.keyring.get(name)
        clients.append(Client(key, order, testnet.chain_id, message, window, stopping))
    return clients


# --- faults ---------------------------------------------------------------------------------


def height(node: net.NodeSpec) -> int:
    """A node's latest height, -1 when its RPC does not answer within a second."""
    try:
        status = RpcClient(node.rpc_url, timeout=1).status()
    except RpcError:
        return -1
    return int(status["sync_info"]["latest_block_height"])


def wait_caught_up(
    testnet: net.Testnet, victims: list[net.NodeSpec], target: int = 0, timeout: float = 120
) -> float:
    """Seconds until every victim's height reaches the others' (or ``target`` when every node is
    a victim); -1 after ``timeout``."""
    started = time.monotonic()
    names = {v.name for v in victims}
    while time.monotonic() - started < timeout:
        others = [height(n) for n in testnet.nodes if n.name not in names]
        goal = max(others) if others else target
        if goal > 0 and all(height(v) >= goal for v in victims):
            return time.monotonic() - started
        time.sleep(0.2)
    return -1.0


class Chaos:
    """Injects the faults into a running testnet and measures each recovery."""

    def __init__(self, testnet: net.Testnet, plan: Plan, clock: Callable[[], float]) -> None:
        self.testnet, self.plan, self.clock = testnet, plan, clock
        self.directory = Path(testnet.directory)
        self.heights: dict[str, int] = {}  # every node's height just before the fault

    def node(self, index: int) -> net.NodeSpec:
        """Node ``index`` modulo the node count."""
        return self.testnet.nodes[index % len(self.testnet.nodes)]

    def run(self, name: str, round_: int = 0) -> Fault:
        """Inject fault ``name``, repair it, wait for the recovery; returns what happened."""
        runner: dict[str, Callable[[Fault], None]] = {
            "kill-app": self.kill_app,
            "kill-engine": self.kill_engine,
            "pause": self.pause,
            "partition": self.partition,
            "kill-network": self.kill_network,
        }
        victim = {"kill-app": 1, "kill-engine": 2, "pause": 0, "partition": 3}.get(name)
        where = self.node(victim + round_).name if victim is not None else "all"
        fault = Fault(name, where, self.clock())
        self.heights = {n.name: height(n) for n in self.testnet.nodes}
        runner[name](fault)
        return fault

    def _victim(self, fault: Fault) -> net.NodeSpec:
        return next(n for n in self.testnet.nodes if n.name == fault.node)

    def _restart(self, fault: Fault, injected: float, victims: list[net.NodeSpec]) -> None:
        """After the down time, ``testnet start``; then wait for the victims to catch up."""
        before = {v.name: self.heights[v.name] for v in victims}
        time.sleep(self.plan.down)
        others = [height(n) for n in self.testnet.nodes if n.name not in before]
        fault.behind = max(others) - min(before.values()) if others else 0
        fault.lasted = time.monotonic() - injected
        repaired = time.monotonic()
        report = net.start(self.directory, timeout=180)
        fault.note += start_summary(report)
        caught = wait_caught_up(self.testnet, victims, max(self.heights.values()) + 1)
        fault.recovery = time.monotonic() - repaired if caught >= 0 else -1.0

    def _lag(self, node: net.NodeSpec) -> int:
        """How many blocks ``node`` lacks against the highest of the others, now."""
        others = [height(n) for n in self.testnet.nodes if n.name != node.name]
        return max(others) - height(node)

    def kill_app(self, fault: Fault) -> None:
        """SIGKILL the app alone; the engine is expected to stop itself."""
        node = self._victim(fault)
        running = net.node_processes(self.directory, node)
        injected = time.monotonic()
        os.kill(running["app"], signal.SIGKILL)
        net._reap(running["app"], 5)
        if not net._reap(running["engine"], 10):
            fault.note = "the engine did not stop with its app; "
        self._restart(fault, injected, [node])

    def kill_engine(self, fault: Fault) -> None:
        """SIGKILL the engine alone; the app keeps running and a new engine replays into it."""
        node = self._victim(fault)
        running = net.node_processes(self.directory, node)
        injected = time.monotonic()
        os.kill(running["engine"], signal.SIGKILL)
        net._reap(running["engine"], 5)
        self._restart(fault, injected, [node])

    def pause(self, fault: Fault) -> None:
        """SIGSTOP every process of the node, then SIGCONT after the pause."""
        node = self._victim(fault)
        pids = list(net.node_processes(self.directory, node).values())
        injected = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(self.plan.pause)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        fault.lasted = time.monotonic() - injected
        fault.behind = self._lag(node)
        fault.recovery = wait_caught_up(self.testnet, [node])

    def partition(self, fault: Fault) -> None:
        """Drop the node's P2P traffic on loopback for the partition's length."""
        reason = iptables_unusable()
        if reason:
            fault.skipped = reason
            return
        node = self._victim(fault)
        engine = net.node_processes(self.directory, node)["engine"]
        peers = {n.ports.p2p for n in self.testnet.nodes if n.name != node.name}
        wall = Firewall(node.ports.p2p, engine, peers)
        injected = time.monotonic()
        with wall:
            wall.hold(self.plan.partition)
            fault.behind = self._lag(node)
        fault.lasted = time.monotonic() - injected
        fault.note = f"{len(wall.blocked)} loopback ports dropped"
        fault.recovery = wait_caught_up(self.testnet, [node])

    def kill_network(self, fault: Fault) -> None:
        """SIGKILL every process of every node, then start the testnet again."""
        injected = time.monotonic()
        for node in self.testnet.nodes:
            net.kill_node(self.directory, node)
        self._restart(fault, injected, list(self.testnet.nodes))


def start_summary(report: net.StartReport) -> str:
    """What ``testnet start`` did, per node, in few words ("every node: ..." when alike)."""
    done = {
        node: ", ".join(f"{a.what} {a.role}" for a in actions)
        for node, actions in report.by_node().items()
    }
    if len(done) == len(report.testnet.nodes) and len(set(done.values())) == 1:
        return f"every node: {next(iter(done.values()))}"
    return "; ".join(f"{node}: {what}" for node, what in done.items())


# --- partition ------------------------------------------------------------------------------


def iptables_unusable() -> str:
    """Why the partition cannot run here ("" when it can): iptables is installed (by
    scripts/install-iptables when missing and root) and may change rules."""
    if shutil.which("iptables") is None:
        if os.geteuid() != 0:
            return "iptables is not installed and installing it needs root"
        done = subprocess.run(
            [str(ROOT / "scripts" / "install-iptables")], capture_output=True, text=True
        )
        if done.returncode != 0 or shutil.which("iptables") is None:
            return f"iptables could not be installed: {done.stderr.strip()[-200:]}"
    probe = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"iptables cannot change rules here: {probe.stderr.strip()[-200:]}"
    return ""


class Firewall:
    """Drops one node's P2P traffic on loopback, in a chain of its own that is removed after.

    On one host every node shares 127.0.0.1, so a node's traffic is told apart by port: its
    listening P2P port, and the local port of every connection its engine dialled to a peer's
    P2P port (found in /proc while the partition lasts, so a new dial is cut too). Both
    directions of a loopback connection pass the INPUT hook of ``lo``.
    """

    def __init__(self, listen: int, engine: int, peers: set[int]) -> None:
        self.listen, self.engine, self.peers = listen, engine, peers
        self.chain = f"MODELGOV-CHAOS-{listen}"
        self.blocked: set[int] = set()

    def __enter__(self) -> Firewall:
        self._remove()  # a chain left by a run that was killed
        iptables("-N", self.chain)
        iptables("-I", "INPUT", "-i", "lo", "-j", self.chain)
        self._block(self.listen)
        return self

    def __exit__(self, *exc: object) -> None:
        self._remove()

    def hold(self, seconds: float) -> None:
        """Keep cutting the engine's new P2P connections for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for port in dialled_ports(self.engine, self.peers) - self.blocked:
                self._block(port)
            time.sleep(0.1)

    def _block(self, port: int) -> None:
        for direction in ("--sport", "--dport"):
            iptables("-A", self.chain, "-p", "tcp", direction, str(port), "-j", "DROP")
        self.blocked.add(port)

    def _remove(self) -> None:
        while iptables("-D", "INPUT", "-i", "lo", "-j", self.chain, check=False):
            pass
        iptables("-F", self.chain, check=False)
        iptables("-X", self.chain, check=False)


def iptables(*args: str, check: bool = True) -> bool:
    """Run iptables (waiting for its lock); True when it succeeded."""
    done = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"iptables {' '.join(args)}: {done.stderr.strip()}")
    return done.returncode == 0


def dialled_ports(pid: int, peers: set[int]) -> set[int]:
    """Local ports of the TCP connections process ``pid`` holds to one of the ``peers`` ports."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if inode in inodes and int(remote.rsplit(":", 1)[1], 16) in peers:
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


# --- checks ---------------------------------------------------------------------------------


@dataclass
class Chain:
    """One node's chain as walked through its RPC."""

    node: str
    blocks: list[tuple[str, str]]  # per height from 1: (block hash, app hash)
    txs: Counter[str]  # tx hash -> times it appears
    heights: dict[str, int]  # tx hash -> the height it was last seen at


def walk(node: net.NodeSpec, top: int) -> Chain:
    """Blocks 1..top of ``node``: hashes and the hash of every tx they hold."""
    rpc = RpcClient(node.rpc_url, timeout=10)
    chain = Chain(node.name, [], Counter(), {})
    for h in range(1, top + 1):
        result = rpc.call("block", height=str(h))
        chain.blocks.append((result["block_id"]["hash"], result["block"]["header"]["app_hash"]))
        for encoded in result["block"]["data"]["txs"] or []:
            tx_hash = hashlib.sha256(base64.b64decode(encoded)).hexdigest().upper()
            chain.txs[tx_hash] += 1
            chain.heights[tx_hash] = h
    return chain


def balances(node: net.NodeSpec) -> dict[str, int]:
    """Every organisation's balance on ``node`` (all pages of /credits/balances)."""
    client, found, after = Node(node.rpc_url), {}, ""
    while True:
        params = {"after": after, "limit": 100} if after else {"limit": 100}
        items, after = client.page("/credits/balances", params, state_pb2.Balance)
        found.update({b.org: b.amount for b in items})
        if not after:
            return found


def genesis_credits(testnet: net.Testnet) -> int:
    """The sum of the balances in the genesis every node started from."""
    path = testnet.nodes[0].engine_home / "config" / "genesis.json"
    credits: dict[str, int] = json.loads(path.read_text())["app_state"]["credits"]
    return sum(credits.values())


def verify(testnet: net.Testnet, clients: list[Client], report: Report) -> None:
    """The final checks on every node; appends what is wrong to ``report.problems``."""
    seen = {h: at for c in clients for h, (at, _) in c.committed.items()}
    top = settled_height(testnet, max(seen.values(), default=1) + 1)
    report.height = top
    with ThreadPoolExecutor(len(testnet.nodes)) as pool:
        chains = list(pool.map(lambda n: walk(n, top), testnet.nodes))
    report.problems.extend(ledger_problems(chains, seen))
    report.total_credits = genesis_credits(testnet)
    settled_height(testnet, max(height(n) for n in testnet.nodes) + 1)
    held = {n.name: balances(n) for n in testnet.nodes}
    report.problems.extend(credit_problems(held, report.total_credits))


def ledger_problems(chains: list[Chain], seen: dict[str, int]) -> list[str]:
    """What is wrong with the walked chains: a block or app hash that differs from the first
    node's, a tx a client saw committed (``seen``: hash -> height) that a chain does not hold
    exactly once or holds at another height, any tx held twice."""
    problems = []
    reference = chains[0]
    for chain in chains:
        for h, (block, app) in enumerate(chain.blocks, start=1):
            if h > len(reference.blocks) or (block, app) != reference.blocks[h - 1]:
                problems.append(
                    f"{chain.node} differs from {reference.node} at height {h}: "
                    f"block {block[:12]} app hash {app[:12]}"
                )
                break
        if len(chain.blocks) != len(reference.blocks):
            problems.append(
                f"{chain.node} holds {len(chain.blocks)} blocks, not {len(reference.blocks)}"
            )
        wrong = sorted(tx for tx in seen if chain.txs[tx] != 1)
        problems.extend(
            f"{chain.node} holds committed tx {tx[:16]} {chain.txs[tx]} times" for tx in wrong[:5]
        )
        if len(wrong) > 5:
            problems.append(f"{chain.node}: {len(wrong)} committed txs are not held once")
        moved = [tx for tx, at in seen.items() if chain.txs[tx] == 1 and chain.heights[tx] != at]
        if moved:
            problems.append(f"{chain.node}: {len(moved)} txs at another height than seen")
        twice = [tx for tx, n in chain.txs.items() if n > 1]
        if twice:
            problems.append(f"{chain.node}: {len(twice)} txs appear more than once")
    return problems


def credit_problems(held: dict[str, dict[str, int]], total: int) -> list[str]:
    """Balances per node (node -> org -> amount) that do not sum to ``total`` or differ."""
    problems = []
    first = next(iter(held.values()))
    for node, balances_there in held.items():
        if sum(balances_there.values()) != total:
            problems.append(
                f"{node}: balances sum to {sum(balances_there.values())}, genesis gave {total}"
            )
        if balances_there != first:
            problems.append(f"{node}: balances {balances_there} differ from {first}")
    return problems


def settled_height(testnet: net.Testnet, at_least: int, timeout: float = 60) -> int:
    """A height every node has committed, at least ``at_least`` (waits for laggards)."""
    deadline = time.monotonic() + timeout
    while True:
        heights = [height(n) for n in testnet.nodes]
        if min(heights) >= at_least or time.monotonic() > deadline:
            return max(min(heights), 1)
        time.sleep(0.3)


# --- the run --------------------------------------------------------------------------------


def run(directory: Path, plan: Plan, log: Callable[[str], None] = print) -> Report:
    """Init and start a testnet in ``directory``, load it, inject the faults, check the ledger,
    stop it; the report says what happened."""
    testnet = net.init(
        directory, plan.validators, base_port=plan.base_port, timeout_commit=plan.timeout_commit
    )
    report = Report(plan)
    try:
        net.start(Path(testnet.directory), timeout=120)
        set_up_model(testnet)
        load(testnet, plan, report, log)
    finally:
        net.stop(Path(testnet.directory))
    return report


def load(testnet: net.Testnet, plan: Plan, report: Report, log: Callable[[str], None]) -> None:
    """Run the clients through the faults, stop them, check the chain."""
    stopping = threading.Event()
    clients = clients_for(testnet, plan.window, stopping)
    began = time.monotonic()
    chaos = Chaos(testnet, plan, lambda: round(time.monotonic() - began, 1))
    for client in clients:
        client.start()
    try:
        for round_, name in [(r, f) for r in range(plan.rounds) for f in plan.faults]:
            time.sleep(plan.settle)
            injected = time.monotonic()
            fault = chaos.run(name, round_)
            report.faults.append(fault)
            fault.committed_meanwhile = committed_between(
                clients, injected, injected + fault.lasted + max(fault.recovery, 0)
            )
            log(describe(fault))
        time.sleep(plan.settle)
    finally:
        stopping.set()
        for client in clients:
            client.join(DRAIN + 60)
    report.seconds = time.monotonic() - began
    tally(clients, report)
    verify(testnet, clients, report)


def committed_between(clients: list[Client], start: float, end: float) -> int:
    """Client txs seen committed between two monotonic times."""
    return sum(1 for c in clients for _, at in c.committed.values() if start <= at <= end)


def tally(clients: list[Client], report: Report) -> None:
    """Add the clients' counts to the report."""
    for client in clients:
        report.signed += client.signed
        report.broadcasts += client.broadcasts
        report.committed += len(client.committed)
        report.failed_in_block += len(client.failed)
        report.moves += client.moves
        report.client_errors.extend(client.errors)


def describe(fault: Fault) -> str:
    """One line about a fault."""
    if fault.skipped:
        return f"{fault.name}: skipped: {fault.skipped}"
    recovered = f"{fault.recovery:.1f}s" if fault.recovery >= 0 else "NEVER"
    return (
        f"{fault.name} on {fault.node} at {fault.at:.0f}s: down {fault.lasted:.1f}s, "
        f"{fault.behind} blocks behind, caught up {recovered} after repair, "
        f"{fault.committed_meanwhile} txs committed meanwhile"
        f"{'; ' + fault.note if fault.note else ''}"
    )


def markdown(report: Report, command: str) -> str:
    """The report as the RESULTS.md section's figures."""
    lines = [
        f"Command: `{command}`",
        "",
        f"- {report.seconds:.0f} s of load, {report.signed} txs signed, {report.broadcasts} "
        f"broadcasts, {report.committed} committed ({report.failed_in_block} failed in their "
        f"block), {report.moves} client moves to another node; chain height {report.height}",
        f"- problems found by the final checks: {len(report.problems)}; client errors: "
        f"{len(report.client_errors)}",
        "",
        "| fault | node | at s | lasted s | blocks behind | recovery s | txs committed meanwhile "
        "| what start did / note |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for f in report.faults:
        if f.skipped:
            lines.append(
                f"| {f.name} | {f.node} | {f.at:.0f} | - | - | - | - | skipped: {f.skipped} |"
            )
            continue
        recovery = f"{f.recovery:.1f}" if f.recovery >= 0 else "never"
        lines.append(
            f"| {f.name} | {f.node} | {f.at:.0f} | {f.lasted:.1f} | {f.behind} | {recovery} | "
            f"{f.committed_meanwhile} | {f.note} |"
        )
    return "\n".join(lines)


def main() -> int:
    """Run the chaos scenario once on a fresh testnet; exit 1 when a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-port", type=int, default=Plan.base_port)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--down", type=float, default=8.0)
    parser.add_argument("--pause", type=float, default=Plan.pause)
    parser.add_argument("--partition", type=float, default=Plan.partition)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--rounds", type=int, default=2, help="times the fault sequence runs")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args()
    plan = Plan(
        base_port=args.base_port,
        settle=args.settle,
        down=args.down,
        pause=args.pause,
        partition=args.partition,
        window=args.window,
        faults=tuple(args.faults),
        rounds=args.rounds,
    )
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        report = run(Path(tmp) / "net", plan)
    command = " ".join(["benchmarks/chaos.py", *sys.argv[1:]])
    print(f"{platform.python_version()}, {datetime.now().date()}")
    print(markdown(report, f".venv/bin/python {command}"))
    for problem in report.problems + report.client_errors:
        print(f"PROBLEM: {problem}")
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str))
    return 1 if report.problems or report.client_errors else 0


if __name__ == "__main__":
    sys.exit(main())
