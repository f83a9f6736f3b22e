"""The testnet's processes: a failed start leaves nothing running, and ``testnet start`` brings
back exactly the processes that died, in an order that lets the node catch up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.engine.config import UNIX_PATH_MAX

pytestmark = pytest.mark.integration
BASE_PORT = int(os.environ.get("MODELGOV_LIFECYCLE_TEST_PORT", "27656"))
ROOT = Path(__file__).resolve().parents[2]


def processes_under(directory: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``directory``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(f"/proc/{entry}/stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if str(directory).encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def modelgov_testnet(*args: str) -> subprocess.CompletedProcess[str]:
    """``modelgov testnet ARGS`` from this checkout (the installed script may be another's)."""
    program = "import sys; from chain.cli.main import main; sys.argv[0] = 'modelgov'; main()"
    return subprocess.run(
        [sys.executable, "-c", program, "testnet", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` exits (or is a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not net._alive(pid):
            return True
        time.sleep(0.1)
    return False


def assert_caught_up(testnet: net.Testnet, victim: net.NodeSpec, timeout: float = 60) -> None:
    """The victim reaches the height the others have now, with the same app hash there."""
    others = [Node(n.rpc_url) for n in testnet.nodes if n.name != victim.name]
    target = max(o.height() for o in others)
    restarted = Node(victim.rpc_url)
    restarted.wait_for_height(target, timeout)
    hashes = {
        c.rpc.call("block", height=str(target))["block"]["header"]["app_hash"]
        for c in [*others, restarted]
    }
    assert len(hashes) == 1, f"{victim.name} diverged at height {target}: {hashes}"


def transfer(testnet: net.Testnet, via: int, amount: int) -> int:
    """A committed credit transfer through node ``via``; returns its height."""
    msg = tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org="open-health", amount=amount))
    outcome = Node(testnet.nodes[via].rpc_url).send(testnet.keyring.get("acme-admin"), [msg])
    return outcome.height


def test_a_failed_start_stops_what_it_started(tmp_path: Path) -> None:
    testnet = net.init(tmp_path / "net", 3, base_port=BASE_PORT, timeout_commit="300ms")
    directory = Path(testnet.directory)
    broken = testnet.nodes[2].app_home / "state.db"
    broken.write_text("not a LevelDB directory")
    with pytest.raises(net.TestnetError, match=r"node2/logs/app\.log"):
        net.start(directory, timeout=30)
    assert processes_under(directory) == []
    broken.unlink()
    try:
        net.start(directory, timeout=60)
        assert len(processes_under(directory)) == 9
    finally:
        net.stop(directory)
    assert processes_under(directory) == []


def test_a_testnet_too_deep_for_a_socket_path_uses_a_private_short_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    testnet = net.init(deep, 1, base_port=BASE_PORT, timeout_commit="300ms")
    node = testnet.nodes[0]
    assert len(os.fsencode(Path(node.home) / "abci.sock")) > UNIX_PATH_MAX
    path = node.abci.removeprefix("unix://")
    assert len(os.fsencode(path)) <= UNIX_PATH_MAX
    assert Path(path).parent == net.private_socket_dir()
    try:
        net.start(Path(testnet.directory), timeout=60)
        assert Node(node.rpc_url).height() >= 1
        assert Path(path).parent.stat().st_mode & 0o777 == 0o700
    finally:
        net.stop(Path(testnet.directory))
    assert not Path(path).exists()  # stop leaves no socket behind in the shared directory


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    testnet = net.init(
        tmp_path_factory.mktemp("lifecycle") / "net", 4, base_port=BASE_PORT, timeout_commit="300ms"
    )
    try:
        net.start(Path(testnet.directory), timeout=90)
        yield testnet
    finally:
        net.stop(Path(testnet.directory))


def test_the_app_listens_on_a_unix_socket_in_the_node_directory(four: net.Testnet) -> None:
    for node in four.nodes:
        path = Path(node.home) / "abci.sock"
        assert node.abci == f"unix://{path}"
        config = (node.engine_home / "config" / "config.toml").read_text()
        assert f'proxy_app = "unix://{path}"' in config
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(str(path))
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", node.ports.abci), timeout=1).close()


def test_start_on_a_running_testnet_starts_nothing_and_says_so(four: net.Testnet) -> None:
    before = {n.name: net.node_processes(Path(four.directory), n) for n in four.nodes}
    done = modelgov_testnet("start", "--dir", four.directory)
    assert done.returncode == 0, done.stderr
    assert "all 4 nodes were already running; nothing started" in done.stdout
    assert {n.name: net.node_processes(Path(four.directory), n) for n in four.nodes} == before


def test_an_engine_stops_itself_when_its_app_dies_and_start_brings_both_back(
    four: net.Testnet,
) -> None:
    directory, victim = Path(four.directory), four.nodes[1]
    running = net.node_processes(directory, victim)
    os.kill(running["app"], signal.SIGKILL)
    assert gone(running["engine"], 10), "CometBFT v0.38 stops itself when its app goes away"
    transfer(four, 0, 5)
    done = modelgov_testnet("start", "--dir", four.directory)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("node1:"))
    assert "started app" in line and "started engine" in line and "weights" not in line
    assert net.node_processes(directory, victim)["weights"] == running["weights"]
    assert_caught_up(four, victim)


def test_an_app_outlives_its_engine_and_start_starts_only_the_engine(four: net.Testnet) -> None:
    directory, victim = Path(four.directory), four.nodes[2]
    running = net.node_processes(directory, victim)
    os.kill(running["engine"], signal.SIGKILL)
    assert gone(running["engine"], 5)
    transfer(four, 0, 6)
    assert net._alive(running["app"])
    done = modelgov_testnet("start", "--dir", four.directory)
    assert done.returncode == 0, done.stderr
    after = net.node_processes(directory, victim)
    assert (after["app"], after["weights"]) == (running["app"], running["weights"])
    assert after["engine"] != running["engine"]
    assert f"node2: started engine (pid {after['engine']})" in done.stdout
    assert_caught_up(four, victim)


def test_an_engine_still_up_without_its_app_is_stopped_before_the_new_app(
    four: net.Testnet,
) -> None:
    directory, victim = Path(four.directory), four.nodes[3]
    running = net.node_processes(directory, victim)
    os.kill(running["engine"], signal.SIGSTOP)  # it cannot notice its app's death
    os.kill(running["app"], signal.SIGKILL)
    assert gone(running["app"], 5)
    transfer(four, 1, 7)
    report = net.start(directory, timeout=90)
    steps = [(a.what, a.role) for a in report.actions]
    assert steps == [("stopped", "engine"), ("started", "app"), ("started", "engine")]
    assert report.actions[0].pid == running["engine"] and not net._alive(running["engine"])
    assert_caught_up(four, victim)


def test_a_dead_weights_server_alone_is_started_again(four: net.Testnet) -> None:
    directory, victim = Path(four.directory), four.nodes[0]
    running = net.node_processes(directory, victim)
    os.kill(running["weights"], signal.SIGKILL)
    assert gone(running["weights"], 5)
    report = net.start(directory, timeout=60)
    assert [(a.node, a.what, a.role) for a in report.actions] == [("node0", "started", "weights")]
    assert net.node_processes(directory, victim)["engine"] == running["engine"]
