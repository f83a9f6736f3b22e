"""From a consortium file (TOML) to the engine's genesis.json, validated before any node starts.

The consortium file names the organisations, their accounts and roles, and the parameters; the
app's own genesis validation (``app.members.genesis``) checks it, so what passes here is exactly
what InitChain accepts.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.machine import parse_genesis
from app.members.genesis import GenesisError
from chain.keys import Keyring

DEFAULT_POWER = 10
CONSORTIUM_FIELDS = ("chain_id", "params", "orgs", "accounts", "credits")


def load_consortium(path: Path) -> dict[str, Any]:
    """Read a consortium TOML file; raises GenesisError naming the file on syntax errors."""
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise GenesisError(str(path), f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GenesisError(str(path), f"not valid TOML: {exc}") from None


def app_state_of(consortium: Mapping[str, Any], pubkeys: Mapping[str, str]) -> dict[str, Any]:
    """The genesis ``app_state``: the consortium with account keys filled in from ``pubkeys``
    (by account name) where the file leaves them out; validated, raises GenesisError."""
    for key in consortium:
        if key not in CONSORTIUM_FIELDS:
            expected = ", ".join(CONSORTIUM_FIELDS)
            raise GenesisError(key, f"unknown field in the consortium file (expected {expected})")
    accounts = []
    for i, account in enumerate(consortium.get("accounts") or []):
        entry = dict(account) if isinstance(account, Mapping) else account
        if isinstance(entry, dict) and "pubkey" not in entry:
            name = str(entry.get("name"))
            if name not in pubkeys:
                raise GenesisError(
                    f"accounts[{i}].pubkey", "missing (testnet init generates it; give one here)"
                )
            entry["pubkey"] = pubkeys[name]
        accounts.append(entry)
    state = {
        "orgs": consortium.get("orgs"),
        "accounts": accounts,
        "params": consortium.get("params", {}),
        "credits": consortium.get("credits", {}),
    }
    parse_genesis(state)
    return state


def account_pubkeys(consortium: Mapping[str, Any], keyring: Keyring) -> dict[str, str]:
    """Public keys, by account name, for the consortium accounts that name none: the keyring's
    key of that name, created when it has none."""
    pubkeys = {}
    for account in consortium.get("accounts") or []:
        if isinstance(account, Mapping) and "pubkey" not in account and "name" in account:
            name = str(account["name"])
            key = keyring.get(name) if name in keyring.names() else keyring.add(name)
            pubkeys[name] = key.pubkey.hex()
    return pubkeys


def validator_entry(
    priv_validator_key: Path, name: str, power: int = DEFAULT_POWER
) -> dict[str, Any]:
    """A genesis validator from an engine's ``priv_validator_key.json``."""
    try:
        key = json.loads(priv_validator_key.read_text())
        return {
            "address": key["address"],
            "pub_key": key["pub_key"],
            "power": str(power),
            "name": name,
        }
    except (OSError, ValueError, KeyError) as exc:
        raise GenesisError(str(priv_validator_key), f"not a validator key file: {exc}") from None


def engine_genesis(
    base: Mapping[str, Any],
    chain_id: str,
    app_state: Mapping[str, Any],
    validators: list[dict[str, Any]],
) -> dict[str, Any]:
    """The engine's genesis document: ``base`` (as ``cometbft init`` wrote it, for its consensus
    parameters) with our chain id, validators, app state and a fresh genesis time."""
    if not chain_id or len(chain_id) > 50:
        raise GenesisError("chain_id", "a non-empty id of at most 50 characters is required")
    if not validators:
        raise GenesisError("validators", "at least one validator is required")
    doc = dict(base)
    doc.update(
        genesis_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        chain_id=chain_id,
        initial_height="1",
        validators=validators,
        app_hash="",
        app_state=app_state,
    )
    return doc


def check_genesis_file(path: Path) -> dict[str, Any]:
    """Load a genesis.json and validate its app_state; raises GenesisError."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GenesisError(str(path), f"not a readable JSON genesis: {exc}") from None
    if not isinstance(doc, dict):
        raise GenesisError(str(path), "a genesis document is a JSON object")
    if not doc.get("validators"):
        raise GenesisError("validators", "at least one validator is required")
    parse_genesis(doc.get("app_state"))
    result: dict[str, Any] = doc
    return result
