"""A real local testnet for one integration test module, stopped whatever happens."""

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
