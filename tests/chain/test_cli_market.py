"""``tx market lease`` and ``tx market buy`` pin what the user saw: terms left out are read
from the node just before signing, so a lessor who narrows the offer (or a seller who revokes
a version) in the block before the tx gets a refusal, not the user's credits. Against the real
app in this process (tests/chain/appnode.py); the counterparty's front-run is sent from
inside ``Node.send``, after the CLI read the node and before its own tx is broadcast.
``tx model publish`` and ``tx fl open`` likewise ask, unless told ``--any-terms``, that the
inputs their receipts license still carry the license those receipts were taken under."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from appnode import MODEL, AppRpc, populated
from click.testing import CliRunner, Result

import chain.client
from app.pb.modelgov.v1 import tx_pb2
from chain.cli.main import cli
from chain.client import Node, TxOutcome
from chain.keys import Key


@pytest.fixture
def chain_node(tmp_path: Path) -> Iterator[tuple[Node, AppRpc]]:
    """The populated chain (northwind-uni offers MODEL@1.0 for inference, without download,
    and lists MODEL); every Node the CLI makes talks to it."""
    node, rpc = populated(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain.client, "RpcClient", lambda url, *a, **k: rpc)
        yield node, rpc
    rpc.close()


def invoke(rpc: AppRpc, *argv: str, sender: str = "openhealth-admin") -> Result:
    keys = ["--from", sender, "--keyring", str(rpc.keyring.directory)]
    return CliRunner().invoke(cli, [*argv, *keys])


def front_run(monkeypatch: pytest.MonkeyPatch, rpc: AppRpc, msg: tx_pb2.Msg) -> None:
    """Make the owner's ``msg`` commit just before the CLI's own tx (once)."""
    real = Node.send
    pending = [msg]

    def send(self: Node, key: Key, msgs: list[tx_pb2.Msg], memo: str = "") -> TxOutcome:
        while pending:
            real(self, rpc.keyring.get("northwind-admin"), [pending.pop()])
        return real(self, key, msgs, memo)

    monkeypatch.setattr(Node, "send", send)


def offer(**terms: object) -> tx_pb2.Msg:
    base: dict[str, object] = {
        "model": MODEL,
        "version": "1.0",
        "price_per_1000_blocks": 100,
        "purposes": ["inference"],
    }
    return tx_pb2.Msg(offer_lease=tx_pb2.OfferLease(**{**base, **terms}))  # type: ignore[arg-type]


LEASE = ("tx", "market", "lease", f"{MODEL}@1.0", "--blocks", "10", "--max-price", "10")


def test_a_lease_without_terms_asks_for_those_the_offer_shows(
    chain_node: tuple[Node, AppRpc],
) -> None:
    node, rpc = chain_node
    node.send(rpc.keyring.get("northwind-admin"), [offer(download=True)])
    done = invoke(rpc, *LEASE)
    assert done.exit_code == 0, (done.output, done.exception)
    assert "for inference, with download" in done.output
    [lease] = list(node.leases(org="open-health"))
    assert (list(lease.purposes), lease.download) == (["inference"], True)


@pytest.mark.parametrize(
    ("narrowed", "given"),
    [
        (offer(purposes=["research"]), ()),
        (offer(download=False), ()),
        (offer(download=False), ("--purpose", "inference")),
        (offer(purposes=["research"], download=True), ("--download",)),
    ],
    ids=["purposes-read", "download-read", "download-read-purpose-given", "purposes-read-dl-given"],
)
def test_a_lessor_who_narrows_the_offer_after_the_cli_read_it_sells_nothing(
    chain_node: tuple[Node, AppRpc],
    monkeypatch: pytest.MonkeyPatch,
    narrowed: tx_pb2.Msg,
    given: tuple[str, ...],
) -> None:
    node, rpc = chain_node
    node.send(rpc.keyring.get("northwind-admin"), [offer(download=True)])
    before = node.balance("open-health").amount
    front_run(monkeypatch, rpc, narrowed)
    done = invoke(rpc, *LEASE, *given)
    assert done.exit_code != 0 and "terms_narrowed" in str(done.exception)
    assert node.balance("open-health").amount == before
    assert list(node.leases(org="open-health")) == []


def test_given_terms_are_sent_as_given_and_generate_only_needs_them(
    chain_node: tuple[Node, AppRpc],
) -> None:
    _, rpc = chain_node
    refused = invoke(rpc, *LEASE, "--generate-only")
    assert refused.exit_code == 2 and "--purpose" in refused.output
    refused = invoke(rpc, *LEASE, "--purpose", "inference", "--generate-only")
    assert refused.exit_code == 2
    refused = invoke(rpc, *LEASE, "--purpose", "research", "--no-download", "--generate-only")
    assert refused.exit_code == 2 and "--license" in refused.output
    given = ("--purpose", "research", "--no-download", "--license", "northwind-uni/open")
    done = invoke(rpc, *LEASE, *given, "--generate-only")
    assert done.exit_code == 0, (done.output, done.exception)
    [body] = json.loads(done.output)["readable"]
    assert body["lease_version"]["purposes"] == ["research"]
    assert body["lease_version"]["license"] == "northwind-uni/open"


def test_a_lease_of_a_version_not_on_offer_stops_before_signing(
    chain_node: tuple[Node, AppRpc],
) -> None:
    _, rpc = chain_node
    done = invoke(rpc, "tx", "market", "lease", f"{MODEL}@1.1", "--blocks", "1", "--max-price", "1")
    assert done.exit_code == 1 and "not found" in str(done.exception)


BUY = ("tx", "market", "buy", MODEL, "--max-price", "5000")


def test_a_buy_pins_the_live_versions_and_a_revocation_before_it_sells_nothing(
    chain_node: tuple[Node, AppRpc], monkeypatch: pytest.MonkeyPatch
) -> None:
    node, rpc = chain_node
    revoke = tx_pb2.SetVersionStatus(
        model=MODEL, version="1.1", status=tx_pb2.VERSION_STATUS_REVOKED, reason="pulled"
    )
    front_run(monkeypatch, rpc, tx_pb2.Msg(set_version_status=revoke))
    done = invoke(rpc, *BUY)
    assert "with its live versions: 1.0, 1.1" in done.output
    assert done.exit_code != 0 and "version_gone" in str(done.exception)
    assert node.model(MODEL).owner_org == "northwind-uni"


def test_a_buy_naming_its_versions_pins_those_only(
    chain_node: tuple[Node, AppRpc], monkeypatch: pytest.MonkeyPatch
) -> None:
    node, rpc = chain_node
    revoke = tx_pb2.SetVersionStatus(
        model=MODEL, version="1.1", status=tx_pb2.VERSION_STATUS_REVOKED, reason="pulled"
    )
    front_run(monkeypatch, rpc, tx_pb2.Msg(set_version_status=revoke))
    done = invoke(rpc, *BUY, "--version", "1.0")
    # 1.1's revocation does not refuse a buy that pins 1.0 alone: it gets past the pins and is
    # refused only because acme-ai's lease of 1.0 (the populated chain's) still runs.
    assert done.exit_code != 0 and "leased" in str(done.exception), done.output
    assert "version_gone" not in str(done.exception)
    assert node.model(MODEL).owner_org == "northwind-uni"


@pytest.mark.parametrize(
    "terms", [(), ("--purpose", "inference", "--no-download")], ids=["read", "given"]
)
def test_a_lessor_who_attaches_other_terms_after_the_cli_read_them_rents_nothing(
    chain_node: tuple[Node, AppRpc], monkeypatch: pytest.MonkeyPatch, terms: tuple[str, ...]
) -> None:
    """The lease names the license attached when the CLI read the node (market/16), whether
    the user gave the offer's terms or let the CLI read them too."""
    node, rpc = chain_node
    other = tx_pb2.DeployLicense(
        name="other", source='def authorize(ctx):\n    return deny("no")\n'
    )
    node.send(rpc.keyring.get("northwind-admin"), [tx_pb2.Msg(deploy_license=other)])
    before = node.balance("open-health").amount
    attach = tx_pb2.AttachLicense(model=MODEL, version="1.0", license="northwind-uni/other")
    front_run(monkeypatch, rpc, tx_pb2.Msg(attach_license=attach))
    done = invoke(rpc, *LEASE, *terms)
    assert "under northwind-uni/open" in done.output
    assert done.exit_code != 0 and "license_changed" in str(done.exception)
    assert node.balance("open-health").amount == before


DERIVE = {
    "publish_version": (
        "tx", "model", "publish", "open-health/ft", "1", "--digest", "sha256:" + "1" * 64,
        "--size", "1", "--format", "safetensors", "--parent", f"{MODEL}@1.0", "--receipt", "1",
    ),
    "open_round": (
        "tx", "fl", "open", "--base", f"{MODEL}@1.0", "--target", "open-health/ft@1",
        "--invite", "acme-ai",
        "--min-participants", "1", "--deadline-height", "999", "--receipt", "1",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(DERIVE))
def test_a_derivative_asks_for_its_receipts_terms_unless_told_any_terms(
    chain_node: tuple[Node, AppRpc], kind: str
) -> None:
    _, rpc = chain_node
    asked = invoke(rpc, *DERIVE[kind], "--generate-only")
    assert asked.exit_code == 0, (asked.output, asked.exception)
    [body] = json.loads(asked.output)["readable"]
    assert body[kind]["receipt_terms"] is True
    taken = invoke(rpc, *DERIVE[kind], "--any-terms", "--generate-only")
    assert taken.exit_code == 0, (taken.output, taken.exception)
    [body] = json.loads(taken.output)["readable"]
    assert not body[kind].get("receipt_terms", False)
