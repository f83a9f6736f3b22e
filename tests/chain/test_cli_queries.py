"""Every query path has a CLI command: each command of CASES runs against the real app (in this
process, tests/chain/appnode.py), answers in text and in JSON, and asks the paths it names; the
paths of all CASES are exactly ``app.machine.QUERIES``, so a new path without a command fails.
List commands follow the chain's pages up to --limit and name the cursor of the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appnode import CLAIMED_DIGEST, DATASET, FILE_DIGEST, MODEL, SALT, AppRpc, populated
from click.testing import CliRunner, Result

import chain.client
from app.machine import QUERIES
from app.models.claims import commitment
from app.pb.modelgov.v1 import tx_pb2
from chain.cli.main import cli
from chain.client import Node


@pytest.fixture(scope="module")
def chain_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, AppRpc]]:
    """The populated in-process chain; every Node the CLI makes talks to it."""
    node, rpc = populated(tmp_path_factory.mktemp("chain"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain.client, "RpcClient", lambda url, *a, **k: rpc)
        yield node, rpc
    rpc.close()


def values(node: Node, rpc: AppRpc) -> dict[str, str]:
    """What the CASES' arguments name: addresses and digests of the populated chain."""
    return {
        "owner": rpc.keyring.get("northwind-researcher").address,
        "acme": rpc.keyring.get("acme-ml").address,
        "directory": node.version(MODEL, "1.1").weights_digest,
        "commitment": commitment(CLAIMED_DIGEST, "northwind-uni", SALT).hex(),
        "file": FILE_DIGEST,
        "model": MODEL,
    }


def run(rpc: AppRpc, node: Node, argv: list[str], *extra: str) -> tuple[Result, set[str]]:
    """Run ``modelgov ARGV EXTRA``; the result and the paths it asked."""
    args = [a.format(**values(node, rpc)) for a in argv]
    before = len(rpc.queried)
    result = CliRunner().invoke(cli, [*args, *extra])
    return result, set(rpc.queried[before:])


LIST, RECORD, ABSENT, EXPORT = "list", "record", "absent", "export"
CASES: list[tuple[list[str], set[str], str]] = [
    (["query", "org", "acme-ai"], {"/members/org"}, RECORD),
    (["query", "orgs"], {"/members/orgs"}, LIST),
    (["query", "account", "{acme}"], {"/members/account"}, RECORD),
    (["query", "accounts", "acme-ai"], {"/members/accounts"}, LIST),
    (["query", "params"], {"/members/params"}, RECORD),
    (["query", "validators"], {"/members/validators"}, LIST),
    (["query", "proposal", "1"], {"/members/proposal", "/members/votes"}, RECORD),
    (["query", "proposals"], {"/members/proposals"}, LIST),
    (["query", "votes", "1"], {"/members/votes"}, RECORD),
    (["query", "model", "{model}"], {"/models/model"}, RECORD),
    (["query", "models"], {"/models/models"}, LIST),
    (["query", "version", "{model}@1.0"], {"/models/version"}, RECORD),
    (["query", "version", "{model}@1.0", "--prove"], {"/models/version"}, RECORD),
    (["query", "versions", "{model}"], {"/models/versions"}, LIST),
    (["query", "version", "{model}@stable"], {"/models/resolve"}, RECORD),
    (["query", "version", "{model}@latest"], {"/models/resolve"}, RECORD),
    (["query", "aliases", "{model}"], {"/models/aliases"}, LIST),
    (["query", "lineage", "{model}@1.1"], {"/models/lineage"}, RECORD),
    (["query", "providers", "{file}"], {"/models/providers", "/models/by_digest"}, LIST),
    (["query", "by-digest", "{file}"], {"/models/by_digest"}, LIST),
    (["query", "digests"], {"/models/digests"}, LIST),
    (["query", "holder", "{file}"], {"/models/holder", "/models/files"}, RECORD),
    (["weights", "holder", "{directory}"], {"/models/holder", "/models/files"}, RECORD),
    (["query", "manifest", "{directory}"], {"/models/manifest", "/models/files"}, LIST),
    (["query", "claim", "northwind-uni", "{commitment}"], {"/models/claim"}, RECORD),
    (["query", "consent", "{file}", "acme-ai"], {"/models/consent"}, ABSENT),
    (["weights", "access", "{file}", "--address", "{owner}"], {"/models/read_access"}, RECORD),
    (["weights", "write-access", "{model}", "--address", "{acme}"],
     {"/models/write_access"}, RECORD),
    (["query", "license", "northwind-uni/open"], {"/licenses/license"}, RECORD),
    (["query", "licenses"], {"/licenses/licenses"}, LIST),
    (["query", "attachment", "{model}@1.0"], {"/licenses/attachment", "/licenses/history"}, LIST),
    (["query", "evaluate", "{model}@1.0", "--address", "{acme}", "--purpose", "inference"],
     {"/licenses/evaluate"}, RECORD),
    (["query", "receipt", "1"], {"/usage/receipt", "/datasets/receipt_binding"}, RECORD),
    (["query", "receipts", "--model", "{model}"], {"/usage/receipts"}, LIST),
    (["query", "totals", "northwind-uni"], {"/usage/totals"}, RECORD),
    (["query", "balance", "acme-ai"], {"/credits/balance"}, RECORD),
    (["query", "balance"], {"/credits/balances"}, LIST),
    (["query", "attestations", "--version", "{model}@1.0"], {"/attestations/by_version"}, LIST),
    (["query", "attestations", "--org", "open-health"], {"/attestations/by_org"}, LIST),
    (["query", "round", "1"], {"/federated/round"}, RECORD),
    (["query", "rounds"], {"/federated/rounds"}, LIST),
    (["query", "contributors", "{model}@1.0"], {"/federated/contributors"}, ABSENT),
    (["query", "listings"], {"/market/listings"}, LIST),
    (["query", "listings", "{model}"], {"/market/listing"}, RECORD),
    (["query", "offers"], {"/market/offers"}, LIST),
    (["query", "offers", "{model}@1.0"], {"/market/offer"}, RECORD),
    (["query", "offers", "{model}@1.1"], {"/market/offer"}, ABSENT),
    (["query", "leases", "--org", "acme-ai"], {"/market/leases"}, LIST),
    (["query", "leases", "--version", "{model}@1.0"], {"/market/leases"}, LIST),
    (["query", "lease", "1"], {"/market/lease"}, RECORD),
    (["genesis", "export"], {"/genesis/records"}, EXPORT),
    (["query", "datasets"], {"/datasets/datasets"}, LIST),
    (["query", "dataset", "northwind-uni/corpus"], {"/datasets/dataset"}, RECORD),
    (["query", "trained", "northwind-uni/corpus@1.0"], {"/datasets/trained"}, LIST),
]  # fmt: skip
"""(argv, the paths it asks, what it shows: a record, a list, or a record this chain lacks)."""


