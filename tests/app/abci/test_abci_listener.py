"""The ABCI listener is local only: an owner-only unix socket, or TCP on loopback unless the
operator says otherwise."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from abci_client import Client, request
from driver import Driver

from app.__main__ import address_problem, parse_args
from app.abci.server import AbciServer
from app.pb.tendermint.abci import types_pb2 as abci


@pytest.mark.parametrize(
    ("address", "allow_remote", "ok"),
    [
        ("unix:///tmp/app.sock", False, True),
        ("tcp://127.0.0.1:26658", False, True),
        ("tcp://127.5.6.7:26658", False, True),
        ("tcp://localhost:26658", False, True),
        ("tcp://[::1]:26658", False, True),
        ("tcp://0.0.0.0:26658", False, False),
        ("tcp://:26658", False, False),
        ("tcp://[::]:26658", False, False),
        ("tcp://10.1.2.3:26658", False, False),
        ("tcp://node0.example.org:26658", False, False),
        ("tcp://0.0.0.0:26658", True, True),
        ("tcp://10.1.2.3:26658", True, True),
        ("tcp://127.0.0.1:0", False, False),
        ("tcp://127.0.0.1:70000", False, False),
        ("tcp://127.0.0.1:\u0665", False, False),
        ("unix://", False, False),
        ("http://127.0.0.1:26658", False, False),
        ("127.0.0.1:26658", False, False),
    ],
)
def test_which_addresses_the_app_listens_on(address: str, allow_remote: bool, ok: bool) -> None:
    assert (address_problem(address, allow_remote) == "") == ok


def test_the_command_line_refuses_a_remote_address(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--home", str(tmp_path), "--address", "tcp://0.0.0.0:26658"])
    args = parse_args(
        ["--home", str(tmp_path), "--address", "tcp://0.0.0.0:26658", "--allow-remote-abci"]
    )
    assert args.allow_remote_abci
    assert parse_args(["--home", str(tmp_path)]).address == "tcp://127.0.0.1:26658"


def test_a_unix_socket_is_owner_only(chain: Driver, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    path.write_text("a stale socket file")
    mask = os.umask(0o022)
    os.umask(mask)

    async def main() -> None:
        server = AbciServer(chain.app, f"unix://{path}")
        await server.start()
        try:
            mode = os.stat(path).st_mode
            assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
            assert os.umask(mask) == mask  # the umask is restored after the bind
            reader, writer = await asyncio.open_unix_connection(str(path))
            client = Client(reader, writer)
            echo = await client.call(request(echo=abci.RequestEcho(message="local")))
            assert echo.echo.message == "local"
            await client.close()
        finally:
            server.stop()
            await server.serve_until_stopped()

    asyncio.run(main())
