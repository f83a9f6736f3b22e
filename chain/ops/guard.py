"""``python -m chain.ops.guard SOCKET -- COMMAND...``: run a node's engine; end it when its app is
replaced.

CometBFT (v0.38) never reconnects to its app. When the app dies the engine stops itself, but a
stop that begins while a block is being executed waits forever for the dead app's answer: the
process lives on, serving nothing. The process testnet stops such an engine itself
(``chain.testnet.start``); in docker compose the app and the engine are separate containers
with restart policies, so this guard, the engine container's command, does it. When the unix
socket the engine reaches its app on is replaced (a new app listens: the app unlinks and binds
it again on start), the guard gives the engine ``GRACE`` seconds to exit, then kills it, and
exits with the engine's status, so the restart policy starts a new engine for the new app.
SIGTERM and SIGINT (``docker stop``) are passed to the engine. The socket is only looked at
(``stat``), never connected to: the app sees no extra connection.
"""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

GRACE = 5.0
POLL = 1.0
KILLED = 137  # as a shell reports a child ended by SIGKILL


def identity(path: Path) -> tuple[int, int, int] | None:
    """Which socket file is at ``path`` now, or None when there is none: device, inode and
    modification time (a file system reuses a freed inode number at once; a new socket's time
    differs, and nothing modifies a socket file after its bind)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_mtime_ns) if stat.S_ISSOCK(info.st_mode) else None


def say(message: str) -> None:
    """One line in the container's log, beside the engine's."""
    print(f"guard: {message}", file=sys.stderr, flush=True)


def end(engine: subprocess.Popen[bytes], grace: float = GRACE) -> int:
    """Ask the engine to stop; kill it when it has not within ``grace``; its exit status."""
    engine.terminate()
    try:
        return engine.wait(grace)
    except subprocess.TimeoutExpired:
        say(f"the engine did not stop within {grace:.0f}s: killing it")
        engine.kill()
        engine.wait()
        return KILLED


def watch(
    socket: Path, engine: subprocess.Popen[bytes], poll: float = POLL, grace: float = GRACE
) -> int:
    """Wait for the engine to exit, ending it if the app behind ``socket`` is replaced."""
    first = identity(socket)
    while engine.poll() is None:
        time.sleep(poll)
        now = identity(socket)
        if first is None:
            first = now
        elif now is not None and now != first:
            say(f"a new app listens on {socket}: ending the engine of the old one")
            status = end(engine, grace)
            return status if status else 1  # a restart, whatever the engine said
    return engine.returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``COMMAND`` under the guard of ``SOCKET``; exits with the command's status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        say("usage: python -m chain.ops.guard SOCKET -- COMMAND [ARG...]")
        return 2
    socket, command = Path(args[0]), args[2:]
    engine = subprocess.Popen(command)

    def forward(signum: int, frame: FrameType | None) -> None:
        engine.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return watch(socket, engine)


if __name__ == "__main__":
    sys.exit(main())
