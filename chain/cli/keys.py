"""``modelgov keys``: create, import, export, delete, list and show signing keys.

Key files are encrypted at rest by default (a passphrase: $MODELGOV_KEYRING_PASSPHRASE, or a
prompt); ``--keyring-backend test`` (or ``modelgov config set keyring-backend test``) keeps a
testnet's keys in the clear, as ``testnet init`` does, so scripts run without a passphrase.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from chain import config
from chain.cli.options import keyring_at, keyring_option, node_option
from chain.cli.output import OUTPUT_CHOICE, emit, table
from chain.cli.root import cli
from chain.client import ClientError, Node
from chain.keys import PASSPHRASE_ENV, Keyring, KeyringError, seal, unseal
from chain.rpc import RpcError

BACKENDS = click.Choice(["file", "test"])


def backend_option(fn: Any) -> Any:
    """--keyring-backend: file (encrypted, the default) or test (in the clear, testnets)."""
    return click.option(
        "--keyring-backend",
        "backend",
        type=BACKENDS,
        default=lambda: config.get("keyring-backend", "file"),
        show_default="file, or config keyring-backend",
        help="file: encrypted under a passphrase; test: in the clear (testnets only)",
    )(fn)


def new_passphrase(what: str) -> str:
    """A passphrase for a new key file: $MODELGOV_KEYRING_PASSPHRASE, else asked twice."""
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise KeyringError(
            f"{what} is encrypted: set ${PASSPHRASE_ENV} or run at a terminal "
            "(or --keyring-backend test for a testnet key)"
        )
    return str(click.prompt(f"passphrase for {what}", hide_input=True, confirmation_prompt=True))


@cli.group()
def keys() -> None:
    """Manage the secp256k1 keys that sign transactions."""


@keys.command("add")
@click.argument("name")
@keyring_option
@backend_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def add(name: str, keyring: Path | None, backend: str, output: str) -> None:
    """Create key NAME; prints its address and public key (never the private key)."""
    passphrase = new_passphrase(f"key {name}") if backend == "file" else None
    key = keyring_at(keyring).add(name, passphrase=passphrase)
    emit(output, {**key.public_view(), "encrypted": passphrase is not None})


@keys.command("import")
@click.argument("name")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--hex", "is_hex", is_flag=True, help="SOURCE holds a 64-hex private key")
@keyring_option
@backend_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def import_(
    name: str, source: Path, is_hex: bool, keyring: Path | None, backend: str, output: str
) -> None:
    """Import key NAME from SOURCE: a file `keys export` wrote (unlocked with its
    passphrase), or with --hex a raw private key."""
    ring = keyring_at(keyring)
    private = _read_import(source, is_hex, name)
    passphrase = new_passphrase(f"key {name}") if backend == "file" else None
    key = ring.add(name, private, passphrase=passphrase)
    emit(output, {**key.public_view(), "encrypted": passphrase is not None})


def _read_import(source: Path, is_hex: bool, name: str) -> bytes:
    """The private key in SOURCE; KeyringError (exit 4, no traceback) naming what is wrong
    with a file that is not a key: not text, not hex, not a `keys export` record."""
    try:
        text = source.read_text()
    except UnicodeDecodeError:
        raise KeyringError(f"{source}: not a text file") from None
    if is_hex:
        try:
            return bytes.fromhex(text.strip())
        except ValueError:
            raise KeyringError(f"{source}: not a hex private key (64 hex digits)") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringError(f"{source}: not a key file of `keys export` ({exc})") from None
    if not isinstance(record, dict) or not ({"encryption", "private_key"} & record.keys()):
        raise KeyringError(f"{source}: not a key file of `keys export` (no key in it)")
    return _unlock_export(record, name, source)


def _unlock_export(record: dict[str, Any], name: str, source: Path) -> bytes:
    if "encryption" not in record:
        try:
            return bytes.fromhex(str(record["private_key"]))
        except ValueError:
            raise KeyringError(f"{source}: its private_key is not hex") from None
    passphrase = os.environ.get(PASSPHRASE_ENV) or (
        str(click.prompt(f"passphrase of the exported {name}", hide_input=True))
        if sys.stdin.isatty()
        else ""
    )
    if not passphrase:
        raise KeyringError(f"the export is encrypted: set ${PASSPHRASE_ENV}")
    return unseal(record["encryption"], str(record.get("pubkey", "")), passphrase)


@keys.command("export")
@click.argument("name")
@keyring_option
def export(name: str, keyring: Path | None) -> None:
    """Print key NAME as an encrypted key file (for `keys import` elsewhere): an encrypted key
    as stored, a test-backend key sealed under a new passphrase first."""
    ring = keyring_at(keyring)
    record = ring.record(name)
    if "encryption" not in record:
        private = ring.get(name).private_key
        record = {k: v for k, v in record.items() if k != "private_key"}
        record["encryption"] = seal(private, new_passphrase(f"the export of {name}"))
    click.echo(json.dumps(record, indent=2, sort_keys=True))


@keys.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask")
@keyring_option
def delete(name: str, yes: bool, keyring: Path | None) -> None:
    """Delete key NAME's file (export it first if you may need it again)."""
    ring = keyring_at(keyring)
    ring.record(name)
    if not yes:
        click.confirm(f"delete key {name} from {ring.directory}?", abort=True)
    ring.delete(name)
    click.echo(f"deleted {name}")


@keys.command("list")
@keyring_option
@node_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def list_(keyring: Path | None, node: str, output: str) -> None:
    """List the keys: name, address, whether encrypted; with a reachable node, each key's
    organisation and roles on chain."""
    ring = keyring_at(keyring)
    rows = [_row(ring, name) for name in ring.names()]
    _add_accounts(rows, node)
    columns = ["name", "address", "org", "roles", "encrypted"]
    emit(output, {"keys": rows}, lambda d: table(d["keys"], columns))


def _row(ring: Keyring, name: str) -> dict[str, Any]:
    address, pubkey = ring.public(name)
    row = {"name": name, "address": address, "pubkey": pubkey.hex()}
    return {**row, "encrypted": ring.encrypted(name), "org": "", "roles": []}


def _add_accounts(rows: list[dict[str, Any]], url: str) -> None:
    """Fill each row's org and roles from the chain; leave them empty if the node is down."""
    client = Node(url)
    client.rpc.timeout = min(client.rpc.timeout, 3.0)  # a listing never waits long for a node
    for row in rows:
        try:
            account = client.account(row["address"])
        except ClientError:
            continue
        except RpcError:
            return
        row["org"], row["roles"] = account.org, list(account.roles)


@keys.command("show")
@click.argument("name")
@keyring_option
@click.option("--address", "-a", "address_only", is_flag=True, help="print only the address")
@click.option("--private", is_flag=True, help="also print the private key (keep it secret)")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def show(name: str, keyring: Path | None, address_only: bool, private: bool, output: str) -> None:
    """Show key NAME."""
    ring = keyring_at(keyring)
    address, pubkey = ring.public(name)
    if address_only:
        click.echo(address)
        return
    view: dict[str, Any] = {"name": name, "address": address, "pubkey": pubkey.hex()}
    view["encrypted"] = ring.encrypted(name)
    if private:
        view["private_key"] = ring.get(name).private_key.hex()
    emit(output, view)
