"""Datasets on a real 4-validator testnet (issue 13): the demo's datasets chapter runs through
the engine, a model trained on licensed data pays the data's owner its royalty, and every node
agrees. Base port 13656 (the datasets helper's)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from nets import running

from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.demo_data import DATASET, MODEL, data_tour
from chain.weights.client import TransferError, pull
from chain.weights.datasets import push_dataset

pytestmark = pytest.mark.integration
BASE_PORT = 13656


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("data"), 4, BASE_PORT) as testnet:
        yield testnet


def test_the_datasets_chapter_pays_a_royalty_and_every_node_agrees(
    network: net.Testnet, capsys: pytest.CaptureFixture[str]
) -> None:
    data_tour(network)
    told = capsys.readouterr().out
    assert "refused [models/37]" in told, told
    assert "royalty 1000 bp for open-health/clinical-notes@1.0" in told, told
    nodes = [Node(n.rpc_url) for n in network.nodes]
    receipts = list(nodes[3].receipts(model=MODEL))
    assert [(p.org, p.amount) for p in receipts[-1].payees] == [
        ("acme-ai", 450),
        ("open-health", 50),
    ]
    assert [r.purpose for r in nodes[2].receipts(model=DATASET)] == ["training"]
    top = min(n.height() for n in nodes)
    hashes = {n.app_hash_at(top) for n in nodes}
    assert len(hashes) == 1


def test_a_datasets_bytes_go_through_the_gated_stores(network: net.Testnet, tmp_path: Path) -> None:
    """open-health pushes a directory dataset to node0's store; acme-ai is refused a pull until
    it holds a training receipt; northwind-uni, without one, stays refused."""
    keys = network.keyring
    health, acme, northwind = (
        keys.get(n) for n in ("openhealth-admin", "acme-ml", "northwind-researcher")
    )
    node = Node(network.nodes[0].rpc_url)
    source = tmp_path / "records"
    source.mkdir()
    (source / "a.csv").write_text("id,text\n1,fever\n")
    (source / "b.csv").write_text("id,text\n2,cough\n")
    node.send(health, [tx_pb2.Msg(register_dataset=tx_pb2.RegisterDataset(
        owner_org="open-health", name="records"))])  # fmt: skip
    pushed = push_dataset(
        node,
        health,
        network.nodes[0].weights_url,
        source,
        "records",
        "1.0",
        "csv",
        "open-health/notes-data",
    )
    assert pushed.model == "open-health/records" and pushed.weights_digest.startswith("sha256:")
    with pytest.raises(TransferError):
        pull(node, acme, "open-health/records@1.0", tmp_path / "denied")
    use = tx_pb2.Use(
        model="open-health/records", version="1.0", purpose="training", quantity=1, max_fee=40
    )
    node.send(acme, [tx_pb2.Msg(use=use)])
    report = pull(node, acme, "open-health/records@1.0", tmp_path / "paid")
    assert report.digest == pushed.weights_digest
    assert (report.path / "b.csv").read_text() == "id,text\n2,cough\n"
    with pytest.raises(TransferError):
        pull(node, northwind, "open-health/records@1.0", tmp_path / "other")


def test_the_cli_registers_pushes_trains_and_reads(network: net.Testnet, tmp_path: Path) -> None:
    """The issue's commands, in process against the real testnet."""
    from click.testing import CliRunner

    from chain.cli.main import cli

    node = ["--node", network.nodes[1].rpc_url]
    ring = ["--keyring", str(network.keyring.directory)]

    def run(*args: str, sender: str = "") -> str:
        signer = [*ring, "--from", sender] if sender else []
        done = CliRunner().invoke(cli, [*args, *node, *signer, "-o", "json"])
        assert done.exit_code == 0, (args, done.output, done.exception)
        return done.stdout

    health, acme = "openhealth-admin", "acme-ml"
    run("tx", "dataset", "register", "scans", "--org", "open-health", sender=health)
    (tmp_path / "scans.bin").write_bytes(b"\x00\x01" * 500)
    pushed = json.loads(
        run(
            "dataset",
            "push",
            str(tmp_path / "scans.bin"),
            "--dataset",
            "scans",
            "--version",
            "1",
            "--format",
            "other",
            "--license",
            "open-health/notes-data",
            "--store-url",
            network.nodes[1].weights_url,
            sender=health,
        )
    )
    assert json.loads(run("query", "dataset", "open-health/scans"))["kind"] == "dataset"
    listed = json.loads(run("query", "datasets"))["datasets"]
    assert "open-health/scans" in [d["id"] for d in listed]
    run("tx", "use", "open-health/scans@1", "--purpose", "training", "--max-fee", "40", sender=acme)
    receipts = json.loads(run("query", "receipts", "--model", "open-health/scans"))["receipts"]
    receipt = str(receipts[-1]["id"])
    pulled = run("dataset", "pull", "open-health/scans@1", "--to", str(tmp_path), sender=acme)
    assert Path(json.loads(pulled)["path"]).read_bytes() == b"\x00\x01" * 500
    run("tx", "model", "register", "scan-reader", "--org", "acme-ai", sender=acme)
    publish = [
        "tx", "model", "publish", "acme-ai/scan-reader", "1", "--digest", "sha256:" + "ab" * 32,
        "--size", "10", "--format", "safetensors", "--trained-on", "open-health/scans@1",
        "--receipt", receipt, "--license", "acme-ai/triage-ppu",
    ]  # fmt: skip
    run(*publish, sender=acme)
    trained = json.loads(run("query", "trained", "open-health/scans@1"))["trained"]
    assert trained == [{"ref": "acme-ai/scan-reader@1"}]
    lineage = json.loads(run("query", "lineage", "acme-ai/scan-reader@1"))
    assert lineage["datasets"] == ["open-health/scans@1"]
    assert pushed["weights_digest"].startswith("sha256:")
