"""The testnet's generated config and process bookkeeping, checked without starting nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from chain import testnet as net
from chain.engine.config import UNIX_PATH_MAX, SocketPathError, unix_address

BASE_PORT = 27656


def spec(home: Path, address: str = "") -> net.NodeSpec:
    return net.NodeSpec(0, "node0", str(home), "id", net.NodePorts.of(0, BASE_PORT), address)


@pytest.mark.parametrize(
    ("length", "fits"),
    [(1, True), (UNIX_PATH_MAX - 1, True), (UNIX_PATH_MAX, True), (UNIX_PATH_MAX + 1, False)],
)
def test_unix_address_refuses_a_path_over_the_kernels_limit(length: int, fits: bool) -> None:
    path = Path("/" + "s" * (length - 1))
    if fits:
        assert unix_address(path) == f"unix://{path}"
    else:
        with pytest.raises(SocketPathError, match=f"limit is {UNIX_PATH_MAX} bytes"):
            unix_address(path)


def test_unix_address_counts_bytes_not_characters() -> None:
    path = Path("/" + "é" * 60)  # 121 bytes in UTF-8, 61 characters
    with pytest.raises(SocketPathError, match="121 bytes"):
        unix_address(path)


@pytest.mark.parametrize("depth", [1, 40, 80, 95, 200, 400])
def test_the_abci_socket_is_in_the_node_home_or_a_short_private_path(depth: int) -> None:
    home = Path("/srv/" + "n" * depth)
    path = net.abci_socket_path(home)
    assert len(os.fsencode(path)) <= UNIX_PATH_MAX
    if len(os.fsencode(home / "abci.sock")) <= UNIX_PATH_MAX:
        assert path == home / "abci.sock"
    else:
        assert path.parent == net.private_socket_dir()
        assert path != net.abci_socket_path(Path(str(home) + "x"))  # one socket per node


def test_init_points_engine_and_app_at_the_same_unix_socket(tmp_path: Path) -> None:
    testnet = net.init(tmp_path / "net", 2, base_port=BASE_PORT)
    for node in testnet.nodes:
        socket_path = Path(node.home) / "abci.sock"
        config = tomllib.loads((node.engine_home / "config" / "config.toml").read_text())
        assert config["proxy_app"] == f"unix://{socket_path}" == node.abci
        command = net.app_command(node)
        assert command[command.index("--address") + 1] == f"unix://{socket_path}"
    assert net.Testnet.load(Path(testnet.directory)) == testnet


def test_a_manifest_from_before_the_unix_socket_keeps_its_tcp_port(tmp_path: Path) -> None:
    node = asdict(spec(tmp_path / "node0"))
    del node["abci_address"]
    manifest = {"directory": str(tmp_path), "chain_id": "c", "nodes": [node]}
    (tmp_path / net.MANIFEST).write_text(json.dumps(manifest))
    loaded = net.Testnet.load(tmp_path).nodes[0]
    assert loaded.abci == f"tcp://127.0.0.1:{BASE_PORT + 2}"


@pytest.mark.parametrize("flaw", ["group-writable", "a link", "a file"])
def test_a_private_socket_directory_that_is_not_ours_alone_is_refused(
    tmp_path: Path, flaw: str
) -> None:
    shared = tmp_path / "sockets"
    if flaw == "group-writable":
        shared.mkdir(mode=0o770)
        shared.chmod(0o770)
    elif flaw == "a link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        shared.symlink_to(tmp_path / "elsewhere")
    else:
        shared.write_text("")
    node = spec(tmp_path / "node0", f"unix://{shared}/x.sock")
    with pytest.raises(net.TestnetError, match="socket directory"):
        net._prepare_socket_dir(node)


def test_a_missing_private_socket_directory_is_made_owner_only(tmp_path: Path) -> None:
    node = spec(tmp_path / "node0", f"unix://{tmp_path}/sockets/x.sock")
    net._prepare_socket_dir(node)
    assert (tmp_path / "sockets").stat().st_mode & 0o777 == 0o700
    net._prepare_socket_dir(node)  # twice is fine


def test_a_recorded_pid_now_used_by_another_process_is_not_taken_for_ours(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        node = spec(tmp_path / "node0")
        net._record(tmp_path, node, "app", sleeper.pid)
        assert net.node_processes(tmp_path, node) == {"app": sleeper.pid}
        entries = json.loads((tmp_path / net.PIDS).read_text())
        entries[0]["since"] -= 1  # as if the pid had been another process's before
        (tmp_path / net.PIDS).write_text(json.dumps(entries))
        assert net.node_processes(tmp_path, node) == {}
        del entries[0]["since"]  # pids.json of an older version: the pid alone decides
        (tmp_path / net.PIDS).write_text(json.dumps(entries))
        assert net.node_processes(tmp_path, node) == {"app": sleeper.pid}
    finally:
        sleeper.kill()
        sleeper.wait()
    assert net.node_processes(tmp_path, node) == {}


def test_start_reports_actions_by_node_in_words() -> None:
    testnet = net.Testnet("/x", "c", (spec(Path("/x/node0")),))
    report = net.StartReport(
        testnet,
        (
            net.Action("node0", "engine", 7, "stopped"),
            net.Action("node0", "app", 8, "started"),
        ),
    )
    described = [a.describe() for a in report.by_node()["node0"]]
    assert described == ["stopped engine whose app had died (pid 7)", "started app (pid 8)"]
    assert net.StartReport(testnet, ()).by_node() == {}
    assert replace(testnet.nodes[0], abci_address="").abci.startswith("tcp://")


def three_nodes(directory: Path) -> list[net.NodeSpec]:
    """Three node specs under ``directory`` (homes with their logs folder, unix ABCI sockets)."""
    nodes = []
    for index in range(3):
        home = directory / f"node{index}"
        (home / "logs").mkdir(parents=True)
        ports = net.NodePorts.of(index, BASE_PORT)
        address = f"unix://{home}/abci.sock"
        nodes.append(net.NodeSpec(index, f"node{index}", str(home), "id", ports, address))
    return nodes


SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)"]


def test_no_engine_starts_before_every_app_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node2's app fails (a broken state.db): the start fails before any engine was launched,
    so no engine is stopped while it creates its databases."""
    nodes = three_nodes(tmp_path)
    launched: list[tuple[str, str]] = []

    def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
        node, role = log.parent.parent.name, log.stem
        launched.append((node, role))
        failing = (node, role) == ("node2", "app")
        return subprocess.Popen([sys.executable, "-c", "exit(1)"] if failing else SLEEPER)

    monkeypatch.setattr(net, "_spawn", spawn)
    monkeypatch.setattr(net, "_accepts", lambda address: "node2" not in address)
    actions: list[net.Action] = []
    try:
        with pytest.raises(net.TestnetError, match=r"node2/logs/app\.log"):
            net._start_missing(tmp_path, nodes, Path("/bin/true"), actions)
    finally:
        net._terminate([a.pid for a in actions])
    assert launched == [("node0", "app"), ("node1", "app"), ("node2", "app")]


