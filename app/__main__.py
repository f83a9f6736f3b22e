"""``python -m app``: run one node's ABCI application process.

The engine connects to ``--address``; the state lives in LevelDB under ``--home``. The process
exits 0 on SIGTERM/SIGINT and non-zero, loudly, when a block could not be executed.

Whoever can connect to the ABCI socket speaks for the engine, so it is local only: a unix socket
is created owner-only, and a TCP address must be on loopback unless ``--allow-remote-abci`` says
otherwise (an engine on another host; then firewall the port).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from pathlib import Path

from app.abci.modelgov_app import ModelgovApp
from app.abci.server import AbciServer, FatalError
from app.store import MerkleStore

EXIT_FATAL = 70


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of the app process."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    parser.add_argument("--home", required=True, type=Path, help="node's app directory")
    parser.add_argument(
        "--address",
        default="tcp://127.0.0.1:26658",
        help="ABCI listen address: unix://PATH (owner-only) or tcp://HOST:PORT (loopback)",
    )
    parser.add_argument(
        "--allow-remote-abci",
        action="store_true",
        help="allow a TCP address that is not loopback (the engine on another host)",
    )
    parser.add_argument("--metrics", default="", help="HOST:PORT for Prometheus metrics")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    args = parser.parse_args(argv)
    problem = address_problem(args.address, args.allow_remote_abci)
    if problem:
        parser.error(problem)
    return args


def address_problem(address: str, allow_remote: bool) -> str:
    """Why the app must not listen on ``address`` ("" when it may): only unix sockets and,
    unless ``allow_remote``, loopback TCP addresses."""
    scheme, _, rest = address.partition("://")
    if scheme == "unix":
        return "" if rest else "unix://PATH needs a path"
    if scheme != "tcp":
        return f"--address {address}: use unix://PATH or tcp://HOST:PORT"
    host, _, port = rest.rpartition(":")
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        return f"--address {address}: the port must be 1 to 65535"
    if allow_remote or is_loopback(host.strip("[]")):
        return ""
    return f"--address {address} is not loopback; pass --allow-remote-abci to listen on it"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (an empty host would bind every interface)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(app: ModelgovApp, address: str, metrics: str) -> None:
    """Serve until a signal or a fatal error."""
    observer = None
    if metrics:
        from app.abci.metrics import start_exporter

        observer = start_exporter(metrics, app).observe
    server = AbciServer(app, address, observer)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    await server.serve_until_stopped()


def main(argv: list[str] | None = None) -> int:
    """Open the store, serve the engine, close the store."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    args.home.mkdir(parents=True, exist_ok=True)
    store = MerkleStore(args.home / "state.db")
    app = ModelgovApp(store)
    logging.info("state at height %d, app hash %s", store.height, store.root.hex())
    try:
        asyncio.run(serve(app, args.address, args.metrics))
    except FatalError as exc:
        logging.critical("node stopped: %s", exc)
        return EXIT_FATAL
    finally:
        logging.info("shutting down at height %d, app hash %s", store.height, store.root.hex())
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
