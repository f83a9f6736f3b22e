"""Committed transactions per second of a local testnet, against the engine's own ceiling.

For each validator count, two runs one after the other, each on a fresh testnet in a temporary
directory:

- ``modelgov``: the real nodes (CometBFT + the Python app). One model is registered per publisher
  account of the consortium file, then ``--txs`` PublishVersion transactions are signed ahead of
  time, spread over the publishers (each with consecutive nonces from its on-chain one).
- ``kvstore``: the same engines and network running CometBFT's built-in kvstore app
  (``cometbft start --proxy_app=kvstore``), fed ``key=value`` transactions of the same length.

Both are broadcast the same way: one thread per sender lane, each lane bound to one node's RPC
(lanes round-robin over the nodes), ``broadcast_tx_sync`` one transaction after the other. A
modelgov sender's transactions must reach one mempool in nonce order, which is why a lane keeps to
one node. The clock runs from the first broadcast until the commit of the block holding the last
transaction: that commit's time is the header time of the next block (BFT time, the median of the
precommit timestamps). Committed and failed transactions are counted from ``/block_results``;
failed also counts those CheckTx refused or that never landed in a block.

    .venv/bin/python benchmarks/tx_throughput.py --validators 1 4 --txs 2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as tn
from chain.client import Node
from chain.engine.install import find_cometbft
from chain.genesis import load_consortium
from chain.keys import Key
from chain.rpc import RpcClient, RpcError

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Lane:
    """Transactions one thread sends, in order, to one node."""

    url: str
    txs: list[bytes]


@dataclass
class Outcome:
    """What one run measured."""

    setup: str
    validators: int
    txs: int
    tx_bytes: int
    seconds: float = 0.0
    send_seconds: float = 0.0  # how long the broadcast threads took to hand over every tx
    committed: int = 0
    blocks: int = 0
    failed: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # role -> % of one core, mean per process
    errors: list[str] = field(default_factory=list)

    @property
    def tps(self) -> float:
        return self.committed / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_block(self) -> float:
        return self.committed / self.blocks if self.blocks else 0.0


# --- transactions ---------------------------------------------------------------------------


def holders(consortium: dict[str, Any], role: str) -> list[tuple[str, str]]:
    """(account name, org) of every account with ``role``."""
    return [
        (str(a["name"]), str(a["org"]))
        for a in consortium.get("accounts") or []
        if role in (a.get("roles") or [])
    ]


USE_MODEL = "bench"
TEMPLATE = Path(__file__).resolve().parents[1] / "genesis" / "licenses" / "pay-per-use.lic"


def prepare_use(node: Node, owner: tuple[Key, str]) -> str:
    """Publish one version under the pay-per-use template (1 credit a unit); its model id."""
    key, org = owner
    model = f"{org}/{USE_MODEL}"
    version = tx_pb2.PublishVersion(
        model=model,
        version="1.0",
        weights_digest="sha256:" + "e" * 64,
        size_bytes=1,
        format="safetensors",
        framework="pytorch",
        license=f"{org}/bench-ppu",
    )
    deploy = tx_pb2.DeployLicense(
        name="bench-ppu", source=TEMPLATE.read_text(), params=from_data({"tiers": [[None, 1]]})
    )
    node.send(key, [tx_pb2.Msg(deploy_license=deploy)])
    node.send(key, [tx_pb2.Msg(publish_version=version)])
    return model


def use_lanes(
    node: Node, consumers: list[Key], model: str, count: int, urls: list[str]
) -> list[Lane]:
    """``count`` signed Use txs (inference, one unit), dealt round-robin over the consumers."""
    nonces = [node.account(key.address).nonce for key in consumers]
    lanes = [Lane(urls[i % len(urls)], []) for i in range(len(consumers))]
    for i in range(count):
        s = i % len(consumers)
        use = tx_pb2.Use(model=model, version="1.0", purpose="inference", quantity=1, max_fee=10)
        lanes[s].txs.append(node.sign(consumers[s], [tx_pb2.Msg(use=use)], nonces[s]))
        nonces[s] += 1
    return lanes


def register_models(node: Node, senders: list[tuple[Key, str]]) -> None:
    """Register model ``bench`` of each sender's org (once per org)."""
    done: set[str] = set()
    for key, org in senders:
        if org in done:
            continue
        msg = tx_pb2.Msg(
            register_model=tx_pb2.RegisterModel(owner_org=org, name="bench", description="bench")
        )
        node.send(key, [msg])
        done.add(org)


