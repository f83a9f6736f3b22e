"""Weights across two nodes' stores on a real testnet: gated, verified, resumable, unreplayable."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from nets import running

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import testnet as net
from chain.client import Node
from chain.weights.auth import authorization
from chain.weights.client import TransferError, collect_garbage, pull, push
from chain.weights.store import BlobStore

pytestmark = pytest.mark.integration
BASE_PORT = int(os.environ.get("MODELGOV_WEIGHTS_TEST_PORT", "23656"))
ROOT = Path(__file__).resolve().parents[2]
MODEL = "northwind-uni/tiny"
LICENSE = "northwind-uni/paid-download"
PAID = """
def authorize(ctx):
    return allow(fee=5 * ctx.quantity, note="5 credits a download")
"""


def modelgov(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI of this checkout (not whichever one the environment installed)."""
    run = [sys.executable, "-c", "from chain.cli.main import main; main()", *args]
    return subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=ROOT)


def logged(log: Path, text: str, since: int = 0, timeout: float = 10.0) -> bool:
    """Whether ``text`` shows up in a node's log past byte ``since`` within ``timeout``
    seconds. A node process's output reaches its file through a log writer process of its own
    (chain/ops/logwriter.py), so a line the server wrote before it answered can land in the
    file after the client has the answer: tens of milliseconds later on a loaded machine."""
    deadline = time.monotonic() + timeout
    while text.encode() not in log.read_bytes()[since:]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def tail(log: Path, lines: int = 5) -> str:
    """The last lines of a log, for a failure message."""
    return "\n".join(log.read_text().splitlines()[-lines:])


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("weights"), 2, BASE_PORT) as testnet:
        yield testnet


@pytest.fixture(scope="module")
def pushed(network: net.Testnet, tmp_path_factory: pytest.TempPathFactory) -> state_pb2.Version:
    """northwind pushes a small safetensors file to node0 under a paid-download license."""
    import numpy as np
    from safetensors.numpy import save_file

    source = tmp_path_factory.mktemp("weights-src") / "tiny.safetensors"
    rng = np.random.default_rng(7)
    save_file({"layer.weight": rng.standard_normal((256, 256)).astype("float32")}, str(source))
    node = Node(network.nodes[0].rpc_url)
    key = network.keyring.get("northwind-researcher")
    deploy = tx_pb2.DeployLicense(name="paid-download", source=PAID, params=from_data({}))
    node.send(key, [tx_pb2.Msg(deploy_license=deploy)])
    return push(node, key, network.nodes[0].weights_url, source, "tiny", "1.0", LICENSE)


def test_push_stores_publishes_and_announces(
    network: net.Testnet, pushed: state_pb2.Version
) -> None:
    assert pushed.model == MODEL and pushed.format == "safetensors"
    assert pushed.storage_uris == [
        f"{network.nodes[0].weights_url}/v1/blobs/{pushed.weights_digest}"
    ]
    store = BlobStore(Path(network.nodes[0].home) / "weights")
    assert store.has(pushed.weights_digest)
    node = Node(network.nodes[1].rpc_url)
    node.wait_for_height(Node(network.nodes[0].rpc_url).height())
    providers, _ = node.page(
        "/models/providers", {"digest": pushed.weights_digest}, state_pb2.Provider
    )
    assert [p.url for p in providers] == [network.nodes[0].weights_url]


def test_a_pull_is_refused_without_a_receipt_and_served_after(
    network: net.Testnet, pushed: state_pb2.Version, tmp_path: Path
) -> None:
    node = Node(network.nodes[1].rpc_url)
    node.wait_for_height(Node(network.nodes[0].rpc_url).height())
    acme = network.keyring.get("acme-ml")
    with pytest.raises(TransferError) as refused:
        pull(node, acme, f"{MODEL}@1.0", tmp_path / "denied")
    message = str(refused.value)
    assert "HTTP 403" in message and "asks 5 credits" in message
    assert f"modelgov tx use {MODEL}@1.0 --purpose download --max-fee 5" in message
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="download", quantity=1, max_fee=5)
    node.send(acme, [tx_pb2.Msg(use=use)])
    report = pull(node, acme, f"{MODEL}@1.0", tmp_path / "paid")
    assert hashlib.sha256(report.path.read_bytes()).hexdigest() == pushed.weights_digest[7:]


