"""``model push`` publishes a complete version in ONE transaction (register if needed, publish,
announce), after checking everything the chain would refuse before a byte is uploaded.

Runs against the real app in this process (tests/chain/appnode.py); the upload itself is
replaced by a recorder, so a refusal that came after an upload would show in ``uploads``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appnode import MODEL, AppRpc, populated

from app.pb.modelgov.v1 import tx_pb2
from chain.cli.options import parse_metric
from chain.client import ClientError, Node
from chain.weights import client as weights
from chain.weights.digest import WeightsError

STORE = "http://127.0.0.1:9"


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Node, AppRpc]]:
    (tmp_path / "chain").mkdir()
    node, rpc = populated(tmp_path / "chain")
    yield node, rpc
    rpc.close()


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The digests push would have uploaded (the store is not running)."""
    seen: list[str] = []

    def record(key: Any, store_url: str, hashed: Any, source: Path, model: str) -> None:
        seen.append(hashed.digest)

    monkeypatch.setattr(weights, "push_blobs", record)
    return seen


def weights_dir(tmp_path: Path, card: str = "# tiny\n") -> Path:
    """A folder of safetensors weights with a README.md (its model card)."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "tiny"
    folder.mkdir()
    save_file({"w": np.arange(6, dtype="float32").reshape(2, 3)}, str(folder / "model.safetensors"))
    if card:
        (folder / "README.md").write_text(card)
    return folder


def test_one_transaction_registers_publishes_and_announces(
    chain: tuple[Node, AppRpc], uploads: list[str], tmp_path: Path
) -> None:
    node, rpc = chain
    key = rpc.keyring.get("northwind-researcher")
    folder = weights_dir(tmp_path)
    said: list[str] = []
    version = weights.push(
        node,
        key,
        STORE,
        folder,
        "tiny",
        "1.0",
        license_id="northwind-uni/open",
        metrics=(parse_metric("accuracy=0.913"),),
        description="a tiny test model",
        say=said.append,
    )
    assert version.model == "northwind-uni/tiny" and uploads == [version.weights_digest]
    assert version.description == "a tiny test model" and version.license == "northwind-uni/open"
    assert (version.metrics[0].int_value, version.metrics[0].scale) == (913, 3)
    assert version.model_card_digest.startswith("sha256:")
    assert any(
        "register_model, publish_version, announce_provider: one transaction" in s for s in said
    ), said
    assert not any(s.startswith("warning") for s in said)
    assert node.model("northwind-uni/tiny").description == "a tiny test model"
    assert [p.url for p in node.providers(version.weights_digest)] == [STORE]
    published = [r for _, r in rpc.results.values() if r.code == 0]
    kinds = {e.type for e in published[-1].events}
    assert {"model.registered", "model.version_published", "model.provider"} <= kinds, kinds


def test_an_unlicensed_version_is_warned_about_and_a_default_license_counts(
    chain: tuple[Node, AppRpc], uploads: list[str], tmp_path: Path
) -> None:
    node, rpc = chain
    key = rpc.keyring.get("northwind-researcher")
    said: list[str] = []
    weights.push(node, key, STORE, weights_dir(tmp_path), MODEL, "2.0", say=said.append)
    assert any(s.startswith("warning:") and "no license" in s for s in said), said
    msg = tx_pb2.SetDefaultLicense(model=MODEL, license="northwind-uni/open")
    node.send(key, [tx_pb2.Msg(set_default_license=msg)])
    said.clear()
    (tmp_path / "next").mkdir()
    inherited = weights.push(
        node, key, STORE, weights_dir(tmp_path / "next", "other"), MODEL, "3.0", say=said.append
    )
    assert inherited.license == "northwind-uni/open"
    assert not any(s.startswith("warning") for s in said), said


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("bad model name", {"model": "bad name"}, "invalid_name"),
    ("bad version", {"version": "1.0\n"}, "invalid_version"),
    ("already published", {"model": MODEL, "version": "1.0"}, "already published"),
    ("another org's new model", {"model": "acme-ai/x", "version": "1"}, "of northwind-uni only"),
    ("license not deployed", {"license_id": "northwind-uni/none"}, "no license northwind-uni/none"),
    ("license not an id", {"license_id": "open"}, "not ORG/NAME"),
    ("parent missing", {"parents": (MODEL + "@9.9",)}, "parent northwind-uni/mlp@9.9"),
    ("parent malformed", {"parents": ("nope",)}, "invalid"),
    ("metric name", {"metrics": (tx_pb2.Metric(name="", int_value=1),)}, "metric"),
    ("description too long", {"description": "x" * 70_000}, "description over"),
]


@pytest.mark.parametrize(
    ("changes", "says"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_every_refusal_comes_before_a_byte_is_uploaded(
    chain: tuple[Node, AppRpc],
    uploads: list[str],
    tmp_path: Path,
    changes: dict[str, Any],
    says: str,
) -> None:
    node, rpc = chain
    key = rpc.keyring.get("northwind-researcher")
    height = rpc.height
    args: dict[str, Any] = {"model": "tiny", "version": "1.0", **changes}
    with pytest.raises((ClientError, WeightsError)) as refused:
        weights.push(node, key, STORE, weights_dir(tmp_path), **args)
    assert says in str(refused.value)
    assert uploads == [], "nothing was uploaded"
    assert not [r for at, r in rpc.results.values() if at > height], "nothing was sent"


def test_a_card_outside_the_folder_is_recorded_by_digest(
    chain: tuple[Node, AppRpc], uploads: list[str], tmp_path: Path
) -> None:
    node, rpc = chain
    card = tmp_path / "CARD.md"
    card.write_text("# the card\n")
    folder = weights_dir(tmp_path, card="")
    key = rpc.keyring.get("northwind-researcher")
    version = weights.push(node, key, STORE, folder, "carded", "1", card=card)
    assert version.model_card_digest == weights.card_of(folder, card)[1]
    with pytest.raises(WeightsError, match="not a file"):
        weights.card_of(folder, tmp_path / "missing.md")
    assert weights.card_of(folder, None) == (None, "")
