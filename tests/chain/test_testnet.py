"""The testnet's generated config and process bookkeeping, checked without starting nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import asdict, replace
from pathlib import Path

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