def test_every_query_path_has_a_cli_command() -> None:
    asked = set().union(*(paths for _, paths, _ in CASES))
    missing = sorted(set(QUERIES) - asked)
    assert not missing, f"give these paths a `modelgov query` command and a row in CASES: {missing}"
    assert asked <= set(QUERIES)


@pytest.mark.parametrize(("argv", "paths", "shows"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_each_command_asks_its_paths_and_answers_in_json_and_text(
    chain_node: tuple[Node, AppRpc], argv: list[str], paths: set[str], shows: str
) -> None:
    node, rpc = chain_node
    if shows == EXPORT:  # a genesis document on standard output (-o names its file there)
        done, asked = run(rpc, node, argv)
        assert paths <= asked and done.exit_code == 0, (asked, done.output, done.exception)
        assert json.loads(done.stdout)["app_state"]["members"]
        return
    done, asked = run(rpc, node, argv, "-o", "json")
    assert paths <= asked, asked
    if shows == ABSENT:
        assert done.exit_code == 1 and "not found" in str(done.exception)
        return
    assert done.exit_code == 0, (done.output, done.exception)
    data = json.loads(done.output)
    assert isinstance(data, dict) and data
    if shows == LIST:
        assert data["next"] == "", "a list the chain holds a few of is listed to its end"
        listed = [v for v in data.values() if isinstance(v, list)]
        assert listed and listed[0], f"{argv} listed nothing"
    text, _ = run(rpc, node, argv)
    assert text.exit_code == 0 and text.output.strip(), (text.output, text.exception)
    assert not text.output.lstrip().startswith("{")


def test_a_list_follows_pages_to_its_end(
    chain_node: tuple[Node, AppRpc], monkeypatch: pytest.MonkeyPatch
) -> None:
    node, rpc = chain_node
    monkeypatch.setattr(chain.client, "MAX_LIMIT", 2)
    before = len(rpc.queried)
    done, _ = run(rpc, node, ["query", "accounts", "northwind-uni", "-o", "json"])
    every = [a.address for a in node.accounts("northwind-uni")]
    assert [a["address"] for a in json.loads(done.output)["accounts"]] == every
    listed = json.loads(run(rpc, node, ["query", "orgs", "-o", "json"])[0].output)
    assert [o["id"] for o in listed["orgs"]] == ["acme-ai", "northwind-uni", "open-health"]
    assert listed["next"] == ""
    assert rpc.queried[before:].count("/members/orgs") == 2, "three orgs, two to a page"


def test_a_list_cut_at_its_limit_says_how_to_list_the_rest(chain_node: tuple[Node, AppRpc]) -> None:
    node, rpc = chain_node
    first: dict[str, Any] = json.loads(
        run(rpc, node, ["query", "orgs", "--limit", "2", "-o", "json"])[0].output
    )
    assert [o["id"] for o in first["orgs"]] == ["acme-ai", "northwind-uni"]
    assert first["next"] == "northwind-uni"
    text, _ = run(rpc, node, ["query", "orgs", "--limit", "2"])
    assert text.output.rstrip().endswith("more: run again with --after northwind-uni")
    rest = json.loads(
        run(rpc, node, ["query", "orgs", "--after", first["next"], "-o", "json"])[0].output
    )
    assert [o["id"] for o in rest["orgs"]] == ["open-health"] and rest["next"] == ""


def test_transactions_sign_send_and_show_up_in_queries(
    chain_node: tuple[Node, AppRpc], tmp_path: Path
) -> None:
    node, rpc = chain_node
    sender = ["--from", "acme-ml", "--keyring", str(rpc.keyring.directory)]
    registered = CliRunner().invoke(
        cli, ["tx", "model", "register", "clf", "--org", "acme-ai", *sender]
    )
    assert registered.exit_code == 0 and registered.output.startswith("committed at height")
    digest = "sha256:" + "5e" * 32
    publish = ["tx", "model", "publish", "acme-ai/clf", "1.0", "--digest", digest, "--size", "9"]
    published = CliRunner().invoke(
        cli,
        [*publish, "--format", "onnx", "--metric", "f1=0.8", *sender, "-o", "json"],
        env={"MODELGOV_HOME": str(tmp_path)},
    )
    assert published.exit_code == 0, (published.output, published.exception)
    assert "claim" in published.output  # claimed first, then published
    assert node.version("acme-ai/clf", "1.0").metrics[0].int_value == 8
    assert node.holder(digest) is not None


def test_a_format_the_app_does_not_know_is_a_usage_error() -> None:
    refused = CliRunner().invoke(
        cli,
        ["tx", "model", "publish", "a/b", "1", "--digest", "d", "--size", "1", "--format", "zip"],
    )
    assert refused.exit_code == 2 and "safetensors" in refused.output


def test_a_receipt_shows_the_model_it_licensed(chain_node: tuple[Node, AppRpc]) -> None:
    """``query receipt`` shows ``licensed_model``: empty for a receipt that licensed nothing
    (and never for an inference or research use), the model once a training receipt licensed
    its first model (``Node.receipt_binding`` answers the same)."""
    node, rpc = chain_node
    ml = rpc.keyring.get("acme-ml")
    use = tx_pb2.Use(model=DATASET, version="1.0", purpose="training", quantity=1)
    node.send(ml, [tx_pb2.Msg(use=use)])
    [receipt] = [r.id for r in node.receipts(DATASET, consumer_org="acme-ai")]
    shown = json.loads(run(rpc, node, ["query", "receipt", str(receipt), "-o", "json"])[0].output)
    assert (shown["purpose"], shown["licensed_model"]) == ("training", "")
    assert node.receipt_binding(receipt) is None
    trained = tx_pb2.PublishVersion(
        model="acme-ai/tuned",
        version="1",
        weights_digest="sha256:" + "7a" * 32,
        size_bytes=10,
        format="safetensors",
        framework="pytorch",
        trained_on=[DATASET + "@1.0"],
        license_receipts=[receipt],
    )
    register = tx_pb2.RegisterModel(owner_org="acme-ai", name="tuned")
    node.send(ml, [tx_pb2.Msg(register_model=register), tx_pb2.Msg(publish_version=trained)])
    assert node.receipt_binding(receipt) == "acme-ai/tuned"
    done, asked = run(rpc, node, ["query", "receipt", str(receipt), "-o", "json"])
    assert json.loads(done.output)["licensed_model"] == "acme-ai/tuned"
    assert asked == {"/usage/receipt", "/datasets/receipt_binding"}
    text, _ = run(rpc, node, ["query", "receipt", str(receipt)])
    assert "licensed_model: acme-ai/tuned" in text.output
    first = json.loads(run(rpc, node, ["query", "receipt", "1", "-o", "json"])[0].output)
    assert first["licensed_model"] == ""
