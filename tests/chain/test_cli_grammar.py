"""One grammar across the CLI: MODEL@VERSION (and @ALIAS, @latest) everywhere, ORG/NAME or a
bare NAME of the sender's organisation, key names wherever an address goes; every tx prints the
ids and amounts its events carry, in text and JSON; errors under -o json are JSON.

Runs against the real app in this process (tests/chain/appnode.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appnode import LICENSE, MODEL, AppRpc, populated
from click.testing import CliRunner, Result

import chain.client
from chain.cli.main import cli, json_wanted, main
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


def run(rpc: AppRpc, *argv: str) -> Result:
    keyring = ["--keyring", str(rpc.keyring.directory)]
    return CliRunner().invoke(cli, [*argv, *keyring])


def sender(name: str) -> list[str]:
    return ["--from", name]


def test_a_use_prints_its_receipt_id_and_fee(chain_node: tuple[Node, AppRpc]) -> None:
    node, rpc = chain_node
    done = run(
        rpc,
        "tx",
        "use",
        f"{MODEL}@stable",
        "--purpose",
        "research",
        "--max-fee",
        "0",
        *sender("acme-ml"),
        "-o",
        "json",
    )
    assert done.exit_code == 0, (done.output, done.exception)
    data = json.loads(done.output)
    assert data["receipt_id"] == 2 and data["fee"] == 0
    assert data["hash"] == data["hash"].lower() and len(data["hash"]) == 64
    assert node.receipt(2).version == "1.0", "the alias resolved to 1.0"
    assert any(e["type"] == "usage.receipt" for e in data["events"])
    text = run(
        rpc,
        "tx",
        "use",
        f"{MODEL}@1.0",
        "--purpose",
        "research",
        "--max-fee",
        "0",
        *sender("acme-ml"),
    )
    assert text.exit_code == 0 and "receipt_id: 3" in text.output and "fee: 0" in text.output


def test_deploy_and_propose_print_their_ids(chain_node: tuple[Node, AppRpc]) -> None:
    _, rpc = chain_node
    deployed = run(
        rpc, "tx", "license", "deploy", "mine", str(LICENSE), *sender("northwind-researcher")
    )
    assert deployed.exit_code == 0, deployed.output
    assert "license_id: northwind-uni/mine" in deployed.output
    proposed = run(
        rpc,
        "tx",
        "gov",
        "propose",
        "remove-org",
        "open-health",
        "--title",
        "bye",
        *sender("northwind-admin"),
        "-o",
        "json",
    )
    assert proposed.exit_code == 0, proposed.output
    assert json.loads(proposed.output)["proposal_id"] == 2


def test_bare_names_are_the_senders_organisation(chain_node: tuple[Node, AppRpc]) -> None:
    node, rpc = chain_node
    digest = "sha256:" + "7a" * 32
    done = run(
        rpc,
        "tx",
        "model",
        "publish",
        "mlp",
        "3.0",
        "--digest",
        digest,
        "--size",
        "5",
        "--format",
        "onnx",
        "--parent",
        "mlp@1.0",
        "--no-claim",
        "--memo",
        "hello",
        *sender("northwind-researcher"),
        "-o",
        "json",
    )
    assert done.exit_code == 0, (done.output, done.exception)
    assert json.loads(done.output)["version"] == f"{MODEL}@3.0"
    assert list(node.version(MODEL, "3.0").parents) == [f"{MODEL}@1.0"]
    aliased = run(
        rpc, "tx", "model", "alias", "set", "mlp@3.0", "next", *sender("northwind-researcher")
    )
    assert aliased.exit_code == 0, aliased.output
    assert node.resolve(MODEL, "next").version == "3.0"


ADDRESSED = [
    ["query", "account", "acme-ml"],
    ["query", "evaluate", f"{MODEL}@1.0", "--address", "acme-ml", "--purpose", "research"],
    ["weights", "write-access", MODEL, "--address", "northwind-researcher"],
    ["query", "receipts", "--consumer", "acme-ml"],
    ["query", "receipts", "--model", f"{MODEL}@1.0"],
]


@pytest.mark.parametrize("argv", ADDRESSED, ids=[" ".join(a[:2]) + " " + a[-1] for a in ADDRESSED])
def test_key_names_and_refs_wherever_an_address_or_version_goes(
    chain_node: tuple[Node, AppRpc], argv: list[str]
) -> None:
    _, rpc = chain_node
    done = CliRunner().invoke(
        cli, [*argv, "-o", "json"], env={"MODELGOV_HOME": str(rpc.keyring.directory.parent)}
    )
    assert done.exit_code == 0, (done.output, done.exception)
    data: Any = json.loads(done.output)
    if "receipts" in data:
        assert [r["id"] for r in data["receipts"]] == [1]


def test_an_unknown_key_where_an_address_goes_is_a_usage_error(
    chain_node: tuple[Node, AppRpc],
) -> None:
    done = CliRunner().invoke(cli, ["query", "account", "nobody"])
    assert done.exit_code == 2 and "neither an address" in done.output


def test_errors_under_json_are_json(
    chain_node: tuple[Node, AppRpc], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _, rpc = chain_node
    argv = [
        "modelgov",
        "tx",
        "use",
        f"{MODEL}@1.1",
        "--purpose",
        "research",
        "--max-fee",
        "0",
        "--from",
        "acme-ml",
        "--keyring",
        str(rpc.keyring.directory),
        "-o",
        "json",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert (error["codespace"], error["name"]) == ("usage", "no_license")
    assert error["code"] > 0 and len(error["tx_hash"]) == 64 and "1.1" in error["message"]
    monkeypatch.setattr(sys, "argv", ["modelgov", "query", "model", "x/none", "-o", "json"])
    with pytest.raises(SystemExit):
        main()
    missing = json.loads(capsys.readouterr().out)["error"]
    assert missing["name"] == "not_found" and missing["tx_hash"] == ""


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["query", "x", "-o", "json"], True),
        (["query", "x", "--output=json"], True),
        (["query", "x", "-ojson"], True),
        (["query", "x", "-o", "text"], False),
        (["query", "x"], False),
    ],
)
def test_json_is_wanted_when_asked(argv: list[str], wanted: bool, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    assert json_wanted(argv) is wanted


def test_keys_list_shows_each_keys_org_and_roles(chain_node: tuple[Node, AppRpc]) -> None:
    _, rpc = chain_node
    done = CliRunner().invoke(
        cli, ["keys", "list", "--keyring", str(rpc.keyring.directory), "-o", "json"]
    )
    assert done.exit_code == 0, (done.output, done.exception)
    rows = {r["name"]: r for r in json.loads(done.output)["keys"]}
    assert rows["acme-ml"]["org"] == "acme-ai" and rows["acme-ml"]["roles"]
    assert rows["acme-ml"]["encrypted"] is False, "a testnet's keys are test-backend keys"


def test_keys_list_without_a_node_still_lists(tmp_path: Path) -> None:
    from chain.keys import Keyring

    Keyring(tmp_path).add("solo")
    done = CliRunner().invoke(
        cli, ["keys", "list", "--keyring", str(tmp_path), "--node", "http://127.0.0.1:9"]
    )
    assert done.exit_code == 0 and "solo" in done.output


def test_a_use_without_max_fee_pays_the_quoted_fee_and_warns_when_deprecated(
    chain_node: tuple[Node, AppRpc],
) -> None:
    node, rpc = chain_node
    from app.pb.modelgov.v1 import tx_pb2

    status = tx_pb2.SetVersionStatus(
        model=MODEL, version="1.0", status=tx_pb2.VERSION_STATUS_DEPRECATED, reason="use 1.1"
    )
    node.send(rpc.keyring.get("northwind-researcher"), [tx_pb2.Msg(set_version_status=status)])
    done = run(rpc, "tx", "use", f"{MODEL}@1.0", "--purpose", "research", *sender("acme-ml"))
    assert done.exit_code == 0, (done.output, done.exception)
    assert "warning: northwind-uni/mlp@1.0 is deprecated: use 1.1" in done.output
    assert "receipt_id: 2" in done.output and "fee: 0" in done.output
    nothing = run(
        rpc,
        "tx",
        "use",
        f"{MODEL}@1.0",
        "--purpose",
        "research",
        "--generate-only",
        *sender("acme-ml"),
    )
    assert nothing.exit_code == 2 and "--max-fee" in nothing.output


def test_a_bare_license_name_is_the_senders_organisation(chain_node: tuple[Node, AppRpc]) -> None:
    node, rpc = chain_node
    done = run(rpc, "tx", "license", "attach", "mlp@1.1", "open", *sender("northwind-researcher"))
    assert done.exit_code == 0, (done.output, done.exception)
    attached = node.attachment(MODEL, "1.1")
    assert attached is not None and attached.license == "northwind-uni/open"