def publish_lanes(
    node: Node, senders: list[tuple[Key, str]], count: int, urls: list[str]
) -> list[Lane]:
    """``count`` signed PublishVersion txs, dealt round-robin over the senders; one lane each."""
    nonces = [node.account(key.address).nonce for key, _ in senders]
    lanes = [Lane(urls[i % len(urls)], []) for i in range(len(senders))]
    for i in range(count):
        s = i % len(senders)
        key, org = senders[s]
        version = tx_pb2.PublishVersion(
            model=f"{org}/bench",
            version=f"1.0.{i}",
            weights_digest="sha256:" + hashlib.sha256(b"weights %d" % i).hexdigest(),
            size_bytes=1_000_000 + i,
            format="safetensors",
            framework="pytorch",
        )
        lanes[s].txs.append(node.sign(key, [tx_pb2.Msg(publish_version=version)], nonces[s]))
        nonces[s] += 1
    return lanes


def kvstore_lanes(count: int, size: int, lanes: int, urls: list[str]) -> list[Lane]:
    """``count`` distinct ``key=value`` txs of ``size`` bytes, dealt over ``lanes`` lanes."""
    out = [Lane(urls[i % len(urls)], []) for i in range(lanes)]
    for i in range(count):
        head = b"bench%08d=" % i
        value = hashlib.sha256(head).hexdigest().encode() * (size // 64 + 1)
        out[i % lanes].txs.append(head + value[: max(1, size - len(head))])
    return out


# --- broadcasting and measuring -------------------------------------------------------------


def broadcast(lanes: list[Lane]) -> tuple[float, float, list[str]]:
    """Send every lane from its own thread; returns start time, seconds taken, refusals."""
    refusals: list[str] = []
    lock = threading.Lock()
    go = threading.Event()

    def send(lane: Lane) -> None:
        rpc = RpcClient(lane.url, timeout=30)
        go.wait()
        for tx in lane.txs:
            try:
                reply = rpc.broadcast_tx_sync(tx)
                problem = "" if int(reply.get("code", 0)) == 0 else str(reply.get("log", ""))
            except RpcError as exc:
                problem = str(exc)
            if problem:
                with lock:
                    refusals.append(problem)

    threads = [threading.Thread(target=send, args=(lane,)) for lane in lanes]
    for thread in threads:
        thread.start()
    started = time.time()
    go.set()
    for thread in threads:
        thread.join()
    return started, time.time() - started, refusals


def chain_time(header_time: str) -> float:
    """Unix seconds of an RFC 3339 header time with nanoseconds."""
    whole, _, rest = header_time.rstrip("Z").partition(".")
    fraction = float("0." + rest) if rest else 0.0
    return datetime.fromisoformat(whole + "+00:00").timestamp() + fraction


def wait_height(rpc: RpcClient, height: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while int(rpc.status()["sync_info"]["latest_block_height"]) < height:
        if time.monotonic() > deadline:
            raise RuntimeError(f"height {height} not reached in {timeout:.0f}s")
        time.sleep(0.1)


def collect(
    rpc: RpcClient, start_height: int, expected: int, idle_timeout: float
) -> tuple[int, int, int, int]:
    """Walk blocks after ``start_height`` until ``expected`` txs landed (or none landed for
    ``idle_timeout`` s); returns (ok, failed in blocks, first and last height holding txs)."""
    ok = bad = first = last = 0
    height = start_height
    last_progress = time.monotonic()
    while ok + bad < expected and time.monotonic() - last_progress < idle_timeout:
        tip = int(rpc.status()["sync_info"]["latest_block_height"])
        if tip <= height:
            time.sleep(0.1)
            continue
        for h in range(height + 1, tip + 1):
            try:
                results = rpc.call("block_results", height=str(h)).get("txs_results") or []
            except RpcError as exc:  # the block is stored before its results are
                if "could not find results" not in str(exc):
                    raise
                time.sleep(0.05)
                break
            height = h
            if results:
                first, last = first or h, h
                last_progress = time.monotonic()
            for result in results:
                if int(result.get("code", 0)) == 0:
                    ok += 1
                else:
                    bad += 1
    return ok, bad, first, last


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


def measure(
    outcome: Outcome,
    lanes: list[Lane],
    rpc: RpcClient,
    pids: dict[int, str],
    idle_timeout: float,
) -> None:
    """Broadcast the lanes, wait for their blocks and fill ``outcome``."""
    start_height = int(rpc.status()["sync_info"]["latest_block_height"])
    before, own_before = cpu_ticks(pids), os.times()
    started, outcome.send_seconds, refusals = broadcast(lanes)
    accepted = outcome.txs - len(refusals)
    ok, bad, first, last = collect(rpc, start_height, accepted, idle_timeout)
    after, own_after = cpu_ticks(pids), os.times()
    window = max(time.time() - started, 1e-9)
    outcome.committed = ok
    outcome.failed = len(refusals) + bad + (accepted - ok - bad)
    outcome.errors = sorted(set(refusals))[:5]
    if last:
        wait_height(rpc, last + 1, 30)
        header = rpc.call("block", height=str(last + 1))["block"]["header"]
        outcome.seconds = chain_time(header["time"]) - started
        outcome.blocks = last - first + 1
    by_role: dict[str, list[float]] = {}
    for pid, role in pids.items():
        if pid in before and pid in after:
            used = (after[pid] - before[pid]) / CLOCK_TICKS
            by_role.setdefault(role, []).append(100 * used / window)
    own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
    by_role.setdefault("client", []).append(100 * own / window)
    outcome.cpu = {role: sum(v) / len(v) for role, v in by_role.items()}


# --- the two setups -------------------------------------------------------------------------


def run_modelgov(
    directory: Path, validators: int, args: argparse.Namespace, base_port: int
) -> Outcome:
    net = tn.init(
        directory,
        validators,
        consortium_file=args.consortium,
        base_port=base_port,
        timeout_commit=args.timeout_commit,
        force=True,
    )
    try:
        tn.start(directory)
        urls = [n.rpc_url for n in net.nodes]
        node = Node(urls[0], net.chain_id)
        consortium = load_consortium(args.consortium)
        senders = [(net.keyring.get(name), org) for name, org in holders(consortium, "publisher")]
        if not senders:
            raise SystemExit("the consortium file names no account with the publisher role")
        register_models(node, senders)
        if args.workload == "use":
            consumers = [net.keyring.get(name) for name, _ in holders(consortium, "consumer")]
            model = prepare_use(node, senders[0])
            lanes = use_lanes(node, consumers, model, args.txs, urls)
        else:
            lanes = publish_lanes(node, senders, args.txs, urls)
        size = round(sum(len(tx) for lane in lanes for tx in lane.txs) / args.txs)
        outcome = Outcome(f"modelgov {args.workload}", validators, args.txs, size)
        raw = json.loads((directory / tn.PIDS).read_text())
        pids = {int(p["pid"]): str(p["role"]) for p in raw}
        measure(outcome, lanes, node.rpc, pids, args.idle_timeout)
        return outcome
    finally:
        tn.stop(directory)


def run_kvstore(
    directory: Path, validators: int, args: argparse.Namespace, base_port: int, size: int
) -> Outcome:
    net = tn.init(
        directory,
        validators,
        consortium_file=args.consortium,
        base_port=base_port,
        timeout_commit=args.timeout_commit,
        force=True,
    )
    binary = find_cometbft()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for node in net.nodes:
            genesis_path = node.engine_home / "config" / "genesis.json"
            genesis = json.loads(genesis_path.read_text())
            genesis.pop("app_state", None)  # kvstore needs none
            genesis_path.write_text(json.dumps(genesis, indent=2))
            log = (Path(node.home) / "logs" / "engine.log").open("ab")
            with log:
                procs.append(
                    subprocess.Popen(
                        [*tn.engine_command(binary, node), "--proxy_app=kvstore"],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        tn.wait_until_producing(net, 60)
        urls = [n.rpc_url for n in net.nodes]
        lanes = kvstore_lanes(args.txs, size, args.lanes, urls)
        outcome = Outcome("kvstore", validators, args.txs, size)
        pids = {p.pid: "engine" for p in procs}
        measure(outcome, lanes, RpcClient(urls[0], timeout=30), pids, args.idle_timeout)
        return outcome
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
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
        "| setup | validators | txs | tx bytes | seconds | committed tx/s | blocks | txs/block "
        "| failed | send s | CPU % app | CPU % engine | CPU % client |",
        "| --- " + "| ---: " * 12 + "|",
    ]
    for o in outcomes:
        cpu = [f"{o.cpu[r]:.0f}" if r in o.cpu else "-" for r in ("app", "engine", "client")]
        lines.append(
            f"| {o.setup} | {o.validators} | {o.txs} | {o.tx_bytes} | {o.seconds:.2f} "
            f"| {o.tps:.0f} | {o.blocks} | {o.per_block:.0f} | {o.failed} "
            f"| {o.send_seconds:.2f} | {' | '.join(cpu)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--txs", type=int, default=2000, help="transactions per run (<= 4000)")
    parser.add_argument("--timeout-commit", default="1s", help="consensus.timeout_commit")
    parser.add_argument("--base-port", type=int, default=14656)
    parser.add_argument("--lanes", type=int, default=4, help="broadcast threads for kvstore")
    parser.add_argument("--idle-timeout", type=float, default=60.0, help="s without a new tx")
    parser.add_argument("--consortium", type=Path, default=tn.DEFAULT_CONSORTIUM)
    parser.add_argument("--skip-kvstore", action="store_true")
    parser.add_argument(
        "--workload",
        choices=["publish", "use"],
        default="publish",
        help="PublishVersion txs, or Use txs under a pay-per-use license",
    )
    args = parser.parse_args()
    if not 1 <= args.txs <= 4000:
        parser.error("--txs must be between 1 and 4000 (the mempool holds 5000)")
    stride = 100 * max(args.validators)
    outcomes: list[Outcome] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="modelgov-bench-") as tmp:
        for j, validators in enumerate(args.validators):
            base = args.base_port + 2 * stride * j
            print(f"modelgov, {validators} validator(s) ...", file=sys.stderr, flush=True)
            mg = run_modelgov(Path(tmp) / f"modelgov-{validators}", validators, args, base)
            outcomes.append(mg)
            print(table([mg]), file=sys.stderr, flush=True)
            if not args.skip_kvstore:
                print(f"kvstore, {validators} validator(s) ...", file=sys.stderr, flush=True)
                kv = run_kvstore(
                    Path(tmp) / f"kvstore-{validators}",
                    validators,
                    args,
                    base + stride,
                    mg.tx_bytes,
                )
                outcomes.append(kv)
                print(table([kv]), file=sys.stderr, flush=True)
    print(table(outcomes))
    print()
    print("seconds: first broadcast to the commit of the last tx's block (chain time).")
    print("send s: how long the broadcast threads took to hand every tx to CheckTx.")
    print("CPU %: mean per process of that role over the run (100 = one core busy).")
    print(f"Machine: {machine()}")
    print(f"Load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    python = os.path.relpath(sys.executable) if sys.executable else "python"
    print(f"Command: `{shlex.join([python, *sys.argv])}`")
    for o in outcomes:
        for error in o.errors:
            print(f"- {o.setup} x{o.validators} refusal: {error}")


if __name__ == "__main__":
    main()
