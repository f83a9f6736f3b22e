"""Committed transactions per second of modelgov against the engine with a trivial app, in one run.

For each validator count (``--validators 1 4``), two fresh testnets one after the other:

- ``modelgov``: the real nodes (CometBFT + the Python app over its unix ABCI socket), with a
  consortium that adds ``--senders`` accounts (consumer and publisher) to the example one. The
  workloads run one after the other on the same chain: ``use`` (signed Use txs of one inference
  unit under the pay-per-use template, 1 credit a unit, fees paid to another organisation) and
  ``publish`` (signed PublishVersion txs of one model).
- ``kvstore``: the same engines, configuration and network running CometBFT's ``abci-cli
  kvstore`` (built from the pinned module version, ``chain.engine.install.install_abci_cli``)
  as a separate process over the same kind of ABCI socket, fed ``key=value`` txs of the use
  txs' length.

Every sender owns one account and keeps to one node (lanes dealt round-robin over the nodes), so
its txs reach one mempool in nonce order. Every tx is signed and its whole HTTP request built
before any window opens; one asyncio loop then drives all senders over keep-alive connections
(``broadcast_tx_sync``, one request in flight per sender). The loop's own CPU is reported
(``gen CPU %``): it is the load generator's whole cost, so a figure well under 100 says the
generator is not what limits the rate.

Each workload has two phases:

1. Saturation, ``--duration`` s after ``--warmup`` s: every sender sends as fast as CheckTx
   answers. Committed tx/s counts the txs that succeeded in the blocks committed inside the
   window (``/block_results``), over the chain time between the commit before the first and the
   commit of the last of those blocks (a block's commit time is the header time of the next).
2. Latency, ``--latency-duration`` s at half the saturating rate, spread evenly over the
   senders: commit latency of a tx runs from its broadcast until the commit of its block.

CPU per process role (engine, app, weights server, load generator) is measured over the
saturation window from /proc (% of one core, mean per process). App CPU per committed tx is read
from each app's metrics endpoint (``modelgov_abci_cpu_seconds``: the thread CPU of CheckTx,
the re-checks after each block, FinalizeBlock and Commit), mean over the nodes.

    .venv/bin/python benchmarks/tx_throughput.py --validators 1 4
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.tx import encode_tx
from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as tn
from chain.client import Node
from chain.engine.install import find_cometbft, install_abci_cli
from chain.keys import Key
from chain.rpc import RpcClient, RpcError

AHEAD = re.compile(r"nonce \d+ is ahead; the next is (\d+)")
"""The refusal (nonce_out_of_order) naming the node's next nonce for the sender."""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "genesis" / "licenses" / "pay-per-use.lic"
LICENSOR, LICENSOR_ORG = "northwind-admin", "northwind-uni"  # owns the model the senders use
PUBLISHER_OF_BENCH = "acme-ml"  # registers acme-ai/bench, which the senders publish versions of
SENDER_ORG = "acme-ai"
APP_METHODS = ("check_tx", "recheck_tx", "finalize_block", "commit")
MEMPOOL_FULL = "mempool is full"


# --- the consortium and the prepared transactions ------------------------------------------


def bench_consortium(directory: Path, senders: int, max_block_gas: int | None = None) -> Path:
    """The example consortium plus ``senders`` accounts of acme-ai (consumer and publisher);
    with ``max_block_gas``, that parameter instead of the example's (to see whether the block
    gas budget or the app's CPU bounds the rate)."""
    text = tn.DEFAULT_CONSORTIUM.read_text()
    if max_block_gas is not None:
        text, count = re.subn(
            r"(?m)^max_block_gas = \d+$", f"max_block_gas = {max_block_gas}", text
        )
        if count != 1:
            raise SystemExit("the example consortium has no max_block_gas line to replace")
    extra = "".join(
        f'\n[[accounts]]\nname = "bench-{i:03d}"\norg = "{SENDER_ORG}"\n'
        'roles = ["consumer", "publisher"]\n'
        for i in range(senders)
    )
    path = directory / "consortium.toml"
    path.write_text(text + extra)
    return path


