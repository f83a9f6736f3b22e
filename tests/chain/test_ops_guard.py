"""The engine guard of the compose testnet, with real processes and real unix sockets.

A hung engine (one that ignores SIGTERM, as CometBFT does when its stop waits for a dead app) is
killed once a new app binds the socket; an engine that exits by itself is left to; docker's
SIGTERM reaches the engine. tests/integration/test_docker_testnet.py kills a real app in a
real container and sees its engine come back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.ops import guard

HUNG = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n"
POLITE = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(3))\n"
POLITE += "print('ready', flush=True)\ntime.sleep(120)\n"


def listen(path: Path) -> socket.socket:
    """A new app's socket at ``path``: unlink, bind, listen (as the app does)."""
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    return server


@pytest.fixture
def short(tmp_path: Path) -> Iterator[Path]:
    """A socket path short enough for the kernel's limit wherever the temp folder is."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"guard-{os.getpid()}-{tmp_path.name[-8:]}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def test_identity_tells_a_rebound_socket_even_on_a_reused_inode(short: Path) -> None:
    assert guard.identity(short) is None
    first = listen(short)
    before = guard.identity(short)
    assert before is not None
    assert guard.identity(short) == before  # stable while the same app listens
    first.close()
    time.sleep(0.01)
    second = listen(short)
    assert guard.identity(short) not in (None, before)
    second.close()
    short.unlink()
    short.write_text("not a socket")
    assert guard.identity(short) is None


def test_a_hung_engine_is_killed_when_a_new_app_binds(short: Path) -> None:
    old = listen(short)
    engine = subprocess.Popen([sys.executable, "-c", HUNG])
    result: list[int] = []
    watching = threading.Thread(
        target=lambda: result.append(guard.watch(short, engine, poll=0.1, grace=0.5))
    )
    try:
        watching.start()
        time.sleep(0.5)
        assert engine.poll() is None  # the same app: the guard leaves the engine be
        old.close()
        new = listen(short)
        started = time.monotonic()
        watching.join(10)
        assert result == [guard.KILLED] and engine.returncode == -signal.SIGKILL
        assert time.monotonic() - started < 5
        new.close()
    finally:
        engine.kill()
        engine.wait()
        watching.join(10)


def test_an_engine_that_exits_by_itself_is_left_to(short: Path) -> None:
    app = listen(short)
    engine = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(4)"])
    assert guard.watch(short, engine, poll=0.05) == 4
    app.close()


def test_an_engine_started_before_its_app_is_not_ended_when_the_app_appears(short: Path) -> None:
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
    time.sleep(0.2)
    app = listen(short)  # the first socket the guard sees is the engine's own app
    assert guard.watch(short, engine, poll=0.05) == 0
    app.close()


def test_docker_stops_sigterm_reaches_the_engine(short: Path) -> None:
    app = listen(short)
    process = subprocess.Popen(
        [sys.executable, "-m", "chain.ops.guard", str(short), "--", sys.executable, "-c", POLITE],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 3
    finally:
        process.kill()
        process.wait()
        app.close()


def test_usage_without_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chain.ops.guard", "/data/abci.sock"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "usage" in done.stderr
