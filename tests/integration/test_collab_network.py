"""Collaborative training through the CLI on a real testnet: a federated round among three
organisations, an attestation, and a use of the aggregate that pays every contributor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import modelgov

from chain import testnet as net

pytestmark = pytest.mark.integration
BASE_PORT = 63656
TEMPLATE = Path(__file__).resolve().parents[2] / "genesis" / "licenses" / "pay-per-use.lic"
CONTRIBUTORS = {"northwind-researcher": 600, "acme-ml": 300, "openhealth-admin": 100}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    directory: Path = tmp_path_factory.mktemp("collab")
    testnet = net.init(directory / "net", 2, base_port=BASE_PORT, timeout_commit="300ms")
    try:
        net.start(Path(testnet.directory), timeout=90)
        yield testnet
    finally:
        net.stop(Path(testnet.directory))


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
    assert round_["status"].endswith("FINALIZED")
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
