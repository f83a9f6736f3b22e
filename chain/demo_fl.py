"""The federated part of the demo tour: three organisations train on their own data, one round
aggregates them, another member verifies, and a use of the aggregate pays all three."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.weights import tiny_model
from chain.weights.client import push, upload
from chain.weights.digest import hash_path
from chain.weights.fedavg import pull_updates, write_aggregate
from chain.weights.torch_io import save_state_dict

MODEL = "northwind-uni/circle-federated"
PARTICIPANTS = (("northwind-researcher", 1200), ("acme-ml", 600), ("openhealth-admin", 200))
PAY_PER_USE = net.PROJECT_ROOT / "genesis" / "licenses" / "pay-per-use.lic"


def step(text: str) -> None:
    """Announce a step of the tour."""
    print(f"\n== {text}")


def federated_tour(testnet: net.Testnet) -> None:
    """Open a round, train and submit three updates, aggregate, finalize, verify, pay."""
    client = Node(testnet.nodes[0].rpc_url)
    keys = {name: testnet.keyring.get(name) for name, _ in PARTICIPANTS}
    owner = keys["northwind-researcher"]
    with tempfile.TemporaryDirectory(prefix="modelgov-fl-demo-") as tmp:
        work = Path(tmp)
        step(f"northwind-uni opens a federated round on {MODEL}@1.0 for three organisations")
        base = work / "base.safetensors"
        save_state_dict(tiny_model.train(seed=0, steps=10), base)
        push(client, owner, testnet.nodes[0].weights_url, base, MODEL.split("/")[1], "1.0")
        invited = sorted({client.account(k.address).org for k in keys.values()})
        open_round = tx_pb2.OpenRound(
            base_model=MODEL,
            base_version="1.0",
            target_model=MODEL,
            target_version="2.0",
            invited_orgs=invited,
            min_participants=3,
            deadline_height=client.height() + 500,
        )
        client.send(owner, [tx_pb2.Msg(open_round=open_round)])
        round_id = list(client.rounds())[-1].id

        step("each trains on its own private data and submits its update (weights stay home)")
        for i, (name, samples) in enumerate(PARTICIPANTS):
            key, node = keys[name], testnet.nodes[i % len(testnet.nodes)]
            update = work / f"{name}.safetensors"
            save_state_dict(tiny_model.train(seed=10 + i, samples=samples, steps=60), update)
            hashed = hash_path(update)
            upload(key, node.weights_url, hashed.digest, update, MODEL)
            submit = tx_pb2.SubmitUpdate(
                round_id=round_id,
                update_digest=hashed.digest,
                size_bytes=hashed.size,
                sample_count=samples,
            )
            client.send(key, [tx_pb2.Msg(submit_update=submit)])
            announce = tx_pb2.AnnounceProvider(digest=hashed.digest, url=node.weights_url)
            client.send(key, [tx_pb2.Msg(announce_provider=announce)])
            print(f"   {name}: {samples} samples, update {hashed.digest[:23]}...")

        step("northwind-uni aggregates (FedAvg by sample count) and finalizes")
        record = client.round(round_id)
        aggregate = work / "aggregate.safetensors"
        digest = write_aggregate(pull_updates(client, owner, record, work / "pulled"), aggregate)
        hashed = hash_path(aggregate)
        upload(owner, testnet.nodes[0].weights_url, digest, aggregate, MODEL)
        finalize = tx_pb2.FinalizeRound(
            round_id=round_id, aggregate_digest=digest, size_bytes=hashed.size, included=invited
        )
        client.send(owner, [tx_pb2.Msg(finalize_round=finalize)])
        print(f"   {MODEL}@2.0 = {digest[:23]}..., lineage: base + 3 updates")

        step("acme-ai recomputes the aggregate from the updates: the same digest?")
        record = client.round(round_id)
        again = write_aggregate(
            pull_updates(client, keys["acme-ml"], record, work / "acme"), work / "acme.safetensors"
        )
        print(f"   recomputed {again[:23]}...: {'match' if again == digest else 'MISMATCH'}")

        step("open-health-auditor uses the aggregate: the fee is shared by sample count")
        deploy = tx_pb2.DeployLicense(
            name="federated-ppu",
            source=PAY_PER_USE.read_text(),
            params=from_data({"tiers": [[None, 10]]}),
        )
        client.send(owner, [tx_pb2.Msg(deploy_license=deploy)])
        attach = tx_pb2.AttachLicense(
            model=MODEL, version="2.0", license="northwind-uni/federated-ppu"
        )
        client.send(owner, [tx_pb2.Msg(attach_license=attach)])
        use = tx_pb2.Use(model=MODEL, version="2.0", purpose="inference", quantity=10, max_fee=100)
        done = client.send(testnet.keyring.get("openhealth-auditor"), [tx_pb2.Msg(use=use)])
        paid = next(
            a["value"]
            for e in done.events
            if e["type"] == "usage.receipt"
            for a in e["attributes"]
            if a["key"] == "paid"
        )
        print(f"   fee 100 paid to: {paid}")
        totals = client.totals("northwind-uni")
        print(f"   northwind-uni's receipts so far: {totals.receipts}")
