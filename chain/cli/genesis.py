"""``modelgov genesis``: build and check genesis files before any node starts, or export a
chain's records as the genesis of a new one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.core.genesis import GenesisError
from chain.client import Node
from chain.keys import Keyring
from chain.rpc import DEFAULT_NODE

if TYPE_CHECKING:
    from chain.genesis import Snapshot
# chain.genesis loads the whole state machine: each command imports what it needs when it runs,
# so that every other command of the CLI starts without it.

EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def genesis() -> None:
    """Build genesis.json from a consortium file, or check one."""


@genesis.command("build")
@click.option(
    "--consortium",
    required=True,
    type=EXISTING,
    help="consortium TOML file, or a genesis.json (an export's) to take the sections of",
)
@click.option("--base", required=True, type=EXISTING, help="a genesis.json from `cometbft init`")
@click.option(
    "--validator-key",
    "validator_keys",
    multiple=True,
    required=True,
    type=EXISTING,
    help="priv_validator_key.json of each validator (repeat)",
)
@click.option("--chain-id", default="", help="defaults to the consortium file's chain_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--keyring",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="for accounts the file gives no pubkey: use this keyring's key of that name, or create it",
)
def build(
    consortium: Path,
    base: Path,
    validator_keys: tuple[Path, ...],
    chain_id: str,
    out: Path,
    keyring: Path | None,
) -> None:
    """Write genesis.json: engine parameters from --base, the consortium as app_state.

    From a genesis.json (an export's), its sections, chain id and initial height are kept and
    the validators are those given here (their records too).
    """
    from chain.genesis import (
        account_pubkeys,
        app_state_of,
        engine_genesis,
        initial_height_of,
        load_consortium,
        validator_entry,
    )

    spec = load_consortium(consortium)
    pubkeys = account_pubkeys(spec, Keyring(keyring)) if keyring is not None else {}
    app_state = app_state_of(spec, pubkeys)
    validators = [validator_entry(p, f"validator{i}") for i, p in enumerate(validator_keys)]
    doc = engine_genesis(
        _read_json(base),
        chain_id or str(spec.get("chain_id", "")),
        app_state,
        validators,
        initial_height_of(spec),
    )
    out.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"wrote {out}: chain {doc['chain_id']}, {len(validators)} validators")


@genesis.command("validate")
@click.argument("path", type=EXISTING)
def validate(path: Path) -> None:
    """Check a genesis.json's consortium the way InitChain will."""
    from chain.genesis import check_genesis_file

    doc = check_genesis_file(path)
    state = doc["app_state"]
    click.echo(
        f"{path}: valid; chain {doc.get('chain_id')}, {len(state['orgs'])} orgs, "
        f"{len(state['accounts'])} accounts, {len(doc['validators'])} validators"
    )


@genesis.command("export")
@click.option(
    "--node",
    "url",
    default=lambda: os.environ.get("MODELGOV_NODE", DEFAULT_NODE),
    show_default="$MODELGOV_NODE or " + DEFAULT_NODE,
    help="RPC address of the node to read the state through",
)
@click.option(
    "--home",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="read a stopped node's state instead: its directory (app/state.db) or app home",
)
@click.option(
    "--base",
    type=EXISTING,
    default=None,
    help="genesis.json whose engine parameters to keep "
    "(default: the node's /genesis, or HOME/cometbft/config/genesis.json)",
)
@click.option("--chain-id", default="", help="the new chain's id (default: the exported one's)")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="file to write (default: standard output)",
)
def export(url: str, home: Path | None, base: Path | None, chain_id: str, out: Path | None) -> None:
    """Write a genesis.json that starts a new chain with this chain's records.

    Every record of every domain is read (through the node's /genesis/records query, again
    if a block changed the state meanwhile; or from a stopped node's state.db with --home) and
    written as app_state. The new chain starts at the next height (initial_height) with the
    state's validators: with the same chain id, its genesis app hash is the exported app hash.
    """
    from chain.genesis import export_genesis_doc, read_home, read_node

    if home is not None:
        snapshot, found = read_home(home)
        chosen = base or found
        if chosen is None:
            raise GenesisError("--base", f"{home} has no cometbft/config/genesis.json; give one")
        base_doc = _read_json(chosen)
    else:
        node = Node(url)
        snapshot = read_node(node)
        base_doc = _read_json(base) if base is not None else node.rpc.call("genesis")["genesis"]
    doc = export_genesis_doc(snapshot, base_doc, chain_id)
    text = json.dumps(doc, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
    click.echo(_summary(snapshot, doc, out), err=True)


def _summary(snapshot: Snapshot, doc: dict[str, Any], out: Path | None) -> str:
    where = f"wrote {out}" if out is not None else "exported"
    return (
        f"{where}: {snapshot.chain_id} at height {snapshot.height} "
        f"(app hash {snapshot.app_hash.hex().upper()}, {len(snapshot.state.records)} records); "
        f"chain {doc['chain_id']} starts at height {doc['initial_height']} with "
        f"{len(doc['validators'])} validators"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GenesisError(str(path), f"not a readable JSON genesis: {exc}") from None
