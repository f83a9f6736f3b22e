"""``import modelgov``: a Client from a node URL and a key name, references in the one grammar
(ORG/NAME or bare NAME, @VERSION, @ALIAS, @latest), readable records, push in one transaction,
use returning its receipt. Runs against the real app in this process (tests/chain/appnode.py);
pulls and loads through real stores are in tests/integration/test_userside_network.py."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from appnode import MODEL, AppRpc, populated

import chain.client
import modelgov
from chain.weights import client as weights


@pytest.fixture
def chain_node(tmp_path: Path) -> Iterator[AppRpc]:
    (tmp_path / "chain").mkdir()
    _, rpc = populated(tmp_path / "chain")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain.client, "RpcClient", lambda url, *a, **k: rpc)
        yield rpc
    rpc.close()


def client(rpc: AppRpc, key: str = "northwind-researcher", **kw: Any) -> modelgov.Client:
    return modelgov.Client("http://node:26657", key, keyring=rpc.keyring.directory, **kw)


REFS = [
    (f"{MODEL}@1.0", "1.0"),
    ("mlp@1.0", "1.0"),  # a bare NAME is the key's organisation's
    ("mlp@stable", "1.0"),  # an alias
    ("mlp@latest", "1.2"),  # the newest active version (populate_datasets publishes 1.2)
]


@pytest.mark.parametrize(("ref", "version"), REFS)
def test_references_resolve_in_one_grammar(chain_node: AppRpc, ref: str, version: str) -> None:
    found = client(chain_node).resolve(ref)
    assert (found.model, found.version) == (MODEL, version)
    assert found.ref == f"{MODEL}@{version}"


@pytest.mark.parametrize("ref", ["mlp", "@1.0", "mlp@"])
def test_a_malformed_reference_is_a_value_error(chain_node: AppRpc, ref: str) -> None:
    with pytest.raises(ValueError, match="MODEL@VERSION"):
        client(chain_node).resolve(ref)


def test_an_unknown_version_is_not_found(chain_node: AppRpc) -> None:
    with pytest.raises(modelgov.ClientError) as missing:
        client(chain_node).resolve("mlp@9.9")
    assert missing.value.not_found


def test_records_print_readably(chain_node: AppRpc) -> None:
    shown = str(client(chain_node).resolve("mlp@1.0"))
    assert "ref:" in shown and f"{MODEL}@1.0" in shown
    assert "status:" in shown and "active" in shown and "VERSION_STATUS" not in shown
    assert "Z" in shown.split("time:")[1].splitlines()[0], "an RFC 3339 time"
    assert "\\x" not in shown and "b'" not in shown, "no raw bytes"
    model = client(chain_node).model("mlp")
    assert model.id == MODEL and "owner_org:" in str(model)


def test_a_bare_name_without_a_key_is_refused(chain_node: AppRpc) -> None:
    anonymous = modelgov.Client("http://node:26657")
    assert anonymous.resolve(f"{MODEL}@1.0").version == "1.0"
    with pytest.raises(ValueError, match="no key"):
        anonymous.resolve("mlp@1.0")


def test_use_returns_the_receipt_with_the_quoted_fee(chain_node: AppRpc) -> None:
    acme = client(chain_node, "acme-ml")
    quoted = acme.quote(f"{MODEL}@1.0", "inference", quantity=2)
    receipt = acme.use(f"{MODEL}@stable", "inference", quantity=2)
    assert receipt.ref == f"{MODEL}@1.0" and receipt.quantity == 2
    assert quoted.allowed and receipt.fee == quoted.fee
    assert receipt.consumer_org == "acme-ai" and receipt.id > 1
    assert acme.receipt(receipt.id) == receipt
    assert len(receipt.tx_hash) == 64 and receipt.tx_hash == receipt.tx_hash.lower()
    assert receipt in acme.receipts(f"{MODEL}@1.0")


def test_a_use_of_an_unlicensed_version_is_refused_before_sending(chain_node: AppRpc) -> None:
    with pytest.raises(modelgov.ClientError):
        client(chain_node, "acme-ml").use(f"{MODEL}@1.1", "inference")


def test_push_is_one_transaction_and_warns_when_unlicensed(
    chain_node: AppRpc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    monkeypatch.setattr(weights, "push_blobs", lambda *a: None)
    monkeypatch.setenv("MODELGOV_HOME", str(tmp_path / "home"))
    source = tmp_path / "w.safetensors"
    save_file({"w": np.zeros((2, 2), dtype="float32")}, str(source))
    mg = client(chain_node, store_url="http://127.0.0.1:9")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        version = mg.push(
            source, "fresh", "1", metrics={"acc": "0.5", "n": 3, "f1": Decimal("0.25")}
        )
    assert version.metrics == {"acc": "0.5", "n": "3", "f1": "0.25"}
    assert version.model == "northwind-uni/fresh" and version.status == "active"
    assert any("no license" in str(w.message) for w in caught)
    with pytest.raises(TypeError, match="floats are not exact"):
        mg.push(source, "fresh", "2", metrics={"acc": 0.5})  # type: ignore[dict-item]


def test_the_store_is_found_from_the_chain(chain_node: AppRpc) -> None:
    mg = client(chain_node)
    assert mg.store_url() == "http://node:26662", (
        "the latest version has no provider: beside the node"
    )
    assert client(chain_node, store_url="http://given:1").store_url() == "http://given:1"


def test_deploy_license_returns_its_id_once(chain_node: AppRpc) -> None:
    mg = client(chain_node)
    source = "def authorize(ctx):\n    return allow(fee=0)\n"
    assert mg.deploy_license("free", source) == "northwind-uni/free"
    assert mg.deploy_license("free", "not even a script") == "northwind-uni/free"
    assert mg.node.license("northwind-uni/free").source == source
