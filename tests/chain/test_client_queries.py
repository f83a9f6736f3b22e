"""Every query path the app answers has a typed method in chain/client.py, and that method asks
its path of the real app (in this process) and decodes what it answers.

A new path in ``app.machine.QUERIES`` without a row in CALLS fails
``test_every_query_path_has_a_client_method``: give it a method of ``chain.client.Node`` and a
row here. No module of chain/ other than chain/client.py names a query path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from appnode import CLAIMED_DIGEST, FILE_DIGEST, MODEL, SALT, AppRpc, populated
from google.protobuf.message import Message

from app.machine import QUERIES
from app.models.claims import commitment
from app.pb.modelgov.v1 import federated_pb2, market_pb2, state_pb2, tx_pb2
from chain.client import ClientError, Listing, Node

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, AppRpc]]:
    node, rpc = populated(tmp_path_factory.mktemp("chain"))
    yield node, rpc
    rpc.close()


def _address(node: Node) -> str:
    rpc = node.rpc
    assert isinstance(rpc, AppRpc)
    return rpc.keyring.get("acme-ml").address


Call = Callable[[Node], Any]
CALLS: list[tuple[str, Call, type | None]] = [
    ("/members/org", lambda n: n.org("acme-ai"), state_pb2.Org),
    ("/members/orgs", lambda n: n.orgs(), state_pb2.Org),
    ("/members/account", lambda n: n.account(_address(n)), state_pb2.Account),
    ("/members/accounts", lambda n: n.accounts("acme-ai"), state_pb2.Account),
    ("/members/params", lambda n: n.params(), state_pb2.Params),
    ("/members/validators", lambda n: n.validators(), state_pb2.Validator),
    ("/members/proposal", lambda n: n.proposal(1), state_pb2.Proposal),
    ("/members/proposals", lambda n: n.proposals(), state_pb2.Proposal),
    ("/members/votes", lambda n: n.votes(1), state_pb2.Tally),
    ("/models/model", lambda n: n.model(MODEL), state_pb2.Model),
    ("/models/models", lambda n: n.models("northwind-uni"), state_pb2.Model),
    ("/models/version", lambda n: n.version(MODEL, "1.0"), state_pb2.Version),
    ("/models/versions", lambda n: n.versions(MODEL), state_pb2.Version),
    ("/models/lineage", lambda n: n.lineage(MODEL, "1.0"), state_pb2.Lineage),
    ("/models/resolve", lambda n: n.resolve(MODEL, "stable"), state_pb2.Version),
    ("/models/aliases", lambda n: n.aliases(MODEL), state_pb2.Alias),
    ("/models/by_digest", lambda n: n.by_digest(FILE_DIGEST), state_pb2.Version),
    ("/models/digests", lambda n: n.digests(), str),
    ("/genesis/records", lambda n: n.genesis_records("members"), state_pb2.StoreEntry),
    ("/models/providers", lambda n: n.providers(FILE_DIGEST), state_pb2.Provider),
    ("/models/holder", lambda n: n.holder(FILE_DIGEST), state_pb2.DigestHolder),
    (
        "/models/manifest",
        lambda n: n.manifest(n.version(MODEL, "1.1").weights_digest),
        state_pb2.Manifest,
    ),
    (
        "/models/files",
        lambda n: n.files(n.version(MODEL, "1.1").weights_digest),
        tx_pb2.ManifestFile,
    ),
    (
        "/models/claim",
        lambda n: n.claim("northwind-uni", commitment(CLAIMED_DIGEST, "northwind-uni", SALT)),
        state_pb2.DigestClaim,
    ),
    ("/models/consent", lambda n: n.consent(FILE_DIGEST, "acme-ai"), None),
    (
        "/models/read_access",
        lambda n: n.read_access(_address(n), FILE_DIGEST)[0],
        state_pb2.AccessDecision,
    ),
    (
        "/models/write_access",
        lambda n: n.write_access(_address(n), MODEL),
        state_pb2.AccessDecision,
    ),
    ("/licenses/license", lambda n: n.license("northwind-uni/open"), state_pb2.License),
    ("/licenses/licenses", lambda n: n.licenses(), state_pb2.License),
    ("/licenses/attachment", lambda n: n.attachment(MODEL, "1.0"), state_pb2.Attachment),
    ("/licenses/history", lambda n: n.history(MODEL, "1.0"), state_pb2.Attachment),
    (
        "/licenses/evaluate",
        lambda n: n.evaluate(_address(n), MODEL, "1.0", "research"),
        state_pb2.Decision,
    ),
    ("/usage/receipt", lambda n: n.receipt(1), state_pb2.Receipt),
    ("/usage/receipts", lambda n: n.receipts(model=MODEL), state_pb2.Receipt),
    ("/usage/totals", lambda n: n.totals("northwind-uni"), state_pb2.LicensorTotals),
    ("/credits/balance", lambda n: n.balance("acme-ai"), state_pb2.Balance),
    ("/credits/balances", lambda n: n.balances(), state_pb2.Balance),
    (
        "/attestations/by_version",
        lambda n: n.attestations_of_version(MODEL, "1.0"),
        federated_pb2.Attestation,
    ),
    (
        "/attestations/by_org",
        lambda n: n.attestations_by_org("open-health"),
        federated_pb2.Attestation,
    ),
    ("/federated/round", lambda n: n.round(1), federated_pb2.Round),
    ("/federated/rounds", lambda n: n.rounds(), federated_pb2.Round),
    ("/federated/contributors", lambda n: n.contributors(MODEL, "1.0"), None),
    ("/market/listing", lambda n: n.listing(MODEL), market_pb2.Listing),
    ("/market/listings", lambda n: n.listings(), market_pb2.Listing),
    ("/market/offer", lambda n: n.lease_offer(MODEL, "1.0"), market_pb2.LeaseOffer),
    ("/market/offers", lambda n: n.lease_offers(), market_pb2.LeaseOffer),
    ("/market/lease", lambda n: n.lease(1), market_pb2.Lease),
    ("/market/leases", lambda n: n.leases(org="acme-ai"), market_pb2.Lease),
    ("/datasets/datasets", lambda n: n.datasets(), state_pb2.Model),
    ("/datasets/dataset", lambda n: n.dataset("northwind-uni/corpus"), state_pb2.Model),
    ("/datasets/trained", lambda n: n.trained("northwind-uni/corpus", "1.0"), str),
    ("/datasets/receipt_binding", lambda n: n.receipt_binding(1), None),
]
"""(path, a call of its method, the type of its record or of its listing's items); None: the
record is absent in this chain (the method answers None)."""


def test_every_query_path_has_a_client_method() -> None:
    covered = [path for path, _, _ in CALLS]
    assert len(covered) == len(set(covered)), "a path is listed twice"
    missing = sorted(set(QUERIES) - set(covered))
    assert not missing, (
        f"give these paths a method of chain.client.Node and a row in CALLS: {missing}"
    )
    assert not set(covered) - set(QUERIES), "CALLS names a path the app does not answer"


@pytest.mark.parametrize(("path", "call", "kind"), CALLS, ids=[c[0] for c in CALLS])
def test_each_method_asks_its_path_and_decodes_the_answer(
    chain: tuple[Node, AppRpc], path: str, call: Call, kind: type | None
) -> None:
    node, rpc = chain
    before = len(rpc.queried)
    found = call(node)
    items = list(found) if isinstance(found, Listing) else [found]
    asked = set(rpc.queried[before:])
    assert path in asked and asked <= {path, "/models/version"}, asked
    if kind is None:
        assert items == [None]
        return
    assert items, f"{path} answered nothing"
    assert all(isinstance(item, kind) for item in items), items
    if isinstance(items[0], Message):
        assert items[0].ByteSize() > 0, f"{path} answered an empty record"


def test_a_missing_record_is_a_not_found_client_error(chain: tuple[Node, AppRpc]) -> None:
    node, _ = chain
    with pytest.raises(ClientError) as refused:
        node.model("northwind-uni/no-such-model")
    assert refused.value.not_found
    assert node.holder("sha256:" + "00" * 32) is None


def test_a_proven_version_verifies_against_the_app_hash(chain: tuple[Node, AppRpc]) -> None:
    node, _ = chain
    proven = node.proven_version(MODEL, "1.0")
    assert proven.verified and proven.record.version == "1.0" and proven.height > 0


def test_take_follows_next_and_hands_back_the_cursor_of_the_rest(
    chain: tuple[Node, AppRpc],
) -> None:
    node, _ = chain
    every = [o.id for o in node.orgs()]
    first, cursor = node.orgs().take(2)
    assert [o.id for o in first] == every[:2] and cursor == every[1]
    rest, end = node.orgs().take(10, after=cursor)
    assert [o.id for o in rest] == every[2:] and end == ""


def pages_of(items: list[int], size: int) -> Callable[[str, int], tuple[list[int], str]]:
    """A list served ``size`` items a page at most, the cursor being the last item's index."""

    def fetch(after: str, limit: int) -> tuple[list[int], str]:
        start = int(after) + 1 if after else 0
        page = items[start : start + min(size, limit)]
        end = start + len(page)
        return page, str(end - 1) if end < len(items) else ""

    return fetch


@pytest.mark.parametrize("count", [0, 1, 3, 7, 8, 20])
def test_a_listing_follows_next_across_pages(count: int) -> None:
    items = list(range(count))
    listing = Listing(pages_of(items, 3))
    assert list(listing) == items
    taken, cursor = listing.take(5)
    assert taken == items[:5]
    assert cursor == ("" if count <= 5 else "4")
    if cursor:
        assert list(Listing(pages_of(items, 3)).take(100, after=cursor)[0]) == items[5:]


def test_a_node_that_repeats_its_cursor_is_refused_not_followed_forever() -> None:
    def stuck(after: str, limit: int) -> tuple[list[int], str]:
        return [1], "same"

    listing = Listing(stuck)
    with pytest.raises(ClientError, match="cursor"):
        list(listing)
    with pytest.raises(ClientError, match="cursor"):
        listing.take(1000)


DOMAINS = "|".join(sorted({path.split("/")[1] for path in QUERIES}))
QUOTED_PATH = re.compile(r"""["'](/(?:""" + DOMAINS + r""")/[a-z_]+)["']""")


def test_no_module_of_chain_but_the_client_names_a_query_path() -> None:
    offenders = []
    for source in sorted((ROOT / "chain").rglob("*.py")):
        if source == ROOT / "chain" / "client.py":
            continue
        for match in QUOTED_PATH.finditer(source.read_text()):
            if match.group(1) in QUERIES:
                offenders.append(f"{source.relative_to(ROOT)}: {match.group(1)}")
    assert not offenders, "use the typed method of chain.client.Node: " + ", ".join(offenders)
