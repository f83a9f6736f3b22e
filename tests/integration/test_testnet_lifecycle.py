"""The testnet's processes: a failed start leaves nothing running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chain import testnet as net

pytestmark = pytest.mark.integration


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


def test_a_failed_start_stops_what_it_started(tmp_path: Path) -> None:
    testnet = net.init(tmp_path / "net", 3, base_port=21656, timeout_commit="300ms")
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
