"""A real local testnet for one integration test module, stopped whatever happens.

Each module takes its own base port below 32768, outside Linux's ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range), so no outgoing connection can hold a port a node
must listen on: 19656 monitoring, 20656 network, 22656 licenses, 23656 weights, 24656 prometheus,
27656 lifecycle and chaos (one module after the other), 28656 governance, 29656 collab, 30656
compose, 25656 access, 31656 genesis export, 15656 docker (18656 its bridge file; 26656 is the
demo's), 8656 market, 13656 datasets. Some modules take another base port from the environment,
so a second run beside CI's stays off its ports: MODELGOV_WEIGHTS_TEST_PORT,
MODELGOV_LIFECYCLE_TEST_PORT, MODELGOV_ACCESS_TEST_PORT, MODELGOV_USERSIDE_TEST_PORT,
MODELGOV_DOCKER_TEST_PORT.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chain import testnet as net


@contextmanager
def running(directory: Path, validators: int, base_port: int, **init: Any) -> Iterator[net.Testnet]:
    """``validators`` nodes with short blocks on ports from ``base_port``; every process they
    started is stopped on the way out."""
    testnet = net.init(
        directory / "net", validators, base_port=base_port, timeout_commit="300ms", **init
    )
    try:
        net.start(Path(testnet.directory), timeout=90)
        yield testnet
    finally:
        net.stop(Path(testnet.directory))