def _mirror_to_node1(network: net.Testnet, pushed: state_pb2.Version, tmp: Path) -> int:
    """northwind copies its weights into node1's store and announces node1 as a provider."""
    node = Node(network.nodes[1].rpc_url)
    key = network.keyring.get("northwind-researcher")
    report = pull(node, key, f"{MODEL}@1.0", tmp)
    BlobStore(Path(network.nodes[1].home) / "weights").put_file(pushed.weights_digest, report.path)
    announce = tx_pb2.AnnounceProvider(
        digest=pushed.weights_digest, url=network.nodes[1].weights_url
    )
    return node.send(key, [tx_pb2.Msg(announce_provider=announce)]).height


def test_a_tampered_blob_is_discarded_and_another_provider_serves(
    network: net.Testnet, pushed: state_pb2.Version, tmp_path: Path
) -> None:
    announced = _mirror_to_node1(network, pushed, tmp_path / "mirror")
    Node(network.nodes[0].rpc_url).wait_for_height(announced)
    blob = BlobStore(Path(network.nodes[0].home) / "weights").path(pushed.weights_digest)
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    try:
        key = network.keyring.get("northwind-researcher")
        report = pull(Node(network.nodes[0].rpc_url), key, f"{MODEL}@1.0", tmp_path / "out")
    finally:
        blob.write_bytes(original)
    assert report.provider == network.nodes[1].weights_url
    assert any(network.nodes[0].weights_url in f and "discarded" in f for f in report.failures)
    assert hashlib.sha256(report.path.read_bytes()).hexdigest() == pushed.weights_digest[7:]


