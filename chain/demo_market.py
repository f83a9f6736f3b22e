"""The market part of the demo tour: a sale, a lease that ends, a watch that sees a new version,
and a member's store that follows a model and replicates it."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.keys import Key
from chain.watch import Change, watch
from chain.weights.client import push
from chain.weights.follow import Follow, add_follow, load_status

MODEL = "northwind-uni/market-demo"
FOLLOWED = "northwind-uni/followed-demo"


def step(text: str) -> None:
    """Announce a step of the tour."""
    print(f"\n== {text}")


def market_tour(testnet: net.Testnet) -> None:
    """Sell a model, rent a version, watch a model, follow one."""
    nodes = [Node(n.rpc_url) for n in testnet.nodes]
    ring = testnet.keyring
    researcher, admin = ring.get("northwind-researcher"), ring.get("northwind-admin")
    acme_admin, acme_ml = ring.get("acme-admin"), ring.get("acme-ml")
    _setup(nodes[0], researcher)
    _sale(nodes, admin, acme_admin)
    _lease(nodes, acme_admin, admin, researcher)
    _watch(testnet, acme_ml)
    _follow(testnet, researcher)


def _msg(**kind: object) -> tx_pb2.Msg:
    return tx_pb2.Msg(**kind)  # type: ignore[arg-type]


def _setup(node: Node, researcher: Key) -> None:
    step(f"northwind-uni publishes {MODEL}@1.0 at 2 credits a unit")
    source = "def authorize(ctx):\n    return allow(fee=ctx.quantity * 2)\n"
    register = tx_pb2.RegisterModel(owner_org="northwind-uni", name="market-demo")
    deploy = tx_pb2.DeployLicense(name="two-per-unit", source=source)
    node.send(researcher, [_msg(register_model=register), _msg(deploy_license=deploy)])
    node.send(researcher, [_version(MODEL, "1.0", "northwind-uni/two-per-unit")])


def _version(model: str, version: str, license_id: str = "") -> tx_pb2.Msg:
    digest = "sha256:" + (model + version).encode().hex().ljust(64, "a")[-64:]
    body = tx_pb2.PublishVersion(
        model=model, version=version, weights_digest=digest, size_bytes=1,
        format="safetensors", framework="pytorch", license=license_id,
    )  # fmt: skip
    return _msg(publish_version=body)


def _sale(nodes: list[Node], admin: Key, acme_admin: Key) -> None:
    step("northwind-uni lists it for 5,000 credits; acme-ai buys it on another node")
    nodes[0].send(admin, [_msg(list_model=tx_pb2.ListModel(model=MODEL, price=5000))])
    print(f"   listed: {[(x.model, x.price) for x in nodes[1].listings()]}")
    done = nodes[1].send(acme_admin, [_msg(buy_model=tx_pb2.BuyModel(model=MODEL, max_price=5000))])
    nodes[2].wait_for_height(done.height)
    owner, listed = nodes[2].model(MODEL).owner_org, list(nodes[2].listings())
    print(f"   owner on node2: {owner}; listings left: {len(listed)}")


def _lease(nodes: list[Node], acme_admin: Key, admin: Key, researcher: Key) -> None:
    step("acme-ai offers 1.0 for rent; northwind-uni rents it for 3 blocks")
    offer = tx_pb2.OfferLease(
        model=MODEL, version="1.0", price_per_1000_blocks=3000, purposes=["inference"]
    )
    nodes[1].send(acme_admin, [_msg(offer_lease=offer)])
    rent = tx_pb2.LeaseVersion(
        model=MODEL, version="1.0", blocks=3, max_price=9, purposes=["inference"]
    )
    nodes[0].send(admin, [_msg(lease_version=rent)])
    [lease] = list(nodes[0].leases(org="northwind-uni"))
    print(
        f"   lease #{lease.id}: heights {lease.start_height}..{lease.end_height}, paid {lease.paid}"
    )
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="inference", quantity=5, max_fee=10)
    while True:
        used = nodes[0].send(researcher, [_msg(use=use)])
        [receipt] = list(nodes[0].receipts(model=MODEL, from_height=used.height))[-1:]
        shown = f"lease #{receipt.lease_id}" if receipt.lease_id else "no lease"
        print(f"   use at height {used.height}: fee {receipt.fee} ({shown})")
        if used.height > lease.end_height:
            break


def _watch(testnet: net.Testnet, acme_ml: Key) -> None:
    step(f"`modelgov watch {MODEL}` sees a new version and a revocation as they commit")
    seen: list[Change] = []
    subscribed = threading.Event()
    rpc = testnet.nodes[2].rpc_url
    watcher = threading.Thread(
        target=lambda: watch(rpc, MODEL, seen.append, 2, 60, subscribed.set), daemon=True
    )
    watcher.start()
    subscribed.wait(30)
    node = Node(testnet.nodes[1].rpc_url)
    node.send(acme_ml, [_version(MODEL, "2.0")])
    status = tx_pb2.SetVersionStatus(
        model=MODEL, version="1.0", status=tx_pb2.VERSION_STATUS_REVOKED, reason="superseded"
    )
    node.send(acme_ml, [_msg(set_version_status=status)])
    watcher.join(30)
    for change in seen:
        print(f"   {change.line()}")


def _follow(testnet: net.Testnet, researcher: Key) -> None:
    step(f"acme-ai's node1 store follows {FOLLOWED}; northwind-uni pushes 1.0 to node0")
    store = Path(testnet.nodes[1].home) / "weights"
    url = testnet.nodes[1].weights_url
    follow = Follow(FOLLOWED, "acme-ml", url, 0, str(testnet.keyring.directory))
    add_follow(store, follow)
    node = Node(testnet.nodes[0].rpc_url)
    free = tx_pb2.DeployLicense(
        name="free-copies", source="def authorize(ctx):\n    return allow()\n"
    )
    node.send(researcher, [_msg(deploy_license=free)])
    with tempfile.TemporaryDirectory(prefix="modelgov-demo-") as tmp:
        source = Path(tmp) / "weights.bin"
        source.write_bytes(b"followed " * 10_000)
        version = push(
            node, researcher, testnet.nodes[0].weights_url, source, FOLLOWED, "1.0",
            "northwind-uni/free-copies", fmt="other",
        )  # fmt: skip
    deadline = time.monotonic() + 60
    ref = f"{FOLLOWED}@1.0"
    while load_status(store).get(ref, {}).get("result") != "replicated":
        if time.monotonic() > deadline:
            print(f"   not replicated yet: {load_status(store).get(ref)}")
            return
        time.sleep(0.5)
    print(f"   node1's weights server: {load_status(store)[ref]['reason']}")
    providers = [p.url for p in node.providers(version.weights_digest)]
    print(f"   `modelgov query providers`: {', '.join(providers)}")
