"""``modelgov genesis``: build and check genesis files before any node starts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chain.genesis import (
    account_pubkeys,
    app_state_of,
    check_genesis_file,
    engine_genesis,
    load_consortium,
    validator_entry,
)
from chain.keys import Keyring

EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def genesis() -> None:
    """Build genesis.json from a consortium file, or check one."""


@genesis.command("build")
@click.option("--consortium", required=True, type=EXISTING, help="consortium TOML file")
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
    """Write genesis.json: engine parameters from --base, the consortium as app_state."""
    spec = load_consortium(consortium)
    pubkeys = account_pubkeys(spec, Keyring(keyring)) if keyring is not None else {}
    app_state = app_state_of(spec, pubkeys)
    validators = [validator_entry(p, f"validator{i}") for i, p in enumerate(validator_keys)]
    doc = engine_genesis(
        json.loads(base.read_text()),
        chain_id or str(spec.get("chain_id", "")),
        app_state,
        validators,
    )
    out.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"wrote {out}: chain {doc['chain_id']}, {len(validators)} validators")


@genesis.command("validate")
@click.argument("path", type=EXISTING)
def validate(path: Path) -> None:
    """Check a genesis.json's consortium the way InitChain will."""
    doc = check_genesis_file(path)
    state = doc["app_state"]
    click.echo(
        f"{path}: valid; chain {doc.get('chain_id')}, {len(state['orgs'])} orgs, "
        f"{len(state['accounts'])} accounts, {len(doc['validators'])} validators"
    )