def prepare_chain(node: Node, keyring: Any) -> None:
    """The models the workloads need: northwind-uni/bench 1.0 under pay-per-use (1 credit a
    unit), and acme-ai/bench for the senders' versions."""
    licensor, publisher = keyring.get(LICENSOR), keyring.get(PUBLISHER_OF_BENCH)
    deploy = tx_pb2.DeployLicense(
        name="bench-ppu", source=TEMPLATE.read_text(), params=from_data({"tiers": [[None, 1]]})
    )
    version = tx_pb2.PublishVersion(
        model=f"{LICENSOR_ORG}/bench",
        version="1.0",
        weights_digest="sha256:" + "e" * 64,
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
        license=f"{LICENSOR_ORG}/bench-ppu",
    )
    node.send(licensor, [_register(LICENSOR_ORG), tx_pb2.Msg(deploy_license=deploy)])
    node.send(licensor, [tx_pb2.Msg(publish_version=version)])
    node.send(publisher, [_register(SENDER_ORG)])


def _register(org: str) -> tx_pb2.Msg:
    body = tx_pb2.RegisterModel(owner_org=org, name="bench", description="bench")
    return tx_pb2.Msg(register_model=body)


def use_msg(sender: int, k: int) -> tx_pb2.Msg:
    """One inference unit of northwind-uni/bench 1.0."""
    use = tx_pb2.Use(
        model=f"{LICENSOR_ORG}/bench", version="1.0", purpose="inference", quantity=1, max_fee=10
    )
    return tx_pb2.Msg(use=use)


def publish_msg(sender: int, k: int) -> tx_pb2.Msg:
    """Version 1.<sender>.<k> of acme-ai/bench."""
    version = tx_pb2.PublishVersion(
        model=f"{SENDER_ORG}/bench",
        version=f"1.{sender}.{k}",
        weights_digest="sha256:" + hashlib.sha256(b"%d/%d" % (sender, k)).hexdigest(),
        size_bytes=1_000_000 + k,
        format="safetensors",
        framework="pytorch",
    )
    return tx_pb2.Msg(publish_version=version)


WORKLOADS: dict[str, Callable[[int, int], tx_pb2.Msg]] = {"use": use_msg, "publish": publish_msg}


def signed_txs(
    chain_id: str, key: Key, nonce: int, count: int, sender: int, make: Callable[[int, int], Any]
) -> list[bytes]:
    """``count`` txs of one sender at consecutive nonces from ``nonce``."""
    out = []
    for k in range(count):
        body = tx_pb2.TxBody(chain_id=chain_id, sender=key.pubkey, nonce=nonce + k)
        body.messages.append(make(sender, k))
        out.append(encode_tx(body, key.private_key))
    return out


