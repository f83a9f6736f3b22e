"""``python -m chain.demo --dir testnet``: a short tour of a running local testnet.

Two organisations share a model through the registry: one publishes a base model under a
license, the other pays for a fine-tune and publishes it naming the base as its parent, every
node agrees on the result, a query is proven against the app hash, and the chain refuses what
it should. Then weights move, a federated round pays its contributors, and a dataset licensed
for training earns its owner a royalty on a model trained on it (chain/demo_data.py).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.cli.output import table
from chain.client import ClientError, Node
from chain.demo_data import data_tour
from chain.demo_fl import federated_tour
from chain.demo_market import market_tour
from chain.demo_weights import weights_tour
from chain.keys import Key
from chain.weights.client import TransferError
from chain.weights.digest import WeightsError

BASE = "northwind-uni/sentiment-mini"
PAY_PER_USE = net.PROJECT_ROOT / "genesis" / "licenses" / "pay-per-use.lic"
TUNED = "acme-ai/sentiment-support"


def step(text: str) -> None:
    """Announce a step of the tour."""
    print(f"\n== {text}")


def weights(seed: str) -> tuple[str, int]:
    """Stand-in weights for the tour: a digest and a size (the weights issue stores real ones)."""
    blob = hashlib.sha256(seed.encode()).digest() * 4096
    return "sha256:" + hashlib.sha256(blob).hexdigest(), len(blob)


def publish(
    model: str, version: str, parents: tuple[str, ...], metrics: dict[str, int]
) -> tx_pb2.Msg:
    """A PublishVersion message with metrics given in thousandths."""
    digest, size = weights(f"{model}@{version}")
    return tx_pb2.Msg(
        publish_version=tx_pb2.PublishVersion(
            model=model,
            version=version,
            weights_digest=digest,
            size_bytes=size,
            format="safetensors",
            framework="pytorch",
            parents=parents,
            storage_uris=[f"modelgov://{model}/{version}"],
            metrics=[tx_pb2.Metric(name=k, int_value=v, scale=3) for k, v in metrics.items()],
        )
    )


def register(org: str, name: str, description: str) -> tx_pb2.Msg:
    """A RegisterModel message."""
    return tx_pb2.Msg(
        register_model=tx_pb2.RegisterModel(owner_org=org, name=name, description=description)
    )


def license_tour(nodes: list[Node], northwind: Key, acme: Key) -> None:
    """Northwind licenses its model per use; Acme pays through `use` and gets a receipt."""
    step(f"northwind-uni deploys a pay-per-use license and attaches it to {BASE}@1.0")
    params = {"tiers": [[1000, 3], [None, 2]], "denied_purposes": ["redistribution"]}
    deploy = tx_pb2.DeployLicense(
        name="sentiment-ppu",
        source=PAY_PER_USE.read_text(),
        params=from_data(params),
        description="3 credits a unit up to 1000 units, then 2; no redistribution",
    )
    nodes[0].send(northwind, [tx_pb2.Msg(deploy_license=deploy)])
    attach = tx_pb2.AttachLicense(model=BASE, version="1.0", license="northwind-uni/sentiment-ppu")
    nodes[0].send(northwind, [tx_pb2.Msg(attach_license=attach)])
    before = balances(nodes[1])

    step("acme-ai uses it for inference, 50 units, paying at most 200 credits (through node1)")
    use = tx_pb2.Use(model=BASE, version="1.0", purpose="inference", quantity=50, max_fee=200)
    done = nodes[1].send(acme, [tx_pb2.Msg(use=use)])
    nodes[2].wait_for_height(done.height)
    receipt = list(nodes[2].receipts(model=BASE, from_height=done.height))[-1]
    print(
        f"   receipt #{receipt.id}: {receipt.consumer_org} -> {receipt.licensor_org}, "
        f"{receipt.quantity} units, fee {receipt.fee}, license {receipt.license}"
    )
    after = balances(nodes[2])  # node2 has the use's block (waited for above)
    for org in ("acme-ai", "northwind-uni"):
        print(f"   {org}: {before[org]} -> {after[org]} credits")

    step("acme-ai asks to redistribute it: the license says no")
    redistribute = tx_pb2.Use(
        model=BASE, version="1.0", purpose="redistribution", quantity=1, max_fee=200
    )
    try:
        nodes[1].send(acme, [tx_pb2.Msg(use=redistribute)])
    except ClientError as refused:
        print(f"   refused [{refused.codespace}/{refused.code}]: {refused}")


def balances(node: Node) -> dict[str, int]:
    """Every organisation's credits."""
    return {b.org: b.amount for b in node.balances()}


