"""``modelgov config``: the user's client settings (chain/config.py), so a shell needs no
``--node`` or ``$MODELGOV_NODE`` once the node is set."""

from __future__ import annotations

import click

from chain import config as settings
from chain.cli.output import OUTPUT_CHOICE, emit
from chain.cli.root import cli


@cli.group("config")
def config() -> None:
    """Show and change your client settings (node, keyring, chain-id, output, keyring-backend)."""


@config.command("set")
@click.argument("name", type=click.Choice(settings.KEYS))
@click.argument("value")
def set_(name: str, value: str) -> None:
    """Set NAME to VALUE for every later command of this user ("" removes it)."""
    try:
        path = settings.set_value(name, value)
    except settings.ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="VALUE") from None
    click.echo(f"{name} = {value!r} in {path}" if value else f"{name} removed from {path}")


@config.command("get")
@click.argument("name", type=click.Choice(settings.KEYS))
def get(name: str) -> None:
    """Print one setting (empty when unset)."""
    click.echo(settings.load().get(name, ""))


@config.command("show")
@click.option("--output", "-o", type=OUTPUT_CHOICE, default="text")
def show(output: str) -> None:
    """Every setting and the file they live in."""
    emit(output, {"file": str(settings.config_path()), "settings": settings.load()})