def test_an_interrupted_download_resumes(
    network: net.Testnet, pushed: state_pb2.Version, tmp_path: Path
) -> None:
    key = network.keyring.get("northwind-researcher")
    node = Node(network.nodes[0].rpc_url)
    whole = BlobStore(Path(network.nodes[0].home) / "weights").path(pushed.weights_digest)
    target = tmp_path / "resume" / "tiny-1.0.safetensors"
    target.parent.mkdir()
    data = whole.read_bytes()
    target.with_name(target.name + ".part").write_bytes(data[: len(data) // 2])
    logs = {n.weights_url: Path(n.home) / "logs" / "weights.log" for n in network.nodes}
    sizes = {url: log.stat().st_size for url, log in logs.items()}
    report = pull(node, key, f"{MODEL}@1.0", tmp_path / "resume")
    assert report.path == target and target.read_bytes() == data, report.failures
    log = logs[report.provider]  # the store that served the rest logged a partial answer
    assert logged(log, '" 206 ', sizes[report.provider]), f"{report.failures}; {tail(log)}"


def test_a_replayed_or_stale_signed_request_is_refused(
    network: net.Testnet, pushed: state_pb2.Version
) -> None:
    key = network.keyring.get("northwind-researcher")
    path = f"/v1/blobs/{pushed.weights_digest}"
    url = network.nodes[0].weights_url + path
    store = network.nodes[0].weights_url
    signed_first = authorization(key.private_key, "GET", path, store)
    header = {"Authorization": signed_first, "Range": "bytes=0-9"}
    assert requests.get(url, headers=header, timeout=10).status_code == 206
    replay = requests.get(url, headers=header, timeout=10)
    assert replay.status_code == 401 and "replayed" in replay.json()["reason"]
    signed = authorization(key.private_key, "GET", path, store)
    when = int(signed.split("time=")[1].split(",")[0])
    stale = signed.replace(f"time={when}", f"time={when - 3600}")
    refused = requests.get(url, headers={"Authorization": stale}, timeout=10)
    assert refused.status_code == 401 and "more than" in refused.json()["reason"]
    unsigned = requests.get(url, timeout=10)
    assert unsigned.status_code == 401 and "sign the request" in unsigned.json()["reason"]


def test_uploads_need_the_owners_publisher_and_matching_bytes(
    network: net.Testnet, pushed: state_pb2.Version
) -> None:
    base = network.nodes[0].weights_url
    data = b"not the weights"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    acme = network.keyring.get("acme-ml")
    path = f"/v1/blobs/{digest}?model={MODEL}"
    refused = requests.put(
        base + path,
        data=data,
        timeout=10,
        headers={"Authorization": authorization(acme.private_key, "PUT", path, base)},
    )
    assert (
        refused.status_code == 403
        and "only publishers of northwind-uni" in refused.json()["reason"]
    )
    owner = network.keyring.get("northwind-researcher")
    wrong = f"/v1/blobs/sha256:{'0' * 64}?model={MODEL}"
    mismatch = requests.put(
        base + wrong,
        data=data,
        timeout=10,
        headers={"Authorization": authorization(owner.private_key, "PUT", wrong, base)},
    )
    assert mismatch.status_code == 422 and "hash to" in mismatch.json()["reason"]


def test_gc_keeps_every_referenced_blob(network: net.Testnet, pushed: state_pb2.Version) -> None:
    store = BlobStore(Path(network.nodes[0].home) / "weights")
    stray = b"an upload nobody published"
    stray_digest = "sha256:" + hashlib.sha256(stray).hexdigest()
    (store.tmp / "stray").write_bytes(stray)
    store.put_file(stray_digest, store.tmp / "stray")
    store.mark_pending(pushed.weights_digest, MODEL)
    pending = store.pending_dir / pushed.weights_digest[7:]
    pending.write_text(json.dumps({"model": MODEL, "time": 0}))  # an old pending record
    node = Node(network.nodes[0].rpc_url)
    assert collect_garbage(store, node, dry_run=True) == [stray_digest]
    assert store.has(stray_digest)
    assert collect_garbage(store, node) == [stray_digest]
    assert not store.has(stray_digest) and store.has(pushed.weights_digest)


def test_the_cli_pushes_pulls_and_loads(network: net.Testnet, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from chain.weights.torch_io import save_state_dict

    folder = tmp_path / "shards"
    folder.mkdir()
    save_state_dict({"a.weight": torch.ones(4, 4)}, folder / "part-1.safetensors")
    save_state_dict({"b.weight": torch.zeros(2)}, folder / "part-2.safetensors")
    node = ["--node", network.nodes[1].rpc_url]
    keys = ["--keyring", str(network.keyring.directory)]
    pushed = modelgov(
        "model",
        "push",
        str(folder),
        "--model",
        "sharded",
        "--version",
        "1",
        *node,
        *keys,
        "--from",
        "openhealth-admin",
        "-o",
        "json",
    )
    assert pushed.returncode == 0, pushed.stderr
    version = json.loads(pushed.stdout)
    assert version["model"] == "open-health/sharded" and version["format"] == "safetensors"
    assert version["storage_uris"][0].startswith(network.nodes[1].weights_url)
    hashed = modelgov("weights", "hash", str(folder))
    assert hashed.stdout.strip() == version["weights_digest"]
    listed = json.loads(
        modelgov("query", "providers", version["weights_digest"], *node, "-o", "json").stdout
    )
    assert [p["url"] for p in listed["providers"]] == [network.nodes[1].weights_url]
    assert listed["versions"] == ["open-health/sharded@1"]
    refused = modelgov(
        "model",
        "pull",
        "open-health/sharded@1",
        "--to",
        str(tmp_path / "no"),
        *node,
        *keys,
        "--from",
        "acme-ml",
    )
    assert refused.returncode == 1 and "no license" in refused.stderr
    pulled = modelgov(
        "model",
        "pull",
        "open-health/sharded@1",
        "--to",
        str(tmp_path / "copy"),
        *node,
        *keys,
        "--from",
        "openhealth-auditor",
        "-o",
        "json",
    )
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["verified"] is True
    loaded = modelgov(
        "model", "load", str(tmp_path / "copy"), "--digest", version["weights_digest"], "-o", "json"
    )
    assert loaded.returncode == 0, loaded.stderr
    names = [t["tensor"] for t in json.loads(loaded.stdout)["tensors"]]
    assert sorted(names) == ["a.weight", "b.weight"]
