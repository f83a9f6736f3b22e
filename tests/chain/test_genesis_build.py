"""Consortium files to genesis: refused with the field and reason before any node starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.core.genesis import GenesisError
from chain.cli.main import cli
from chain.genesis import app_state_of, check_genesis_file, initial_height_of, load_consortium
from chain.keys import Keyring
from chain.testnet import DEFAULT_CONSORTIUM

PUBKEY = "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


def test_the_example_consortium_is_valid_once_keys_are_given(tmp_path: Path) -> None:
    consortium = load_consortium(DEFAULT_CONSORTIUM)
    ring = Keyring(tmp_path)
    keys = {a["name"]: ring.add(a["name"]).pubkey.hex() for a in consortium["accounts"]}
    state = app_state_of(consortium, keys)
    assert [o["id"] for o in state["orgs"]] == ["northwind-uni", "acme-ai", "open-health"]


def test_one_key_for_two_accounts_is_refused() -> None:
    consortium = load_consortium(DEFAULT_CONSORTIUM)
    keys = {a["name"]: PUBKEY for a in consortium["accounts"]}
    with pytest.raises(GenesisError, match="belongs to another account") as refused:
        app_state_of(consortium, keys)
    assert refused.value.field == "accounts[1].pubkey"


def test_a_missing_pubkey_is_named(tmp_path: Path) -> None:
    consortium = load_consortium(DEFAULT_CONSORTIUM)
    with pytest.raises(GenesisError) as refused:
        app_state_of(consortium, {})
    assert refused.value.field == "accounts[0].pubkey"


def test_unknown_top_level_fields_are_refused() -> None:
    with pytest.raises(GenesisError) as refused:
        app_state_of({"orgs": [], "acounts": []}, {})
    assert refused.value.field == "acounts"


def test_toml_syntax_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[orgs]\nid = 1\n")
    with pytest.raises(GenesisError, match="not valid TOML"):
        load_consortium(path)


def test_genesis_validate_refuses_a_bad_role_with_exit_code_4(tmp_path: Path) -> None:
    doc = {
        "chain_id": "c",
        "validators": [{"address": "x"}],
        "app_state": {
            "orgs": [{"id": "ab", "name": "A B", "kind": "academic"}],
            "accounts": [{"name": "a", "org": "ab", "pubkey": PUBKEY, "roles": ["owner"]}],
        },
    }
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(GenesisError) as refused:
        check_genesis_file(path)
    assert refused.value.field == "accounts[0].roles"
    result = CliRunner().invoke(cli, ["genesis", "validate", str(path)])
    assert result.exit_code != 0
    doc["app_state"]["accounts"][0]["roles"] = ["admin"]  # type: ignore[index]
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["genesis", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 orgs, 1 accounts, 1 validators" in result.output


def test_two_accounts_that_take_their_key_by_one_name_are_refused(tmp_path: Path) -> None:
    """A name picks the keyring's key of an account that gives none: two accounts of one name
    would be one key (with keys given, names may repeat, as governance lets them)."""
    consortium = load_consortium(DEFAULT_CONSORTIUM)
    consortium["accounts"][2]["name"] = consortium["accounts"][0]["name"]
    with pytest.raises(GenesisError) as refused:
        app_state_of(consortium, {})
    assert refused.value.field == "accounts[0].name"
    ring = Keyring(tmp_path)
    for i, account in enumerate(consortium["accounts"]):
        account["pubkey"] = ring.add(f"k{i}").pubkey.hex()
    state = app_state_of(consortium, {})
    assert state["accounts"][2]["name"] == state["accounts"][0]["name"]


@pytest.mark.parametrize("height", [0, -1, "x", "1.5", True, "\u0661"])
def test_an_initial_height_that_is_not_a_height_is_refused(height: object) -> None:
    with pytest.raises(GenesisError) as refused:
        initial_height_of({"initial_height": height})
    assert refused.value.field == "initial_height"
    assert initial_height_of({}) == 1 and initial_height_of({"initial_height": "201"}) == 201


def test_a_json_consortium_must_be_a_genesis(tmp_path: Path) -> None:
    for text in ("[1]", "{", '{"app_state": 3}'):
        path = tmp_path / "g.json"
        path.write_text(text)
        with pytest.raises(GenesisError) as refused:
            load_consortium(path)
        assert refused.value.field == str(path)
