"""``modelgov node status`` shows the Python the app reports in /abci_info."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from app.abci.modelgov_app import ModelgovApp
from app.pb.tendermint.abci import types_pb2 as abci
from app.store import MerkleStore
from chain.ops.status import _report, python_of

STATUS = {
    "node_info": {"moniker": "node0", "id": "ab", "network": "c", "version": "0.38.26"},
    "sync_info": {
        "latest_block_height": "7",
        "latest_block_time": "t",
        "latest_app_hash": "AA",
        "catching_up": False,
    },
    "validator_info": {"voting_power": "10"},
}


@pytest.mark.parametrize(
    ("data", "python"),
    [
        ("modelgov python=3.11.7 CPython", "3.11.7 CPython"),
        ("modelgov python=3.13.0", "3.13.0"),
        ("modelgov", ""),
        ("", ""),
    ],
    ids=["full", "no-implementation", "older-app", "empty"],
)
def test_python_of(data: str, python: str) -> None:
    assert python_of(data) == python


def test_the_report_carries_what_the_app_says(tmp_path: Path) -> None:
    with MerkleStore(tmp_path / "db") as store:
        info = ModelgovApp(store).info(abci.RequestInfo())
    app = {"data": info.data, "version": info.version, "app_version": str(info.app_version)}
    report = _report("node0", "http://x", STATUS, 3, 4, 40, app)
    assert report.app_python == f"{platform.python_version()} {platform.python_implementation()}"
    assert (report.app_version, report.app_protocol) == (info.version, info.app_version)