def test_waiting_for_blocks_names_a_process_that_exited_and_its_last_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = three_nodes(tmp_path)
    reason = "ERROR: failed to create node: failed to initialize database: corrupted"
    (Path(nodes[1].home) / "logs" / "engine.log").write_text(f"starting\n{reason}\n\n")
    dead = subprocess.Popen([sys.executable, "-c", "exit(1)"])
    dead.wait()
    alive = subprocess.Popen(SLEEPER)
    monkeypatch.setattr(net, "_height", lambda node, synced=False: 0)
    testnet = net.Testnet(str(tmp_path), "c", tuple(nodes))
    watch = {alive.pid: (nodes[0], "app"), dead.pid: (nodes[1], "engine")}
    try:
        with pytest.raises(net.TestnetError) as failed:
            net.wait_until_producing(testnet, timeout=30, watch=watch)
        with pytest.raises(net.TestnetError, match="node0, node1, node2 did not reach height 1"):
            net.wait_until_producing(testnet, timeout=0.5, watch={alive.pid: (nodes[0], "app")})
    finally:
        alive.kill()
        alive.wait()
    assert str(failed.value) == (
        f"node1's engine (pid {dead.pid}) exited before the testnet reached height 1: "
        f"{reason}; see {nodes[1].home}/logs/engine.log"
    )


def test_a_failed_start_lets_an_engine_create_its_databases_before_stopping_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine ended while it creates its databases can leave them unopenable: undoing a
    start waits until the engine's RPC answers (the databases exist by then)."""
    nodes = three_nodes(tmp_path)
    ready = tmp_path / "databases-created"
    setup = f"import pathlib, time; time.sleep(1); pathlib.Path({str(ready)!r}).touch(); "
    engine = subprocess.Popen([sys.executable, "-c", setup + "time.sleep(30)"])
    app = subprocess.Popen(SLEEPER)
    monkeypatch.setattr(net, "_accepts", lambda address: ready.exists())
    actions = [
        net.Action("node0", "app", app.pid, "started"),
        net.Action("node0", "engine", engine.pid, "started"),
    ]
    net._undo(tmp_path, nodes, actions)
    assert ready.exists()
    assert engine.poll() is not None and app.poll() is not None


def test_a_node_still_catching_up_has_not_reached_the_height(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted node can report the chain's height while the engine still has it in block
    sync; `testnet start` must not return then, or the next `testnet status` calls it
    unhealthy (seen in CI)."""
    syncing = {"value": True}

    class Rpc:
        def __init__(self, url: str, timeout: float) -> None:
            pass

        def status(self) -> dict[str, Any]:
            return {"sync_info": {"latest_block_height": "27", "catching_up": syncing["value"]}}

    monkeypatch.setattr(net, "RpcClient", Rpc)
    testnet = net.Testnet(str(tmp_path), "c", tuple(three_nodes(tmp_path)))
    with pytest.raises(net.TestnetError, match="did not reach height 27"):
        net.wait_until_producing(testnet, timeout=0.5, height=27)
    syncing["value"] = False
    net.wait_until_producing(testnet, timeout=0.5, height=27)
