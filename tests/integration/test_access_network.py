"""Weights go only where the ledger allows, tried as another member would attack it, on a real
two-node testnet: squatting a digest, reaching another org's file through a manifest, reading
after removal (and after re-admission), a revoked version, and replaying a signed request."""

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
from chain.client import ClientError, Node
from chain.keys import Key, new_private_key
from chain.weights.auth import authorization
from chain.weights.claims import claim_for_publish
from chain.weights.client import TransferError, pull, push, upload
from chain.weights.digest import ManifestEntry, build_manifest, digest_of_bytes
from chain.weights.store import BlobStore

pytestmark = pytest.mark.integration
BASE_PORT = int(os.environ.get("MODELGOV_ACCESS_TEST_PORT", "25656"))
ROOT = Path(__file__).resolve().parents[2]
OWNER = "northwind-uni"
MODEL = f"{OWNER}/guarded"
PAID = "def authorize(ctx):\n    return allow(fee=5 * ctx.quantity, note='5 a download')\n"
ADMINS = ("northwind-admin", "openhealth-admin")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("access"), 2, BASE_PORT) as testnet:
        yield testnet


def safetensors_file(path: Path, seed: int) -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": rng.standard_normal((64, 64)).astype("float32")}, str(path))
    return path


@pytest.fixture(scope="module")
def guarded(
    network: net.Testnet, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, state_pb2.Version]:
    """northwind publishes MODEL@1.0 (a file) and MODEL@dir (a directory of two files), both
    under a license that asks 5 credits a download, to node0's store."""
    work = tmp_path_factory.mktemp("guarded")
    node = Node(network.nodes[0].rpc_url)
    key = network.keyring.get("northwind-researcher")
    deploy = tx_pb2.DeployLicense(name="paid", source=PAID, params=from_data({}))
    node.send(key, [tx_pb2.Msg(deploy_license=deploy)])
    single = safetensors_file(work / "one.safetensors", 1)
    folder = work / "folder"
    safetensors_file(folder / "part-1.safetensors", 2)
    safetensors_file(folder / "secret" / "part-2.safetensors", 3)
    store = network.nodes[0].weights_url
    return {
        "1.0": push(node, key, store, single, "guarded", "1.0", f"{OWNER}/paid"),
        "dir": push(node, key, store, folder, "guarded", "dir", f"{OWNER}/paid"),
    }


def client(network: net.Testnet, index: int = 0) -> Node:
    node = Node(network.nodes[index].rpc_url)
    node.wait_for_height(Node(network.nodes[0].rpc_url).height())
    return node


def signed_get(key: Key, store: str, path: str) -> requests.Response:
    header = {"Authorization": authorization(key.private_key, "GET", path, store)}
    return requests.get(store + path, headers=header, timeout=10)


