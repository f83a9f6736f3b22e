"""Genesis files: built from a consortium file (TOML) or exported from a chain, validated before
any node starts.

The consortium file names the organisations, their accounts and roles, the parameters and the
credits; the app's own genesis validation (``app.machine.parse_genesis``) checks it, so what
passes here is exactly what InitChain accepts.

An export (``export_genesis_doc``) reads every record of a chain, from a node through the
``/genesis/records`` query or from a stopped node's ``state.db``, and writes them with the app's
own ``app.machine.export_genesis`` as the ``app_state`` of a new genesis.json. That file starts
a chain whose records are the old chain's, key for key: with the same chain id its genesis app
hash is the exported state's app hash. Its ``initial_height`` is the exported height plus one,
so that the heights records hold (a proposal's voting end, a round's deadline, a claim's
expiry, receipts by height) keep their meaning; its validators are the state's validator
records (with their names), in the engine's format; the engine's other parameters come from a
base genesis.json (the node's own ``/genesis``, the node home's, or ``--base``). A genesis.json
is itself a consortium file for ``genesis build`` and ``testnet init``: they keep its sections,
chain id and initial height and name their own validators.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app import machine
from app.core.genesis import GenesisError
from app.machine import GENESIS_SECTIONS, export_genesis, parse_genesis
from app.store import MerkleStore
from chain.client import Node
from chain.keys import Keyring

DEFAULT_POWER = 10
CONSORTIUM_FIELDS = ("chain_id", "initial_height", *GENESIS_SECTIONS)
ED25519 = "tendermint/PubKeyEd25519"
PAGE = 200
EXPORT_ATTEMPTS = 3


def load_consortium(path: Path) -> dict[str, Any]:
    """Read a consortium file: TOML, or a genesis.json (its ``app_state`` sections with its
    ``chain_id`` and ``initial_height``); raises GenesisError naming the file on syntax
    errors."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise GenesisError(str(path), f"cannot read: {exc.strerror}") from None
    if path.suffix == ".json":
        return _consortium_of_genesis(text, path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GenesisError(str(path), f"not valid TOML: {exc}") from None


def _consortium_of_genesis(text: str, path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise GenesisError(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("app_state"), dict):
        raise GenesisError(str(path), "a genesis.json with an app_state object is expected")
    found: dict[str, Any] = dict(doc["app_state"])
    found["chain_id"] = doc.get("chain_id", "")
    found["initial_height"] = initial_height_of(doc)
    return found


def initial_height_of(doc: Mapping[str, Any]) -> int:
    """A genesis document's (or consortium's) ``initial_height``, 1 when absent; raises
    GenesisError."""
    raw = doc.get("initial_height", 1)
    text = str(raw)
    if isinstance(raw, bool) or not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise GenesisError("initial_height", f"{text[:30]} is not a height of 1 or more")
    return int(text)


def app_state_of(consortium: Mapping[str, Any], pubkeys: Mapping[str, str]) -> dict[str, Any]:
    """The genesis ``app_state``: the consortium's sections, with account keys filled in from
    ``pubkeys`` (by account name) where the file leaves them out; validated, raises
    GenesisError. An account that takes its key by name must have a name no other account
    has."""
    for key in consortium:
        if key not in CONSORTIUM_FIELDS:
            expected = ", ".join(CONSORTIUM_FIELDS)
            raise GenesisError(key, f"unknown field in the consortium file (expected {expected})")
    accounts = _with_pubkeys(consortium.get("accounts") or [], pubkeys)
    state = {
        "orgs": consortium.get("orgs"),
        "accounts": accounts,
        "params": consortium.get("params", {}),
        "credits": consortium.get("credits", {}),
    }
    state.update({k: consortium[k] for k in GENESIS_SECTIONS if k in consortium and k not in state})
    parse_genesis(state)
    return state


def _with_pubkeys(items: Sequence[Any], pubkeys: Mapping[str, str]) -> list[Any]:
    names = [a.get("name") for a in items if isinstance(a, Mapping)]
    accounts = []
    for i, account in enumerate(items):
        entry = dict(account) if isinstance(account, Mapping) else account
        if isinstance(entry, dict) and "pubkey" not in entry:
            name = str(entry.get("name"))
            if names.count(entry.get("name")) > 1:
                raise GenesisError(f"accounts[{i}].name", f"{name} names two accounts")
            if name not in pubkeys:
                raise GenesisError(
                    f"accounts[{i}].pubkey", "missing (testnet init generates it; give one here)"
                )
            entry["pubkey"] = pubkeys[name]
        accounts.append(entry)
    return accounts


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


def record_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """A genesis validator from a validator record of ``app_state`` (its protobuf JSON)."""
    pubkey = base64.b64decode(record["pubkey"])
    return {
        "address": hashlib.sha256(pubkey).digest()[:20].hex().upper(),
        "pub_key": {"type": ED25519, "value": base64.b64encode(pubkey).decode()},
        "power": str(record["power"]),
        "name": str(record.get("name", "")),
    }


def engine_genesis(
    base: Mapping[str, Any],
    chain_id: str,
    app_state: Mapping[str, Any],
    validators: list[dict[str, Any]],
    initial_height: int = 1,
) -> dict[str, Any]:
    """The engine's genesis document: ``base`` (as ``cometbft init`` wrote it, for its consensus
    parameters) with our chain id, validators, app state, initial height and a fresh genesis
    time. Validator records in ``app_state`` (an export's) become those of ``validators``."""
    if not chain_id or len(chain_id) > 50:
        raise GenesisError("chain_id", "a non-empty id of at most 50 characters is required")
    if not validators:
        raise GenesisError("validators", "at least one validator is required")
    members = app_state.get("members")
    if isinstance(members, Mapping) and members.get("validators"):
        app_state = {**app_state, "members": {**members, "validators": _records(validators)}}
    doc = dict(base)
    doc.update(
        genesis_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        chain_id=chain_id,
        initial_height=str(initial_height),
        validators=validators,
        app_hash="",
        app_state=app_state,
    )
    return doc


def _records(validators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The validator records of ``app_state`` for genesis validators (engine format)."""
    return [
        {
            "pubkey": v["pub_key"]["value"],
            "power": str(v["power"]),
            **({"name": v["name"]} if v.get("name") else {}),
        }
        for v in validators
    ]


def check_genesis_file(path: Path) -> dict[str, Any]:
    """Load a genesis.json and validate its app_state, and its validator records against its
    validators; raises GenesisError."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GenesisError(str(path), f"not a readable JSON genesis: {exc}") from None
    if not isinstance(doc, dict):
        raise GenesisError(str(path), "a genesis document is a JSON object")
    if not doc.get("validators"):
        raise GenesisError("validators", "at least one validator is required")
    initial_height_of(doc)
    genesis = parse_genesis(doc.get("app_state"))
    if genesis.members.validators:
        machine.check_validators(genesis, _engine_validators(doc["validators"]))
    result: dict[str, Any] = doc
    return result


def _engine_validators(entries: Any) -> list[tuple[bytes, int]]:
    try:
        return [(base64.b64decode(v["pub_key"]["value"]), int(v["power"])) for v in entries]
    except (TypeError, KeyError, ValueError) as exc:
        raise GenesisError("validators", f"not the engine's validators: {exc}") from None


# --- export: a chain's records as a new chain's genesis -----------------------------------------


class Records:
    """A state held in memory, sorted: the records a node's pages delivered."""

    def __init__(self, records: Mapping[bytes, bytes]) -> None:
        self.records = dict(records)
        self.keys = sorted(self.records)

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key``."""
        return self.records.get(key)

    def iterate(
        self, prefix: bytes, start_after: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Keys under ``prefix`` in order, strictly after ``start_after``."""
        if start_after is None or start_after < prefix:
            index = bisect_left(self.keys, prefix)
        else:
            index = bisect_right(self.keys, start_after)
        for i in range(index, len(self.keys)):
            key = self.keys[i]
            if not key.startswith(prefix):
                return
            yield key, self.records[key]


@dataclass(frozen=True)
class Snapshot:
    """Every record of a chain at one height, and what identifies that state."""

    state: Records
    height: int
    app_hash: bytes
    chain_id: str


def read_node(node: Node) -> Snapshot:
    """Every domain's records, page by page through ``/genesis/records``, as one state.

    The node keeps committing blocks meanwhile, so the pages are read between two looks at its
    app hash; when it moved (a block changed the state) they are read again, EXPORT_ATTEMPTS
    times at most. Raises GenesisError when the state kept changing, RpcError or ClientError
    when the node cannot answer.
    """
    for _ in range(EXPORT_ATTEMPTS):
        before = _info(node)
        records: dict[bytes, bytes] = {}
        for domain in machine.PREFIXES:
            records.update(_domain_records(node, domain))
        after = _info(node)
        if after[1] == before[1]:
            state = Records(records)
            return Snapshot(state, after[0], after[1], machine.chain_id(state))
    raise GenesisError(
        "--node",
        f"the chain's state changed during each of {EXPORT_ATTEMPTS} reads; stop it (or its "
        "traffic) and export again, or export a stopped node with --home",
    )


def _info(node: Node) -> tuple[int, bytes]:
    """(height, app hash) of the node's last committed block."""
    response = node.rpc.call("abci_info")["response"]
    return int(response.get("last_block_height", 0)), base64.b64decode(
        response.get("last_block_app_hash") or ""
    )


def _domain_records(node: Node, domain: str) -> Iterator[tuple[bytes, bytes]]:
    for entry in node.genesis_records(domain):
        yield entry.key, entry.value


def read_home(home: Path) -> tuple[Snapshot, Path | None]:
    """The state of a stopped node: ``home`` is a testnet node's directory (``app/state.db``,
    ``cometbft/config/genesis.json``) or an app home (``state.db``). Returns the snapshot and
    the node's engine genesis, when there is one. Raises GenesisError when there is no state
    or a running node holds it."""
    for db, engine in ((home / "app" / "state.db", home / "cometbft"), (home / "state.db", None)):
        if db.is_dir():
            base = engine / "config" / "genesis.json" if engine is not None else None
            return _snapshot_of(db), base if base is not None and base.exists() else None
    raise GenesisError(str(home), "no state.db here or under app/ (a node's or app's home)")


def _snapshot_of(db: Path) -> Snapshot:
    try:
        store = MerkleStore(db)
    except OSError as exc:  # plyvel's IOError: a running node holds the lock
        raise GenesisError(
            str(db), f"cannot open the state (is the node stopped?): {exc}"
        ) from None
    try:
        records = Records(dict(store.iterate(b"")))
        return Snapshot(records, store.height, store.root, machine.chain_id(records))
    finally:
        store.close()


def export_genesis_doc(
    snapshot: Snapshot, base: Mapping[str, Any], chain_id: str = ""
) -> dict[str, Any]:
    """The genesis.json of a new chain that starts with ``snapshot``'s records (see the module
    docstring): ``chain_id`` defaults to the exported chain's. Raises GenesisError."""
    app_state = export_genesis(snapshot.state)
    records = app_state["members"]["validators"]
    if not records:
        raise GenesisError("members.validators", "the state holds no validator record")
    validators = [record_entry(r) for r in records]
    doc = engine_genesis(
        base, chain_id or snapshot.chain_id, app_state, validators, snapshot.height + 1
    )
    genesis = parse_genesis(doc["app_state"])
    machine.check_validators(genesis, _engine_validators(validators))
    return doc
