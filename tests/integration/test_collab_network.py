"""Collaborative training through the CLI on a real testnet: a federated round among three
organisations, an attestation, and a use of the aggregate that pays every contributor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import modelgov
from nets import running

from chain import testnet as net

pytestmark = pytest.mark.integration
BASE_PORT = 29656
TEMPLATE = Path(__file__).resolve().parents[2] / "genesis" / "licenses" / "pay-per-use.lic"
CONTRIBUTORS = {"northwind-researcher": 600, "acme-ml": 300, "openhealth-admin": 100}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("collab"), 2, BASE_PORT) as testnet:
        yield testnet


def run(network: net.Testnet, *args: str, sender: str = "") -> str:
    extra = ["--keyring", str(network.keyring.directory), "--from", sender] if sender else []
    done = modelgov(*args, "--node", network.nodes[0].rpc_url, *extra)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "0")


def test_a_round_among_three_orgs_pays_every_contributor(network: net.Testnet) -> None:
    owner = "northwind-researcher"
    run(network, "tx", "model", "register", "triage", "--org", "northwind-uni", sender=owner)
    run(
        network,
        "tx",
        "model",
        "publish",
        "northwind-uni/triage",
        "1.0",
        "--digest",
        digest(1),
        "--size",
        "10",
        "--format",
        "safetensors",
        sender=owner,
    )
    height = json.loads(run(network, "node", "status", "-o", "json"))["height"]
    run(
        network,
        "tx",
        "fl",
        "open",
        "--base",
        "northwind-uni/triage@1.0",
        "--target",
        "northwind-uni/triage@2.0",
        "--invite",
        "northwind-uni",
        "--invite",
        "acme-ai",
        "--invite",
        "open-health",
        "--min-participants",
        "3",
        "--deadline-height",
        str(height + 200),
        sender=owner,
    )
    for i, (sender, samples) in enumerate(CONTRIBUTORS.items(), start=10):
        run(
            network,
            "tx",
            "fl",
            "submit",
            "1",
            "--digest",
            digest(i),
            "--size",
            "10",
            "--samples",
            str(samples),
            "--metric",
            "loss=0.25",
            sender=sender,
        )
    run(
        network,
        "tx",
        "fl",
        "finalize",
        "1",
        "--digest",
        digest(99),
        "--size",
        "10",
        "--include",
        "northwind-uni",
        "--include",
        "acme-ai",
        "--include",
        "open-health",
        sender=owner,
    )
    round_ = json.loads(run(network, "query", "round", "1", "-o", "json"))
    assert round_["status"] == "finalized"
    lineage = json.loads(run(network, "query", "lineage", "northwind-uni/triage@2.0", "-o", "json"))
    assert "northwind-uni/triage@1.0" in lineage["ancestors"]
    assert len([a for a in lineage["ancestors"] if "-update-" in a]) == 3

    run(
        network,
        "tx",
        "license",
        "deploy",
        "triage-ppu",
        str(TEMPLATE),
        "--params",
        '{"tiers": [[null, 10]]}',
        sender=owner,
    )
    run(
        network,
        "tx",
        "license",
        "attach",
        "northwind-uni/triage@2.0",
        "northwind-uni/triage-ppu",
        sender=owner,
    )
    before = json.loads(run(network, "query", "balance", "-o", "json"))["balances"]
    run(
        network,
        "tx",
        "use",
        "northwind-uni/triage@2.0",
        "--purpose",
        "inference",
        "--quantity",
        "10",
        "--max-fee",
        "100",
        sender="openhealth-auditor",
    )
    after = json.loads(run(network, "query", "balance", "-o", "json"))["balances"]
    change = {b["org"]: b["amount"] for b in after}
    for b in before:
        change[b["org"]] -= b["amount"]
    assert change == {"northwind-uni": 60, "acme-ai": 30, "open-health": -100 + 10}
    assert sum(b["amount"] for b in after) == sum(b["amount"] for b in before)


def test_an_auditor_attests_and_anyone_reads_it(network: net.Testnet) -> None:
    run(
        network,
        "tx",
        "attest",
        "northwind-uni/triage@1.0",
        "--kind",
        "evaluation",
        "--dataset-digest",
        digest(7),
        "--metric",
        "auroc=0.912",
        "--method",
        "held-out split",
        sender="openhealth-auditor",
    )
    found = json.loads(
        run(network, "query", "attestations", "--version", "northwind-uni/triage@1.0", "-o", "json")
    )["attestations"]
    assert found[-1]["org"] == "open-health" and found[-1]["kind"] == "evaluation"
    by_org = json.loads(
        run(network, "query", "attestations", "--org", "open-health", "-o", "json")
    )["attestations"]
    assert by_org


def test_three_orgs_train_aggregate_and_another_member_verifies(
    network: net.Testnet, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from app.pb.modelgov.v1 import tx_pb2
    from chain.client import Node
    from chain.weights import tiny_model
    from chain.weights.client import push, upload
    from chain.weights.digest import hash_path
    from chain.weights.torch_io import save_state_dict

    client = Node(network.nodes[0].rpc_url)
    stores = {
        "northwind-uni": network.nodes[0],
        "acme-ai": network.nodes[1],
        "open-health": network.nodes[0],
    }
    owner = network.keyring.get("northwind-researcher")
    base = tmp_path / "base.safetensors"
    save_state_dict(tiny_model.train(seed=0, steps=10), base)
    push(client, owner, network.nodes[0].weights_url, base, "circle-fl", "1.0")
    round_id = 2
    open_round = tx_pb2.OpenRound(
        base_model="northwind-uni/circle-fl",
        base_version="1.0",
        target_model="northwind-uni/circle-fl",
        target_version="2.0",
        invited_orgs=sorted(stores),
        min_participants=3,
        deadline_height=client.height() + 300,
    )
    client.send(owner, [tx_pb2.Msg(open_round=open_round)])
    for seed, (name, samples) in enumerate(CONTRIBUTORS.items(), start=1):
        key = network.keyring.get(name)
        org = client.account(key.address).org
        update = tmp_path / f"{org}.safetensors"
        save_state_dict(tiny_model.train(seed=seed, samples=samples, steps=50), update)
        hashed = hash_path(update)
        store = stores[org].weights_url
        upload(key, store, hashed.digest, update, "northwind-uni/circle-fl")
        submit = tx_pb2.SubmitUpdate(
            round_id=round_id,
            update_digest=hashed.digest,
            size_bytes=hashed.size,
            sample_count=samples,
        )
        client.send(key, [tx_pb2.Msg(submit_update=submit)])
        announce = tx_pb2.AnnounceProvider(digest=hashed.digest, url=store)
        client.send(key, [tx_pb2.Msg(announce_provider=announce)])
    aggregate = tmp_path / "aggregate.safetensors"
    made = json.loads(
        run(
            network,
            "fl",
            "aggregate",
            str(round_id),
            "--to",
            str(aggregate),
            "-o",
            "json",
            sender="northwind-researcher",
        )
    )
    hashed = hash_path(aggregate)
    assert made["digest"] == hashed.digest and sorted(made["orgs"]) == sorted(stores)
    upload(owner, network.nodes[0].weights_url, hashed.digest, aggregate, "northwind-uni/circle-fl")
    run(
        network,
        "tx",
        "fl",
        "finalize",
        str(round_id),
        "--digest",
        hashed.digest,
        "--size",
        str(hashed.size),
        *[f"--include={org}" for org in sorted(stores)],
        sender="northwind-researcher",
    )
    checked = json.loads(
        run(network, "fl", "verify", str(round_id), "-o", "json", sender="acme-ml")
    )
    assert checked["match"] is True and checked["finalized"] == hashed.digest
