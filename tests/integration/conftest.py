"""A real 4-validator testnet for the integration tests, stopped whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain import testnet as net

BASE_PORT = 56656


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    """Four validators with short blocks; every process is stopped at teardown."""
    directory: Path = tmp_path_factory.mktemp("testnet")
    testnet = net.init(
        directory / "net", 4, base_port=BASE_PORT, timeout_commit="300ms", chain_id="it-chain"
    )
    try:
        net.start(Path(testnet.directory), timeout=90)
        yield testnet
    finally:
        net.stop(Path(testnet.directory))
