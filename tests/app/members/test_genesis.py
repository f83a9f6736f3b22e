"""Genesis validation: a malformed consortium is refused naming the field and the reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from driver import app_state, default_accounts

from app.machine import parse_genesis as parse_consortium
from app.members.genesis import GenesisError
from app.members.keeper import DEFAULT_PARAMS


def _valid() -> dict[str, Any]:
    return app_state(default_accounts().values())


def test_valid_consortium_is_sorted() -> None:
    state = _valid()
    state["accounts"][0]["roles"] = ["publisher", "admin"]
    consortium = parse_consortium(state)
    assert [o.id for o in consortium.orgs] == ["acme", "openml", "uni"]
    addresses = [a.address for a in consortium.accounts]
    assert addresses == sorted(addresses)
    assert len(addresses) == 7
    assert all(a.nonce == 0 for a in consortium.accounts)
    uni_admin = next(a for a in consortium.accounts if a.name == "uni-admin")
    assert list(uni_admin.roles) == ["admin", "publisher"]
    assert consortium.params == DEFAULT_PARAMS


def test_params_override() -> None:
    state = _valid()
    state["params"] = {"max_tx_bytes": 2**20, "max_uris_per_version": 3}
    params = parse_consortium(state).params
    assert (params.max_tx_bytes, params.max_uris_per_version) == (2**20, 3)
    assert params.max_messages_per_tx == DEFAULT_PARAMS.max_messages_per_tx
    state.pop("params")
    assert parse_consortium(state).params == DEFAULT_PARAMS


Mutation = Callable[[dict[str, Any]], object]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting ``a.b[1].c`` (as keys and indexes) to ``value``."""

    def apply(state: dict[str, Any]) -> None:
        *parents, last = _split(path)
        target: Any = state
        for part in parents:
            target = target[part]
        target[last] = value

    return apply


def _drop(path: str) -> Mutation:
    def apply(state: dict[str, Any]) -> None:
        *parents, last = _split(path)
        target: Any = state
        for part in parents:
            target = target[part]
        del target[last]

    return apply


