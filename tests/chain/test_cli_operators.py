"""Operators' commands against the real app in this process: cold-key signing
(--generate-only, tx sign, tx broadcast), query tx HASH; refusals of malformed files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from appnode import MODEL, AppRpc, populated
from click.testing import CliRunner

import chain.client
from chain.cli.main import cli
from chain.client import Node


@pytest.fixture
def chain_node(tmp_path: Path) -> Iterator[tuple[Node, AppRpc]]:
    (tmp_path / "chain").mkdir()
    node, rpc = populated(tmp_path / "chain")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain.client, "RpcClient", lambda url, *a, **k: rpc)
        patch.setenv("MODELGOV_HOME", str(tmp_path / "home"))
        yield node, rpc
    rpc.close()


def invoke(rpc: AppRpc, *argv: str) -> str:
    done = CliRunner().invoke(cli, [*argv, "--keyring", str(rpc.keyring.directory)])
    assert done.exit_code == 0, (done.output, done.exception)
    return done.output


def test_generate_sign_broadcast(chain_node: tuple[Node, AppRpc], tmp_path: Path) -> None:
    node, rpc = chain_node
    before = node.account(rpc.keyring.get("acme-ml").address).nonce
    unsigned = invoke(
        rpc,
        "tx",
        "use",
        f"{MODEL}@1.0",
        "--purpose",
        "research",
        "--max-fee",
        "0",
        "--from",
        "acme-ml",
        "--memo",
        "cold",
        "--generate-only",
    )
    data = json.loads(unsigned)
    assert data["type"] == "modelgov/unsigned-tx" and data["memo"] == "cold"
    assert data["readable"][0]["use"]["version"] == "1.0"
    assert node.account(rpc.keyring.get("acme-ml").address).nonce == before, "nothing was sent"
    (tmp_path / "unsigned.json").write_text(unsigned)
    signed = invoke(rpc, "tx", "sign", str(tmp_path / "unsigned.json"), "--from", "acme-ml")
    (tmp_path / "signed.json").write_text(signed)
    sent = CliRunner().invoke(cli, ["tx", "broadcast", str(tmp_path / "signed.json"), "-o", "json"])
    assert sent.exit_code == 0, (sent.output, sent.exception)
    report = json.loads(sent.output)
    assert report["receipt_id"] == 2 and report["hash"] == json.loads(signed)["hash"]
    found = CliRunner().invoke(cli, ["query", "tx", report["hash"].upper(), "-o", "json"])
    shown = json.loads(found.output)
    assert shown["height"] == report["height"] and shown["receipt_id"] == 2


def test_signing_with_another_key_is_refused(
    chain_node: tuple[Node, AppRpc], tmp_path: Path
) -> None:
    _, rpc = chain_node
    unsigned = invoke(
        rpc,
        "tx",
        "use",
        f"{MODEL}@1.0",
        "--purpose",
        "research",
        "--max-fee",
        "0",
        "--from",
        "acme-ml",
        "--generate-only",
    )
    (tmp_path / "u.json").write_text(unsigned)
    done = CliRunner().invoke(
        cli,
        [
            "tx",
            "sign",
            str(tmp_path / "u.json"),
            "--from",
            "northwind-researcher",
            "--keyring",
            str(rpc.keyring.directory),
        ],
    )
    assert done.exit_code == 2 and "to be signed by" in done.output


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"type": "modelgov/signed-tx"}', '{"type": "other"}']
)
def test_a_file_that_is_not_an_unsigned_tx_is_a_usage_error(
    chain_node: tuple[Node, AppRpc], tmp_path: Path, content: str
) -> None:
    _, rpc = chain_node
    (tmp_path / "f.json").write_text(content)
    done = CliRunner().invoke(
        cli,
        [
            "tx",
            "sign",
            str(tmp_path / "f.json"),
            "--from",
            "acme-ml",
            "--keyring",
            str(rpc.keyring.directory),
        ],
    )
    assert done.exit_code == 2, done.output


def test_offline_signing_needs_a_chain_id(chain_node: tuple[Node, AppRpc], tmp_path: Path) -> None:
    _, rpc = chain_node
    unsigned = invoke(
        rpc,
        "tx",
        "credits",
        "transfer",
        "--to",
        "northwind-uni",
        "--amount",
        "1",
        "--from",
        "acme-admin",
        "--generate-only",
    )
    (tmp_path / "u.json").write_text(unsigned)
    refused = CliRunner().invoke(
        cli,
        [
            "tx",
            "sign",
            str(tmp_path / "u.json"),
            "--from",
            "acme-admin",
            "--nonce",
            "0",
            "--keyring",
            str(rpc.keyring.directory),
        ],
    )
    assert refused.exit_code == 2 and "--chain-id" in refused.output
    offline = invoke(
        rpc,
        "tx",
        "sign",
        str(tmp_path / "u.json"),
        "--from",
        "acme-admin",
        "--nonce",
        "0",
        "--chain-id",
        "modelgov-inprocess",
    )
    assert json.loads(offline)["type"] == "modelgov/signed-tx"


def test_query_tx_of_an_unknown_hash_is_not_found(chain_node: tuple[Node, AppRpc]) -> None:
    done = CliRunner().invoke(cli, ["query", "tx", "ab" * 32])
    assert done.exit_code == 1 and "no committed tx" in str(done.exception)
    bad = CliRunner().invoke(cli, ["query", "tx", "xyz"])
    assert bad.exit_code == 1 and "not a hex" in str(bad.exception)
