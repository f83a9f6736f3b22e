"""The weights part of the demo tour: train, push under a paid license, be refused, pay, pull,
verify, load safely, run inference."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.weights import tiny_model
from chain.weights.client import TransferError, pull, push
from chain.weights.torch_io import load_state_dict, save_state_dict

MODEL = "circle-classifier"
PAY_PER_USE = net.PROJECT_ROOT / "genesis" / "licenses" / "pay-per-use.lic"


def step(text: str) -> None:
    """Announce a step of the tour."""
    print(f"\n== {text}")


def weights_tour(testnet: net.Testnet) -> None:
    """Northwind trains and pushes; Acme is refused, pays through `use`, pulls and runs it."""
    nodes = [Node(n.rpc_url) for n in testnet.nodes]
    northwind = testnet.keyring.get("northwind-researcher")
    acme = testnet.keyring.get("acme-ml")
    ref = f"northwind-uni/{MODEL}@1.0"
    with tempfile.TemporaryDirectory(prefix="modelgov-demo-") as tmp:
        work = Path(tmp)
        step("northwind-uni trains a tiny torch model on data generated here")
        state = tiny_model.train(seed=1)
        print(f"   held-out accuracy {tiny_model.accuracy(state, seed=2):.3f}")
        source = work / "circle.safetensors"
        save_state_dict(state, source)

        step(f"northwind-uni pushes it to node0's store as {ref}, 25 credits a download")
        deploy = tx_pb2.DeployLicense(
            name="per-download",
            source=PAY_PER_USE.read_text(),
            params=from_data({"tiers": [[None, 25]]}),
        )
        nodes[0].send(northwind, [tx_pb2.Msg(deploy_license=deploy)])
        version = push(
            nodes[0],
            northwind,
            testnet.nodes[0].weights_url,
            source,
            MODEL,
            "1.0",
            "northwind-uni/per-download",
        )
        print(f"   published {version.weights_digest[:23]}..., {version.size_bytes} bytes")

        step("acme-ai pulls it without paying: refused")
        try:
            pull(nodes[1], acme, ref, work / "refused")
        except TransferError as refused:
            print("   " + str(refused).replace("\n", "\n   "))

        step("acme-ai pays for a download through `use`, then pulls and verifies")
        use = tx_pb2.Use(
            model=version.model, version="1.0", purpose="download", quantity=1, max_fee=25
        )
        done = nodes[1].send(acme, [tx_pb2.Msg(use=use)])
        receipt = list(nodes[1].receipts(model=version.model, from_height=done.height))[-1]
        print(f"   receipt #{receipt.id}: fee {receipt.fee}, purpose {receipt.purpose}")
        report = pull(nodes[1], acme, ref, work / "pulled")
        print(f"   {report.path.name}: digest verified, from {report.provider}")

        step("acme-ai loads the verified weights (no pickle) and runs inference on its own data")
        loaded = load_state_dict(report.path, version.weights_digest)
        print(f"   accuracy on acme-ai's data: {tiny_model.accuracy(loaded, seed=3):.3f}")