def _split(path: str) -> list[Any]:
    parts: list[Any] = []
    for piece in path.replace("]", "").replace("[", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def _duplicate_pubkey(state: dict[str, Any]) -> None:
    state["accounts"][1]["pubkey"] = state["accounts"][0]["pubkey"]


def _duplicate_org(state: dict[str, Any]) -> None:
    state["orgs"][2]["id"] = state["orgs"][0]["id"]


def _uncompressed_pubkey(state: dict[str, Any]) -> None:
    import ecdsa

    key = ecdsa.SigningKey.from_string(b"\x01" * 32, curve=ecdsa.SECP256k1)
    state["accounts"][0]["pubkey"] = key.get_verifying_key().to_string("uncompressed").hex()


MALFORMED: list[tuple[str, Mutation, str]] = [
    ("orgs-missing", _drop("orgs"), "orgs"),
    ("orgs-not-list", _set("orgs", {}), "orgs"),
    ("orgs-empty", _set("orgs", []), "orgs"),
    ("accounts-missing", _drop("accounts"), "accounts"),
    ("unknown-top-field", _set("bogus", 1), "app_state.bogus"),
    ("org-not-object", _set("orgs[1]", "acme"), "orgs[1]"),
    ("org-kind", _set("orgs[1].kind", "corporate"), "orgs[1].kind"),
    ("org-kind-missing", _drop("orgs[1].kind"), "orgs[1].kind"),
    ("org-id-upper", _set("orgs[0].id", "Uni"), "orgs[0].id"),
    ("org-id-short", _set("orgs[0].id", "u"), "orgs[0].id"),
    ("org-id-twice", _duplicate_org, "orgs[2].id"),
    ("org-name-empty", _set("orgs[0].name", ""), "orgs[0].name"),
    ("org-name-long", _set("orgs[0].name", "n" * 257), "orgs[0].name"),
    ("org-unknown-field", _set("orgs[2].website", "x"), "orgs[2].website"),
    ("org-attr-name", _set("orgs[1].attributes", {"Tier": 1}), "orgs[1].attributes.Tier"),
    ("org-attr-float", _set("orgs[1].attributes", {"tier": 1.5}), "orgs[1].attributes.tier"),
    ("org-attr-bool", _set("orgs[1].attributes", {"tier": True}), "orgs[1].attributes.tier"),
    ("org-attr-big", _set("orgs[1].attributes", {"tier": 2**63}), "orgs[1].attributes.tier"),
    ("org-attr-text", _set("orgs[1].attributes", {"tier": "t" * 257}), "orgs[1].attributes.tier"),
    ("org-attrs-list", _set("orgs[1].attributes", []), "orgs[1].attributes"),
    ("account-not-object", _set("accounts[0]", []), "accounts[0]"),
    ("account-pubkey-hex", _set("accounts[0].pubkey", "zz"), "accounts[0].pubkey"),
    ("account-pubkey-short", _set("accounts[0].pubkey", "02" + "11" * 31), "accounts[0].pubkey"),
    ("account-pubkey-uncompressed", _uncompressed_pubkey, "accounts[0].pubkey"),
    ("account-pubkey-twice", _duplicate_pubkey, "accounts[1].pubkey"),
    ("account-pubkey-missing", _drop("accounts[0].pubkey"), "accounts[0].pubkey"),
    ("account-roles-empty", _set("accounts[2].roles", []), "accounts[2].roles"),
    ("account-roles-missing", _drop("accounts[2].roles"), "accounts[2].roles"),
    ("account-roles-unknown", _set("accounts[2].roles", ["root"]), "accounts[2].roles"),
    ("account-roles-twice", _set("accounts[2].roles", ["admin", "admin"]), "accounts[2].roles"),
    ("account-roles-text", _set("accounts[2].roles", "admin"), "accounts[2].roles"),
    ("account-org", _set("accounts[1].org", "nobody"), "accounts[1].org"),
    ("account-name", _set("accounts[1].name", "-x"), "accounts[1].name"),
    ("account-unknown-field", _set("accounts[0].balance", 5), "accounts[0].balance"),
    ("account-nonce-negative", _set("accounts[0].nonce", -1), "accounts[0].nonce"),
    ("account-nonce-over-u64", _set("accounts[0].nonce", 2**64), "accounts[0].nonce"),
    ("account-nonce-bool", _set("accounts[0].nonce", True), "accounts[0].nonce"),
    ("account-nonce-text", _set("accounts[0].nonce", "1"), "accounts[0].nonce"),
    ("org-id-newline", _set("orgs[0].id", "uni\n"), "orgs[0].id"),
    ("org-id-non-ascii", _set("orgs[0].id", "un\u0131"), "orgs[0].id"),
    ("org-id-fullwidth", _set("orgs[0].id", "uni\uff11"), "orgs[0].id"),
    ("org-name-surrogate", _set("orgs[0].name", "a\ud800"), "orgs[0].name"),
    ("org-attr-newline", _set("orgs[1].attributes", {"tier\n": 1}), "orgs[1].attributes.tier\n"),
    ("org-attr-surrogate", _set("orgs[1].attributes", {"t": "\udfff"}), "orgs[1].attributes.t"),
    (
        "org-attrs-too-many",
        _set("orgs[1].attributes", {f"a{i}": i for i in range(65)}),
        "orgs[1].attributes",
    ),
    ("account-name-newline", _set("accounts[1].name", "x\n"), "accounts[1].name"),
    ("account-name-non-ascii", _set("accounts[1].name", "x\u00e9"), "accounts[1].name"),
    ("account-roles-int", _set("accounts[2].roles", [1]), "accounts[2].roles"),
    ("account-roles-list", _set("accounts[2].roles", [["admin"]]), "accounts[2].roles"),
    ("params-not-object", _set("params", [1]), "params"),
    ("params-unknown", _set("params", {"max_gas": 5}), "params.max_gas"),
    ("params-zero", _set("params", {"max_tx_bytes": 0}), "params.max_tx_bytes"),
    ("params-negative", _set("params", {"max_tx_bytes": -1}), "params.max_tx_bytes"),
    ("params-float", _set("params", {"max_tx_bytes": 1.5}), "params.max_tx_bytes"),
    ("params-bool", _set("params", {"max_tx_bytes": True}), "params.max_tx_bytes"),
    ("params-text", _set("params", {"max_tx_bytes": "100"}), "params.max_tx_bytes"),
    (
        "params-u32",
        _set("params", {"max_messages_per_tx": 2**32}),
        "params.max_messages_per_tx",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [(m, f) for _, m, f in MALFORMED],
    ids=[name for name, _, _ in MALFORMED],
)
def test_malformed_consortium(mutate: Mutation, field: str) -> None:
    state = copy.deepcopy(_valid())
    mutate(state)
    with pytest.raises(GenesisError) as raised:
        parse_consortium(state)
    assert raised.value.field == field
    assert raised.value.reason
    assert str(raised.value).startswith(field + ": ")


@pytest.mark.parametrize("app_state_value", [None, [], "x", 3], ids=["null", "list", "str", "int"])
def test_app_state_not_an_object(app_state_value: Any) -> None:
    with pytest.raises(GenesisError) as raised:
        parse_consortium(app_state_value)
    assert raised.value.field == "app_state"


def test_max_tx_bytes_over_u64_is_a_genesis_error() -> None:
    state = _valid()
    state["params"] = {"max_tx_bytes": 2**64}
    with pytest.raises(GenesisError) as raised:
        parse_consortium(state)
    assert raised.value.field == "params.max_tx_bytes"


def test_account_names_may_repeat_and_nonces_carry_over() -> None:
    """Governance may add an account under a name another has, and an exported chain's
    accounts carry their next nonce: a genesis of that chain takes both as they are (a
    consortium file's names must differ: chain.genesis checks that, where a name picks a key)."""
    state = _valid()
    state["accounts"][3]["name"] = state["accounts"][0]["name"]
    state["accounts"][0]["nonce"] = 2**64 - 1
    accounts = parse_consortium(state).accounts
    assert sorted(a.nonce for a in accounts)[-1] == 2**64 - 1
    assert len({a.name for a in accounts}) == len(accounts) - 1


def test_empty_accounts_allowed() -> None:
    state = _valid()
    state["accounts"] = []
    assert parse_consortium(state).accounts == ()