def kvstore_txs(sender: int, count: int, size: int) -> list[bytes]:
    """``count`` distinct ``key=value`` txs of ``size`` bytes."""
    out = []
    for k in range(count):
        head = b"s%03dk%07d=" % (sender, k)
        value = hashlib.sha256(head).hexdigest().encode() * (size // 64 + 1)
        out.append(head + value[: max(1, size - len(head))])
    return out


# --- the load generator ---------------------------------------------------------------------


def http_request(port: int, tx: bytes) -> bytes:
    """The whole keep-alive HTTP request of one ``broadcast_tx_sync``."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "broadcast_tx_sync",
            "params": {"tx": base64.b64encode(tx).decode()},
        }
    ).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Sender:
    """One account's prepared txs, sent in order to one node."""

    port: int
    txs: list[bytes]
    requests: list[bytes] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    next: int = 0  # the index of the next tx to send
    sent_at: dict[str, float] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    retries: int = 0
    resyncs: int = 0
    first_nonce: int | None = None  # of txs[0], for a modelgov sender

    def __post_init__(self) -> None:
        self.requests = [http_request(self.port, tx) for tx in self.txs]
        self.hashes = [hashlib.sha256(tx).hexdigest().upper() for tx in self.txs]

    def resync(self, problem: str) -> bool:
        """Go back to the node's next nonce after a ``nonce_out_of_order`` refusal, as a real
        client does: an earlier tx the app admitted left the mempool uncommitted (CometBFT
        v0.38 drops a tx the app admitted when its mempool is full by the time the answer
        arrives, and the re-check after the next block then drops the sender's later ones).
        False when the refusal is another one."""
        found = AHEAD.search(problem)
        if found is None or self.first_nonce is None:
            return False
        index = int(found.group(1)) - self.first_nonce
        if not 0 <= index < self.next:
            return False
        self.next = index
        self.resyncs += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.next >= len(self.txs)


async def _rpc(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> dict[str, Any]:
    """Send one request on a keep-alive connection and parse its JSON answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    answer: dict[str, Any] = json.loads(await reader.readexactly(length))
    return answer


async def _drive(sender: Sender, until: float, interval: float) -> None:
    """Send ``sender``'s next txs until ``until`` (wall clock): back to back when ``interval``
    is 0, else one every ``interval`` s. A full mempool is retried; another refusal stops the
    sender (its later nonces could not pass)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sender.port)
    due = time.time()
    try:
        while not sender.exhausted and time.time() < until:
            if interval:
                due += interval
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            i = sender.next
            sender.sent_at[sender.hashes[i]] = time.time()
            answer = await _rpc(reader, writer, sender.requests[i])
            problem = _problem(answer)
            if MEMPOOL_FULL in problem:
                sender.retries += 1
                await asyncio.sleep(0.02)
                continue
            sender.next += 1
            if problem and "already exists in cache" not in problem:
                if sender.resync(problem):
                    continue
                sender.refusals.append(problem[:200])
                return
    finally:
        writer.close()


def _problem(answer: dict[str, Any]) -> str:
    if "error" in answer:
        error = answer["error"]
        return f"{error.get('message', '')}: {error.get('data', '')}"
    result = answer.get("result") or {}
    return "" if int(result.get("code", 0)) == 0 else str(result.get("log", "refused"))


def drive(senders: list[Sender], seconds: float, rate: float = 0.0) -> float:
    """Run every sender for ``seconds`` (all at once, or at ``rate`` tx/s in all); returns the
    CPU seconds of the load generator (the thread running the loop) meanwhile."""
    interval = len(senders) / rate if rate > 0 else 0.0

    async def everyone() -> None:
        until = time.time() + seconds
        await asyncio.gather(*(_drive(s, until, interval) for s in senders))

    cpu = time.thread_time()
    asyncio.run(everyone())
    return time.thread_time() - cpu


# --- the chain side of the measurement ------------------------------------------------------


def chain_time(header_time: str) -> float:
    """Unix seconds of an RFC 3339 header time with nanoseconds."""
    whole, _, rest = header_time.rstrip("Z").partition(".")
    fraction = float("0." + rest[:9]) if rest else 0.0
    return datetime.fromisoformat(whole + "+00:00").timestamp() + fraction


class Chain:
    """Reads blocks, their results and commit times from one node."""

    def __init__(self, url: str) -> None:
        self.rpc = RpcClient(url, timeout=30)
        self._times: dict[int, float] = {}
        self.refused: Counter[str] = Counter()  # txs refused in the blocks read, by code

    def height(self) -> int:
        return int(self.rpc.status()["sync_info"]["latest_block_height"])

    def wait_height(self, height: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.height() < height:
            if time.monotonic() > deadline:
                raise RuntimeError(f"height {height} not reached in {timeout:.0f}s")
            time.sleep(0.05)

    def header_time(self, height: int) -> float:
        if height not in self._times:
            self.wait_height(height)
            header = self.rpc.call("block", height=str(height))["block"]["header"]
            self._times[height] = chain_time(header["time"])
        return self._times[height]

    def commit_time(self, height: int) -> float:
        """When block ``height`` was committed: the header time of the next block."""
        return self.header_time(height + 1)

    def committed_ok(self, height: int) -> int:
        """How many txs of block ``height`` succeeded."""
        for _ in range(100):
            try:
                results = self.rpc.call("block_results", height=str(height))
                break
            except RpcError as exc:  # a block is stored a moment before its results
                if "could not find results" not in str(exc):
                    raise
                time.sleep(0.05)
        ok = 0
        for r in results.get("txs_results") or []:
            code = int(r.get("code", 0))
            if code == 0:
                ok += 1
            else:
                self.refused[f"{r.get('codespace', '')}/{code}"] += 1
        return ok

    def tx_hashes(self, height: int) -> list[str]:
        txs = self.rpc.call("block", height=str(height))["block"]["data"]["txs"] or []
        return [hashlib.sha256(base64.b64decode(t)).hexdigest().upper() for t in txs]

    def drained(self, urls: list[str], timeout: float = 120) -> None:
        """Wait until every node's mempool is empty, then for one more block."""
        deadline = time.monotonic() + timeout
        for url in urls:
            rpc = RpcClient(url, timeout=30)
            while int(rpc.call("num_unconfirmed_txs")["n_txs"]) > 0:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the mempool of {url} did not drain in {timeout:.0f}s")
                time.sleep(0.1)
        self.wait_height(self.height() + 1)


def window_rate(chain: Chain, first: int, opened: float, closed: float) -> tuple[float, int, int]:
    """(committed tx/s, committed txs, blocks) over the blocks committed in (opened, closed]."""
    heights = []
    h = first
    while chain.commit_time(h) <= closed:
        if chain.commit_time(h) > opened:
            heights.append(h)
        h += 1
    if not heights:
        return 0.0, 0, 0
    txs = sum(chain.committed_ok(h) for h in heights)
    span = chain.commit_time(heights[-1]) - chain.commit_time(heights[0] - 1)
    return (txs / span if span > 0 else 0.0), txs, len(heights)


def latencies(chain: Chain, first: int, senders: list[Sender]) -> list[float]:
    """Commit latency of every tx sent in the latency phase (blocks after ``first``)."""
    sent = {h: t for s in senders for h, t in s.sent_at.items()}
    out = []
    for height in range(first + 1, chain.height()):
        for tx_hash in chain.tx_hashes(height):
            if tx_hash in sent:
                out.append(chain.commit_time(height) - sent[tx_hash])
    return sorted(out)


def percentile(values: list[float], p: int) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, len(values) * p // 100)]


def cpu_ticks(pids: dict[int, str]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(") ", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            continue
    return ticks


def app_counters(ports: list[int]) -> list[dict[str, float]]:
    """Each app's ``modelgov_abci_cpu_seconds_total`` by method, from its metrics endpoint."""
    out = []
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        found: dict[str, float] = {}
        for line in text.decode().splitlines():
            if line.startswith("modelgov_abci_cpu_seconds_total{"):
                labels, _, number = line.rpartition(" ")
                method = labels.split('method="', 1)[1].split('"', 1)[0]
                found[method] = float(number)
        out.append(found)
    return out


# --- one measured workload ------------------------------------------------------------------


@dataclass
class Outcome:
    """What one workload measured on one setup."""

    setup: str
    validators: int
    tx_bytes: int
    senders: int
    tps: float = 0.0
    committed: int = 0
    blocks: int = 0
    generator_cpu: float = 0.0  # % of one core over the saturation window
    exhausted: int = 0  # senders that ran out of prepared txs inside the window
    retries: int = 0  # broadcasts answered "mempool is full"
    cpu: dict[str, float] = field(default_factory=dict)  # role -> % of one core, per process
    app_us: dict[str, float] = field(default_factory=dict)  # method -> app CPU µs per tx
    rate: float = 0.0  # the latency phase's offered tx/s
    p50: float = math.nan
    p99: float = math.nan
    latency_txs: int = 0
    load: float = 0.0  # 1-minute load average when the saturation window closed
    errors: list[str] = field(default_factory=list)
    refused_in_blocks: dict[str, int] = field(default_factory=dict)  # codespace/code -> txs
    resyncs: int = 0  # senders sent back to the node's next nonce


@dataclass
class Setup:
    """A running testnet of one kind, as the measurement sees it."""

    name: str
    urls: list[str]
    pids: dict[int, str]
    metrics_ports: list[int]


def measure(setup: Setup, senders: list[Sender], args: argparse.Namespace, size: int) -> Outcome:
    """Saturate, then measure latency at half the rate reached; see the module docstring."""
    chain = Chain(setup.urls[0])
    out = Outcome(setup.name, len(setup.urls), size, len(senders))
    drive(senders, args.warmup)
    first = chain.height()
    ticks, counters, opened = cpu_ticks(setup.pids), app_counters(setup.metrics_ports), time.time()
    generator = drive(senders, args.duration)
    closed = time.time()
    ticks_after, counters_after = cpu_ticks(setup.pids), app_counters(setup.metrics_ports)
    out.load = os.getloadavg()[0]
    out.exhausted = sum(1 for s in senders if s.exhausted)
    out.retries = sum(s.retries for s in senders)
    out.generator_cpu = 100 * generator / (closed - opened)
    out.cpu = role_cpu(setup.pids, ticks, ticks_after, closed - opened)
    chain.drained(setup.urls)
    out.tps, out.committed, out.blocks = window_rate(chain, first, opened, closed)
    out.refused_in_blocks = dict(chain.refused)
    out.app_us = app_split(counters, counters_after, out.committed)
    out.rate = out.tps / 2
    if out.rate > 0 and args.latency_duration > 0:
        start = chain.height()
        for s in senders:
            s.sent_at.clear()
        drive(senders, args.latency_duration, out.rate)
        chain.drained(setup.urls)
        found = latencies(chain, start, senders)
        out.latency_txs, out.p50, out.p99 = len(found), percentile(found, 50), percentile(found, 99)
    out.errors = sorted({e for s in senders for e in s.refusals})[:5]
    out.resyncs = sum(s.resyncs for s in senders)
    return out


def role_cpu(
    pids: dict[int, str], before: dict[int, int], after: dict[int, int], seconds: float
) -> dict[str, float]:
    """% of one core per process, mean over the processes of each role."""
    by_role: dict[str, list[float]] = {}
    for pid, role in pids.items():
        if pid in before and pid in after:
            used = (after[pid] - before[pid]) / CLOCK_TICKS
            by_role.setdefault(role, []).append(100 * used / seconds)
    return {role: sum(v) / len(v) for role, v in by_role.items()}


def app_split(
    before: list[dict[str, float]], after: list[dict[str, float]], txs: int
) -> dict[str, float]:
    """App CPU µs per committed tx by ABCI method, mean over the nodes."""
    if not before or txs <= 0:
        return {}
    split = {}
    for method in APP_METHODS:
        used = [a.get(method, 0.0) - b.get(method, 0.0) for b, a in zip(before, after, strict=True)]
        split[method] = 1e6 * sum(used) / len(used) / txs
    return split


# --- the two kinds of testnet ---------------------------------------------------------------


def make_senders(
    urls: list[str], txs: list[list[bytes]], nonces: list[int] | None = None
) -> list[Sender]:
    """Sender i sends ``txs[i]`` (signed from ``nonces[i]`` on, for modelgov) to node i mod N."""
    firsts: list[int | None] = list(nonces) if nonces is not None else [None] * len(txs)
    return [
        Sender(int(urls[i % len(urls)].rsplit(":", 1)[1]), t, first_nonce=firsts[i])
        for i, t in enumerate(txs)
    ]


def per_sender(args: argparse.Namespace, rate: float) -> int:
    """Prepared txs per sender: enough for ``rate`` tx/s in all through every phase."""
    seconds = float(args.warmup + args.duration + args.latency_duration / 2)
    return math.ceil(rate * seconds / int(args.senders)) + 1


def run_modelgov(directory: Path, validators: int, args: argparse.Namespace) -> list[Outcome]:
    directory.mkdir(parents=True)
    consortium = bench_consortium(directory, args.senders, args.max_block_gas)
    home = directory / "net"
    net = tn.init(
        home,
        validators,
        consortium_file=consortium,
        base_port=args.base_port,
        timeout_commit=args.timeout_commit,
        force=True,
    )
    try:
        tn.start(home)
        urls = [n.rpc_url for n in net.nodes]
        node = Node(urls[0], net.chain_id)
        prepare_chain(node, net.keyring)
        raw = json.loads((home / tn.PIDS).read_text())
        pids = {int(p["pid"]): str(p["role"]) for p in raw}
        setup = Setup("modelgov", urls, pids, [n.ports.app_metrics for n in net.nodes])
        keys = [net.keyring.get(f"bench-{i:03d}") for i in range(args.senders)]
        outcomes = []
        for workload in args.workloads:
            count = per_sender(args, args.max_rate)
            nonces = [node.account(k.address).nonce for k in keys]
            txs = [
                signed_txs(net.chain_id, k, n, count, i, WORKLOADS[workload])
                for i, (k, n) in enumerate(zip(keys, nonces, strict=True))
            ]
            size = round(sum(len(t[0]) for t in txs) / len(txs))
            print(f"  {workload}: {count * len(keys)} txs of {size} bytes signed", file=sys.stderr)
            outcome = measure(setup, make_senders(urls, txs, nonces), args, size)
            outcome.setup = f"modelgov {workload}"
            outcomes.append(outcome)
            print(table([outcome]), file=sys.stderr, flush=True)
        return outcomes
    finally:
        tn.stop(home)


def run_kvstore(
    directory: Path, validators: int, args: argparse.Namespace, size: int
) -> list[Outcome]:
    """The same engines with ``abci-cli kvstore`` as each node's app, over a unix socket."""
    directory.mkdir(parents=True)
    home = directory / "net"
    net = tn.init(
        home,
        validators,
        base_port=args.kvstore_base_port,
        timeout_commit=args.timeout_commit,
        force=True,
    )
    engine, abci_cli = find_cometbft(), install_abci_cli()
    procs: dict[subprocess.Popen[bytes], str] = {}
    try:
        for node in net.nodes:
            genesis_path = node.engine_home / "config" / "genesis.json"
            genesis = json.loads(genesis_path.read_text())
            genesis.pop("app_state", None)  # kvstore reads none
            genesis_path.write_text(json.dumps(genesis, indent=2))
            app = [str(abci_cli), "--address", node.abci, "--log_level", "error", "kvstore"]
            app += ["--persist", str(node.app_home / "kvstore")]
            procs[_spawn(app, node, "app")] = "app"
            _wait_socket(node.abci)
            procs[_spawn(tn.engine_command(engine, node), node, "engine")] = "engine"
        tn.wait_until_producing(net, 60)
        urls = [n.rpc_url for n in net.nodes]
        count = per_sender(args, args.max_rate_kvstore)
        txs = [kvstore_txs(i, count, size) for i in range(args.senders)]
        setup = Setup("kvstore", urls, {p.pid: role for p, role in procs.items()}, [])
        outcome = measure(setup, make_senders(urls, txs), args, size)
        outcome.setup = "abci-cli kvstore"
        print(table([outcome]), file=sys.stderr, flush=True)
        return [outcome]
    finally:
        for proc in sorted(procs, key=lambda p: procs[p] == "app"):  # engines first
            _end(proc)


def _spawn(command: list[str], node: tn.NodeSpec, role: str) -> subprocess.Popen[bytes]:
    with (Path(node.home) / "logs" / f"{role}.log").open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_socket(address: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not tn._accepts(address):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {address}")
        time.sleep(0.05)


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --- report ---------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| setup | val | tx B | committed tx/s | txs | blocks | % of kvstore | p50 ms | p99 ms "
        "| at tx/s | CPU % engine | CPU % app | gen CPU % | app µs/tx check | recheck "
        "| finalize | commit | load avg |",
        "| --- " + "| ---: " * 17 + "|",
    ]
    kv = {o.validators: o.tps for o in outcomes if o.setup.endswith("kvstore")}
    for o in outcomes:
        share = f"{100 * o.tps / kv[o.validators]:.0f}" if kv.get(o.validators) else "-"
        cpu = [f"{o.cpu[r]:.0f}" if r in o.cpu else "-" for r in ("engine", "app")]
        split = [f"{o.app_us[m]:.0f}" if m in o.app_us else "-" for m in APP_METHODS]
        mark = "*" if o.exhausted else ""
        lines.append(
            f"| {o.setup} | {o.validators} | {o.tx_bytes} | {o.tps:.0f}{mark} | {o.committed} "
            f"| {o.blocks} | {share} | {1000 * o.p50:.0f} | {1000 * o.p99:.0f} | {o.rate:.0f} "
            f"| {' | '.join(cpu)} | {o.generator_cpu:.0f} | {' | '.join(split)} | {o.load:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--senders", type=int, default=32, help="accounts sending at once")
    parser.add_argument("--duration", type=float, default=10.0, help="saturation window, s")
    parser.add_argument("--warmup", type=float, default=3.0, help="s of load before the window")
    parser.add_argument("--latency-duration", type=float, default=8.0, help="0: skip the phase")
    parser.add_argument("--max-rate", type=float, default=2500, help="modelgov txs signed per s")
    parser.add_argument("--max-rate-kvstore", type=float, default=8000)
    parser.add_argument("--timeout-commit", default="1s", help="consensus.timeout_commit")
    parser.add_argument("--base-port", type=int, default=10656, help="modelgov nodes")
    parser.add_argument("--kvstore-base-port", type=int, default=9656)
    parser.add_argument("--skip-kvstore", action="store_true")
    parser.add_argument(
        "--max-block-gas", type=int, default=None, help="modelgov's parameter (default: example's)"
    )
    parser.add_argument("--skip-modelgov", action="store_true")
    parser.add_argument("--kvstore-tx-bytes", type=int, default=0, help="0: the use txs' size")
    args = parser.parse_args()
    outcomes: list[Outcome] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mg-bench-") as tmp:
        for validators in args.validators:
            size = args.kvstore_tx_bytes
            if not args.skip_modelgov:
                print(f"modelgov, {validators} validator(s) ...", file=sys.stderr, flush=True)
                mg = run_modelgov(Path(tmp) / f"mg{validators}", validators, args)
                outcomes += mg
                size = size or mg[0].tx_bytes
            if not args.skip_kvstore:
                print(f"kvstore, {validators} validator(s) ...", file=sys.stderr, flush=True)
                kv_dir = Path(tmp) / f"kv{validators}"
                outcomes += run_kvstore(kv_dir, validators, args, size or 150)
    print(table(outcomes))
    print()
    print(
        "committed tx/s: txs that succeeded in the blocks committed inside the saturation "
        f"window ({args.duration:g} s after {args.warmup:g} s of load), {args.senders} senders; "
        "* = a sender ran out of prepared txs (raise --max-rate)."
    )
    print("p50/p99: broadcast to commit of the tx's block, offered at half that rate (at tx/s).")
    print("CPU %: mean per process of that role in the window (100 = one core busy).")
    print("gen CPU %: the load generator's loop thread (it does all the sending).")
    print("app µs/tx: app thread CPU per committed tx by ABCI method, mean over the nodes.")
    print(f"Machine: {machine()}")
    print(f"Load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    python = os.path.relpath(sys.executable) if sys.executable else "python"
    print(f"Command: `{shlex.join([python, *sys.argv])}`")
    for o in outcomes:
        if o.retries:
            print(f"- {o.setup} x{o.validators}: {o.retries} broadcasts met a full mempool")
        if o.resyncs:
            print(
                f"- {o.setup} x{o.validators}: {o.resyncs} times a sender went back to the "
                "node's next nonce (an admitted tx had left the mempool uncommitted)"
            )
        for error in o.errors:
            print(f"- {o.setup} x{o.validators} refusal: {error}")
        for code, count in sorted(o.refused_in_blocks.items()):
            print(
                f"- {o.setup} x{o.validators}: {count} txs refused in the window's blocks ({code})"
            )


if __name__ == "__main__":
    main()
