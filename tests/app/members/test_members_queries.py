"""Queries of the consortium: organisations, accounts and parameters as genesis wrote them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driver import Driver, started

from app.members.keeper import DEFAULT_PARAMS
from app.pb.modelgov.v1 import state_pb2


def _page(d: Driver, path: str, params: dict[str, Any]) -> state_pb2.Page:
    response = d.query(path, params)
    assert response.code == 0, response.log
    return state_pb2.Page.FromString(response.value)


def test_org(chain: Driver) -> None:
    response = chain.query("/members/org", {"id": "acme"})
    assert response.code == 0
    org = state_pb2.Org.FromString(response.value)
    assert (org.id, org.name, org.kind) == ("acme", "Acme Corp", "commercial")
    assert list(org.attributes) == [state_pb2.Attribute(key="tier", int_value=2)]


def test_orgs_in_id_order_with_pages(chain: Driver) -> None:
    ids = [state_pb2.Org.FromString(i).id for i in _page(chain, "/members/orgs", {}).items]
    assert ids == ["acme", "openml", "uni"]
    first = _page(chain, "/members/orgs", {"limit": 2})
    assert ([state_pb2.Org.FromString(i).id for i in first.items], first.next) == (
        ["acme", "openml"],
        "openml",
    )
    rest = _page(chain, "/members/orgs", {"limit": 2, "after": first.next})
    assert ([state_pb2.Org.FromString(i).id for i in rest.items], rest.next) == (["uni"], "")


def test_account(chain: Driver) -> None:
    acct = chain["uni-admin"]
    response = chain.query("/members/account", {"address": acct.address})
    assert response.code == 0
    account = state_pb2.Account.FromString(response.value)
    assert account == state_pb2.Account(
        address=acct.address,
        pubkey=acct.pubkey,
        org="uni",
        roles=["admin", "publisher"],
        nonce=0,
        name="uni-admin",
    )


def test_accounts_of_an_org(chain: Driver) -> None:
    expected = sorted(a.address for a in chain.accounts.values() if a.org == "acme")
    page = _page(chain, "/members/accounts", {"org": "acme"})
    assert [state_pb2.Account.FromString(i).address for i in page.items] == expected
    first = _page(chain, "/members/accounts", {"org": "acme", "limit": 1})
    assert first.next == expected[0]
    rest = _page(chain, "/members/accounts", {"org": "acme", "after": first.next})
    assert [state_pb2.Account.FromString(i).address for i in rest.items] == expected[1:]
    assert list(_page(chain, "/members/accounts", {"org": "nobody"}).items) == []


def test_params_default_and_overridden(chain: Driver, tmp_path: Path) -> None:
    response = chain.query("/members/params", {})
    assert state_pb2.Params.FromString(response.value) == DEFAULT_PARAMS
    other = started(tmp_path / "other", params={"max_tx_bytes": 10_000, "max_messages_per_tx": 2})
    try:
        params = state_pb2.Params.FromString(other.query("/members/params").value)
        assert (params.max_tx_bytes, params.max_messages_per_tx) == (10_000, 2)
        assert params.max_uris_per_version == DEFAULT_PARAMS.max_uris_per_version
    finally:
        other.close()
