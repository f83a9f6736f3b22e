"""``modelgov node status`` when nothing answers: a clear line and exit code 3."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path


def modelgov(*args: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "modelgov"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_node_exits_3_with_the_reason() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    text = modelgov("node", "status", "--node", url)
    assert text.returncode == 3 and "unreachable" in text.stdout and url in text.stdout
    as_json = modelgov("node", "status", "--node", url, "-o", "json")
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and report["reachable"] is False and report["error"]