def test_naming_another_orgs_digest_is_refused_and_yields_nothing(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    node = client(network)
    acme = network.keyring.get("acme-ml")
    node.send(
        acme, [tx_pb2.Msg(register_model=tx_pb2.RegisterModel(owner_org="acme-ai", name="copy"))]
    )
    squat = tx_pb2.PublishVersion(
        model="acme-ai/copy",
        version="1",
        weights_digest=guarded["1.0"].weights_digest,
        size_bytes=guarded["1.0"].size_bytes,
        format="safetensors",
        framework="pytorch",
        storage_uris=[f"{network.nodes[0].weights_url}/v1/blobs/{guarded['1.0'].weights_digest}"],
    )
    with pytest.raises(ClientError) as refused:
        node.send(acme, [tx_pb2.Msg(publish_version=squat)])
    assert (refused.value.codespace, refused.value.code) == ("models", 17)
    assert f"held by {OWNER}" in str(refused.value)
    with pytest.raises(TransferError) as denied:
        pull(node, acme, f"{MODEL}@1.0", tmp_path / "denied")
    assert "HTTP 403" in str(denied.value) and "asks 5 credits" in str(denied.value)
    began = time.monotonic()
    direct = signed_get(
        acme, network.nodes[0].weights_url, f"/v1/blobs/{guarded['1.0'].weights_digest}"
    )
    assert direct.status_code == 403 and time.monotonic() - began < 2  # no wait for blocks


def cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """This checkout's CLI (with ``home`` as $MODELGOV_HOME, if given)."""
    run = [sys.executable, "-c", "from chain.cli.main import main; main()", *args]
    env = {**os.environ, "MODELGOV_HOME": str(home)} if home else None
    return subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


def test_the_cli_shows_and_proves_a_decision(
    network: net.Testnet, guarded: dict[str, state_pb2.Version]
) -> None:
    node = ["--node", network.nodes[1].rpc_url, "-o", "json"]
    digest = guarded["dir"].weights_digest
    owner = network.keyring.get("northwind-researcher").address
    shown = cli(
        "weights",
        "access",
        digest,
        "--address",
        owner,
        "--path",
        "part-1.safetensors",
        "--prove",
        *node,
    )
    assert shown.returncode == 0, shown.stderr
    answer = json.loads(shown.stdout)
    assert (answer["allowed"], answer["rule"], answer["proven"]) == (True, "owner", True)
    acme = network.keyring.get("acme-ml").address
    refused = cli("weights", "access", digest, "--address", acme, "--prove", *node)
    assert refused.returncode == 1 and json.loads(refused.stdout)["proven"] is True
    held = json.loads(cli("weights", "holder", digest, *node).stdout)
    assert held["org"] == OWNER and len(held["files"]) == 2


def test_a_manifest_cannot_reach_another_orgs_file(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    node = client(network)
    acme = network.keyring.get("acme-ml")
    store = network.nodes[0].weights_url
    files = node.manifest_files(guarded["dir"].weights_digest)
    assert [f.path for f in files] == ["part-1.safetensors", "secret/part-2.safetensors"]
    target = files[1]
    own = b"acme's own bytes"
    entries = [
        ManifestEntry("mine.bin", len(own), hashlib.sha256(own).hexdigest()),
        ManifestEntry("stolen.bin", target.size, target.digest.removeprefix("sha256:")),
    ]
    manifest = build_manifest(entries)
    crafted = digest_of_bytes(manifest)
    upload(acme, store, digest_of_bytes(own), own, "acme-ai/copy")
    upload(acme, store, crafted, manifest, "acme-ai/copy")  # acme may store its own blobs
    listed = tx_pb2.PublishVersion(
        model="acme-ai/copy",
        version="dir",
        weights_digest=crafted,
        size_bytes=len(own) + target.size,
        format="safetensors",
        framework="pytorch",
        storage_uris=[f"{store}/v1/blobs/{crafted}"],
        files=[
            tx_pb2.ManifestFile(path=e.path, size=e.size, digest="sha256:" + e.sha256)
            for e in entries
        ],
    )
    with pytest.raises(ClientError) as refused:
        node.send(acme, [tx_pb2.Msg(publish_version=listed)])
    assert refused.value.code == 17 and target.digest in str(refused.value)
    del listed.files[:]
    listed.version = "opaque"
    node.send(acme, [tx_pb2.Msg(publish_version=listed)])  # an opaque digest acme holds itself
    through = signed_get(acme, store, f"/v1/blobs/{crafted}/stolen.bin")
    assert through.status_code == 404 and "lists no file" in through.json()["reason"]
    by_hash = signed_get(acme, store, f"/v1/blobs/{target.digest}")
    assert by_hash.status_code == 404 and guarded["dir"].weights_digest in by_hash.json()["hint"]
    original = signed_get(acme, store, f"/v1/blobs/{guarded['dir'].weights_digest}/{target.path}")
    assert original.status_code == 403
    with pytest.raises(TransferError, match="files the chain does not list"):
        pull(node, acme, "acme-ai/copy@opaque", tmp_path / "opaque")


def test_publishing_first_bytes_one_never_held_yields_nothing(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    """northwind stored new weights and is about to publish them; acme, having seen the digest
    (in the mempool, say), publishes it first. acme then holds the digest, but northwind's
    store will not hand acme a copy that northwind uploaded."""
    node = client(network)
    owner = network.keyring.get("northwind-researcher")
    acme = network.keyring.get("acme-ml")
    store = network.nodes[0].weights_url
    fresh = safetensors_file(tmp_path / "next.safetensors", 9)
    digest = digest_of_bytes(fresh.read_bytes())
    upload(owner, store, digest, fresh, MODEL)
    front = tx_pb2.PublishVersion(
        model="acme-ai/copy",
        version="front",
        weights_digest=digest,
        size_bytes=fresh.stat().st_size,
        format="safetensors",
        framework="pytorch",
        storage_uris=[f"{store}/v1/blobs/{digest}"],
    )
    node.send(acme, [tx_pb2.Msg(publish_version=front)])
    taken = tx_pb2.PublishVersion()
    taken.CopyFrom(front)
    taken.model, taken.version = MODEL, "next"
    with pytest.raises(ClientError, match="held by acme-ai"):
        node.send(owner, [tx_pb2.Msg(publish_version=taken)])
    refused = signed_get(acme, store, f"/v1/blobs/{digest}")
    assert refused.status_code == 403 and "uploaded by 'northwind-uni'" in refused.json()["reason"]
    with pytest.raises(TransferError, match="HTTP 403"):
        pull(node, acme, "acme-ai/copy@front", tmp_path / "front")


def test_a_claimed_publication_takes_back_a_front_run_digest(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    """As above, but northwind claimed the digest a block before publishing (as push does):
    its publication reveals the older claim and takes the digest back; acme's version names
    it still, and yields nothing from any store."""
    node = client(network)
    owner = network.keyring.get("northwind-researcher")
    acme = network.keyring.get("acme-ml")
    store = network.nodes[0].weights_url
    fresh = safetensors_file(tmp_path / "claimed.safetensors", 10)
    digest = digest_of_bytes(fresh.read_bytes())
    upload(owner, store, digest, fresh, MODEL)
    salt = claim_for_publish(node, owner, OWNER, digest)
    assert len(salt) == 32
    front = tx_pb2.PublishVersion(
        model="acme-ai/copy",
        version="front-2",
        weights_digest=digest,
        size_bytes=fresh.stat().st_size,
        format="safetensors",
        framework="pytorch",
        storage_uris=[f"{store}/v1/blobs/{digest}"],
    )
    node.send(acme, [tx_pb2.Msg(publish_version=front)])
    assert (
        node.record("/models/holder", {"digest": digest}, state_pb2.DigestHolder).org == "acme-ai"
    )
    mine = tx_pb2.PublishVersion()
    mine.CopyFrom(front)
    mine.model, mine.version, mine.claim_salt = MODEL, "claimed", salt
    node.send(owner, [tx_pb2.Msg(publish_version=mine)])
    held = node.record("/models/holder", {"digest": digest}, state_pb2.DigestHolder)
    assert (held.org, held.taken_from) == (OWNER, "acme-ai") and held.claim_height > 0
    refused = signed_get(acme, store, f"/v1/blobs/{digest}")
    assert refused.status_code == 403, refused.text
    with pytest.raises(TransferError, match="HTTP 403"):
        pull(client(network, 1), acme, "acme-ai/copy@front-2", tmp_path / "front")
    again = tx_pb2.PublishVersion()
    again.CopyFrom(front)
    again.version = "front-3"
    with pytest.raises(ClientError, match=f"held by {OWNER}"):
        node.send(acme, [tx_pb2.Msg(publish_version=again)])
    back = pull(node, owner, f"{MODEL}@claimed", tmp_path / "owner")
    assert back.path.read_bytes() == fresh.read_bytes()


def test_the_cli_push_claims_first_and_keeps_no_salt(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    fresh = safetensors_file(tmp_path / "pushed.safetensors", 11)
    home = tmp_path / "home"
    common = ["--node", network.nodes[0].rpc_url, "--keyring", str(network.keyring.directory)]
    args = ["model", "push", str(fresh), "--model", "guarded", "--from", "northwind-researcher"]
    pushed = cli(*args, "--version", "cli-1", *common, "-o", "json", home=home)
    assert pushed.returncode == 0, pushed.stderr
    assert "claiming sha256:" in pushed.stderr and "claimed at height" in pushed.stderr
    assert f"publishing {MODEL}@cli-1 (publish_version, announce_provider: one transaction)..." in (
        pushed.stderr
    )
    assert "published at" in pushed.stderr
    version = json.loads(pushed.stdout)
    held = client(network).record(
        "/models/holder", {"digest": version["weights_digest"]}, state_pb2.DigestHolder
    )
    assert held.org == OWNER and 0 < held.claim_height < held.height
    assert not any(p.is_file() for p in home.rglob("*"))  # the salt is gone once published
    twice = cli(*args, "--version", "cli-2", *common, home=home)
    assert twice.returncode == 0, twice.stderr
    assert "claiming" not in twice.stderr  # northwind holds it already


def _mirror(network: net.Testnet, version: state_pb2.Version, tmp: Path) -> None:
    """northwind copies MODEL@1.0 into node1's store and announces it there."""
    node = client(network, 1)
    key = network.keyring.get("northwind-researcher")
    report = pull(node, key, f"{MODEL}@1.0", tmp)
    BlobStore(Path(network.nodes[1].home) / "weights").put_file(version.weights_digest, report.path)
    announce = tx_pb2.AnnounceProvider(
        digest=version.weights_digest, url=network.nodes[1].weights_url
    )
    node.send(key, [tx_pb2.Msg(announce_provider=announce)])


def test_a_signed_request_replays_neither_to_another_store_nor_to_its_own(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    _mirror(network, guarded["1.0"], tmp_path / "mirror")
    key = network.keyring.get("northwind-researcher")
    path = f"/v1/blobs/{guarded['1.0'].weights_digest}"
    first, second = network.nodes[0].weights_url, network.nodes[1].weights_url
    header = {
        "Authorization": authorization(key.private_key, "GET", path, first),
        "Range": "bytes=0-7",
    }
    assert requests.get(first + path, headers=header, timeout=10).status_code == 206
    elsewhere = requests.get(second + path, headers=header, timeout=10)
    assert elsewhere.status_code == 401 and "signed for store" in elsewhere.json()["reason"]
    again = requests.get(first + path, headers=header, timeout=10)
    assert again.status_code == 401 and "replayed" in again.json()["reason"]
    fresh = {
        "Authorization": authorization(key.private_key, "GET", path, second),
        "Range": "bytes=0-7",
    }
    assert requests.get(second + path, headers=fresh, timeout=10).status_code == 206


def test_a_live_store_answers_malformed_headers_with_400(
    network: net.Testnet, guarded: dict[str, state_pb2.Version]
) -> None:
    key = network.keyring.get("northwind-researcher")
    store = network.nodes[0].weights_url
    path = f"/v1/blobs/{guarded['1.0'].weights_digest}"
    for bad in ("bytes=oops", "bytes=" + "9" * 5000 + "-", "bytes=0-1,2-3"):
        header = {"Authorization": authorization(key.private_key, "GET", path, store), "Range": bad}
        assert requests.get(store + path, headers=header, timeout=10).status_code == 400
    put = f"/v1/blobs/{guarded['1.0'].weights_digest}?model={MODEL}"
    header = {
        "Authorization": authorization(key.private_key, "PUT", put, store),
        "Content-Length": "x",
    }
    assert requests.put(store + put, headers=header, data=b"", timeout=10).status_code == 400


def govern(node: Node, network: net.Testnet, action: tx_pb2.ProposalAction) -> state_pb2.Proposal:
    """northwind proposes; northwind and open-health vote yes, which decides it."""
    admins = [network.keyring.get(name) for name in ADMINS]
    submit = tx_pb2.SubmitProposal(action=action, title="access test")
    node.send(admins[0], [tx_pb2.Msg(submit_proposal=submit)])
    proposals, _ = node.page("/members/proposals", {"limit": 200}, state_pb2.Proposal)
    proposal_id = proposals[-1].id
    for admin in admins:
        ballot = tx_pb2.CastVote(proposal_id=proposal_id, option=tx_pb2.VOTE_OPTION_YES)
        node.send(admin, [tx_pb2.Msg(cast_vote=ballot)])
    found = node.record("/members/proposal", {"id": proposal_id}, state_pb2.Proposal)
    assert found.status == state_pb2.PROPOSAL_STATUS_PASSED, found.result
    for spec in network.nodes:  # every store answers from its own node: let each see it
        Node(spec.rpc_url).wait_for_height(found.decided_height)
    return found


def test_a_removed_org_gets_nothing_from_any_store_and_returns_only_with_new_accounts(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    node = client(network)
    acme = network.keyring.get("acme-ml")
    use = tx_pb2.Use(model=MODEL, version="1.0", purpose="download", quantity=1, max_fee=5)
    node.send(acme, [tx_pb2.Msg(use=use)])
    assert pull(node, acme, f"{MODEL}@1.0", tmp_path / "paid").path.exists()
    govern(node, network, tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="acme-ai")))
    for store in (network.nodes[0].weights_url, network.nodes[1].weights_url):
        refused = signed_get(acme, store, f"/v1/blobs/{guarded['1.0'].weights_digest}")
        assert refused.status_code == 403
        assert "revoked or its organisation removed" in refused.json()["reason"]
    with pytest.raises(TransferError, match="HTTP 403"):
        pull(client(network, 1), acme, f"{MODEL}@1.0", tmp_path / "after")
    with pytest.raises(ClientError):
        node.send(
            acme, [tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=OWNER, amount=1))]
        )
    newcomer = Key("acme-returning", new_private_key())
    spec = tx_pb2.AccountSpec(name=newcomer.name, pubkey=newcomer.pubkey, roles=["consumer"])
    add = tx_pb2.AddOrg(id="acme-ai", name="Acme AI Ltd.", kind="commercial", accounts=[spec])
    decided = govern(node, network, tx_pb2.ProposalAction(add_org=add))
    assert decided.result == "re-admitted acme-ai with 1 accounts"
    assert (
        signed_get(
            acme, network.nodes[1].weights_url, f"/v1/blobs/{guarded['1.0'].weights_digest}"
        ).status_code
        == 403
    )
    back = pull(client(network, 1), newcomer, f"{MODEL}@1.0", tmp_path / "returned")
    assert hashlib.sha256(back.path.read_bytes()).hexdigest() == guarded["1.0"].weights_digest[7:]


def test_a_revoked_version_gets_nothing_even_for_its_owner(
    network: net.Testnet, guarded: dict[str, state_pb2.Version], tmp_path: Path
) -> None:
    node = client(network)
    key = network.keyring.get("northwind-researcher")
    revoke = tx_pb2.SetVersionStatus(
        model=MODEL, version="dir", status=tx_pb2.VERSION_STATUS_REVOKED, reason="leaked data"
    )
    node.send(key, [tx_pb2.Msg(set_version_status=revoke)])
    with pytest.raises(TransferError, match="revoked"):
        pull(client(network, 0), key, f"{MODEL}@dir", tmp_path / "gone")