def run(directory: Path) -> None:
    """The tour; raises ClientError if the chain refuses something it should accept."""
    testnet = net.Testnet.load(directory)
    nodes = [Node(n.rpc_url) for n in testnet.nodes]
    keys = testnet.keyring
    northwind, acme = keys.get("northwind-researcher"), keys.get("acme-ml")

    step(f"northwind-uni registers {BASE} and publishes 1.0 (through node0)")
    nodes[0].send(
        northwind, [register("northwind-uni", "sentiment-mini", "a small sentiment model")]
    )
    done = nodes[0].send(northwind, [publish(BASE, "1.0", (), {"accuracy": 871})])
    print(f"   committed at height {done.height}, tx {done.hash[:16]}...")

    license_tour(nodes, northwind, acme)

    step(f"acme-ai pays for a fine-tune of {BASE}@1.0 and publishes {TUNED} 1.0 (through node1)")
    fine_tune = tx_pb2.Use(model=BASE, version="1.0", purpose="fine-tune", quantity=1, max_fee=10)
    done = nodes[1].send(acme, [tx_pb2.Msg(use=fine_tune)])
    receipt = list(nodes[1].receipts(model=BASE, from_height=done.height))[-1]
    nodes[1].send(acme, [register("acme-ai", "sentiment-support", "tuned on support tickets")])
    tuned = publish(TUNED, "1.0", (f"{BASE}@1.0",), {"accuracy": 913})
    tuned.publish_version.license_receipts.append(receipt.id)
    done = nodes[1].send(acme, [tuned])
    print(f"   fine-tune receipt #{receipt.id}; committed at height {done.height}")

    step(f"lineage of {BASE}@1.0, read from node2")
    lineage = nodes[2].lineage(BASE, "1.0")
    print(f"   descendants: {', '.join(lineage.descendants)}")

    step(f"{TUNED}@1.0 read from node3 with a Merkle proof")
    proven = nodes[3].proven_version(TUNED, "1.0")
    version = proven.record
    print(f"   digest {version.weights_digest[:23]}..., parents {list(version.parents)}")
    print(f"   proof verified against the app hash of height {proven.height}: {proven.verified}")

    step("acme-ai tries to publish a version of northwind's model: refused")
    try:
        nodes[0].send(acme, [publish(BASE, "9.9", (), {})])
    except ClientError as refused:
        print(f"   refused [{refused.codespace}/{refused.code}]: {refused}")

    weights_tour(testnet)
    federated_tour(testnet)
    data_tour(testnet)
    market_tour(testnet)

    step("every node agrees")
    rows = [
        {"node": s.name, "height": s.height, "app_hash": s.app_hash[:16], "peers": s.peers}
        for s in net.status(directory)
    ]
    print(table(rows, ["node", "height", "app_hash", "peers"]))
    cli = ".venv/bin/modelgov"
    print(f"\nThe testnet keeps running; try `{cli} query models --node {nodes[0].rpc.url}`,")
    print(f"and stop it with `make stop` (or `modelgov testnet stop --dir {directory}`).")


def main(argv: list[str] | None = None) -> int:
    """Run the tour against the testnet in --dir."""
    parser = argparse.ArgumentParser(prog="python -m chain.demo", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("testnet"), help="testnet directory")
    args = parser.parse_args(argv)
    try:
        run(args.dir)
    except (ClientError, net.TestnetError, TransferError, WeightsError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
