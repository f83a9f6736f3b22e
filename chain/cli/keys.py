"""``modelgov keys``: create, list and show signing keys."""

from __future__ import annotations

from pathlib import Path

import click

from chain.cli.options import keyring_at, keyring_option
from chain.cli.output import OUTPUT_CHOICE, emit, table
from chain.cli.root import cli


@cli.group()
def keys() -> None:
    """Manage the secp256k1 keys that sign transactions."""


@keys.command("add")
@click.argument("name")
@keyring_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def add(name: str, keyring: Path | None, output: str) -> None:
    """Create key NAME; prints its address and public key (never the private key)."""
    key = keyring_at(keyring).add(name)
    emit(output, key.public_view())


@keys.command("list")
@keyring_option
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def list_(keyring: Path | None, output: str) -> None:
    """List the keys: name, address, public key."""
    ring = keyring_at(keyring)
    rows = [ring.get(name).public_view() for name in ring.names()]
    emit(output, {"keys": rows}, lambda d: table(d["keys"], ["name", "address", "pubkey"]))


@keys.command("show")
@click.argument("name")
@keyring_option
@click.option("--private", is_flag=True, help="also print the private key (keep it secret)")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def show(name: str, keyring: Path | None, private: bool, output: str) -> None:
    """Show key NAME."""
    key = keyring_at(keyring).get(name)
    view = key.public_view()
    if private:
        view["private_key"] = key.private_key.hex()
    emit(output, view)
