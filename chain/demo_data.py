"""The datasets part of the demo tour: a dataset licensed for training, a model trained on it
that must be licensed first, and a use of that model that pays the data's owner a royalty."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import ClientError, Node

TEMPLATES = net.PROJECT_ROOT / "genesis" / "licenses"
DATASET = "open-health/clinical-notes"
MODEL = "acme-ai/triage-assist"


def step(text: str) -> None:
    """Announce a step of the tour."""
    print(f"\n== {text}")


def blob(seed: str) -> tuple[str, int]:
    """A stand-in digest and size for data or weights the tour names but does not move."""
    data = hashlib.sha256(seed.encode()).digest() * 1024
    return "sha256:" + hashlib.sha256(data).hexdigest(), len(data)


def deploy(name: str, template: str, params: dict[str, Any], description: str) -> tx_pb2.Msg:
    """A DeployLicense of a template of genesis/licenses/."""
    body = tx_pb2.DeployLicense(
        name=name,
        source=(TEMPLATES / f"{template}.lic").read_text(),
        params=from_data(params),
        description=description,
    )
    return tx_pb2.Msg(deploy_license=body)


def publish_model(receipts: tuple[int, ...]) -> tx_pb2.Msg:
    """acme-ai's model version trained on the dataset, under its pay-per-use license."""
    digest, size = blob(f"{MODEL}@1.0")
    body = tx_pb2.PublishVersion(
        model=MODEL,
        version="1.0",
        weights_digest=digest,
        size_bytes=size,
        format="safetensors",
        framework="pytorch",
        trained_on=[f"{DATASET}@1.0"],
        license_receipts=receipts,
        license="acme-ai/triage-ppu",
    )
    return tx_pb2.Msg(publish_version=body)


def balances(node: Node) -> dict[str, int]:
    """Every organisation's credits."""
    return {b.org: b.amount for b in node.balances()}


def data_tour(testnet: net.Testnet) -> None:
    """Publish a dataset, refuse an unlicensed training, pay, publish, and pay a royalty."""
    nodes = [Node(n.rpc_url) for n in testnet.nodes]
    keys = testnet.keyring
    health, acme, northwind = (
        keys.get(n) for n in ("openhealth-admin", "acme-ml", "northwind-researcher")
    )

    step(f"open-health publishes {DATASET} 1.0 under the data-training template")
    terms = {"price_per_use": 40, "royalty_bps": 1000}
    nodes[0].send(health, [deploy("notes-data", "data-training", terms, "40 a training, 10%")])
    digest, size = blob(f"{DATASET}@1.0")
    register = tx_pb2.RegisterDataset(
        owner_org="open-health", name="clinical-notes", description="de-identified triage notes"
    )
    publish = tx_pb2.PublishDataset(
        dataset=DATASET,
        version="1.0",
        digest=digest,
        size_bytes=size,
        format="parquet",
        license="open-health/notes-data",
    )
    nodes[0].send(
        health, [tx_pb2.Msg(register_dataset=register), tx_pb2.Msg(publish_dataset=publish)]
    )
    print(f"   datasets: {', '.join(d.id for d in nodes[0].datasets())}")

    step(f"acme-ai publishes {MODEL} 1.0 trained on it, without a training receipt: refused")
    nodes[1].send(
        acme,
        [
            tx_pb2.Msg(
                register_model=tx_pb2.RegisterModel(
                    owner_org="acme-ai", name="triage-assist", description="triage suggestions"
                )
            )
        ],
    )
    nodes[1].send(
        acme, [deploy("triage-ppu", "pay-per-use", {"tiers": [[None, 500]]}, "500 a unit")]
    )
    try:
        nodes[1].send(acme, [publish_model(())])
    except ClientError as refused:
        print(f"   refused [{refused.codespace}/{refused.code}]: {refused}")

    step("acme-ai pays for a training use of the dataset, then publishes with its receipt")
    use = tx_pb2.Use(model=DATASET, version="1.0", purpose="training", quantity=1, max_fee=40)
    done = nodes[1].send(acme, [tx_pb2.Msg(use=use)])
    receipt = list(nodes[1].receipts(model=DATASET, from_height=done.height))[-1]
    print(f"   receipt #{receipt.id}: training, fee {receipt.fee} to {receipt.licensor_org}")
    done = nodes[1].send(acme, [publish_model((receipt.id,))])
    nodes[3].wait_for_height(done.height)
    lineage = nodes[3].lineage(MODEL, "1.0")
    print(f"   {MODEL}@1.0 was trained on {', '.join(lineage.datasets)}")

    step(f"northwind-uni uses {MODEL}@1.0: open-health is paid its royalty in the same tx")
    before = balances(nodes[0])
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="inference", quantity=1, max_fee=500)
    done = nodes[2].send(northwind, [tx_pb2.Msg(use=use)])
    nodes[0].wait_for_height(done.height)
    receipt = list(nodes[0].receipts(model=MODEL, from_height=done.height))[-1]
    for payee in receipt.payees:
        owed = f" (royalty {payee.basis_points} bp for {payee.ref})" if payee.ref else ""
        print(f"   {payee.org} <- {payee.amount} credits{owed}")
    after = balances(nodes[0])
    for org in ("northwind-uni", "acme-ai", "open-health"):
        print(f"   {org}: {before[org]} -> {after[org]} credits")


def main_dir(directory: Path) -> None:
    """Run this chapter alone against the testnet in ``directory``."""
    data_tour(net.Testnet.load(directory))
