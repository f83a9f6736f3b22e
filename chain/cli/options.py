"""Options shared by the command groups, and the context object that carries them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chain.cli.output import OUTPUT_CHOICE
from chain.client import Node
from chain.keys import Key, Keyring, default_keyring
from chain.rpc import DEFAULT_NODE

F = TypeVar("F", bound=Callable[..., Any])


def node_options(fn: F) -> F:
    """--node, --chain-id and --output for every command that talks to a node."""
    fn = click.option(
        "--output",
        "-o",
        type=OUTPUT_CHOICE,
        default="text",
        show_default=True,
        help="text for people, json for programs",
    )(fn)
    fn = click.option(
        "--chain-id", default="", help="chain id to sign for (asked of the node when omitted)"
    )(fn)
    fn = click.option(
        "--node",
        default=lambda: os.environ.get("MODELGOV_NODE", DEFAULT_NODE),
        show_default="$MODELGOV_NODE or " + DEFAULT_NODE,
        help="RPC address of a node",
    )(fn)
    return fn


def keyring_option(fn: F) -> F:
    """--keyring: the directory of key files."""
    return click.option(
        "--keyring",
        type=click.Path(path_type=Path),
        default=None,
        help="key directory (default $MODELGOV_HOME/keys or ~/.modelgov/keys)",
    )(fn)


def sender_options(fn: F) -> F:
    """--from and --keyring for commands that sign."""
    fn = keyring_option(fn)
    return click.option("--from", "from_", required=True, help="name of the signing key")(fn)


def keyring_at(path: Path | None) -> Keyring:
    """The keyring at ``path`` or the default one."""
    return Keyring(path or default_keyring())


def node_at(url: str, chain_id: str) -> Node:
    """A client for the node at ``url``."""
    return Node(url, chain_id)


def signer(keyring: Path | None, name: str) -> Key:
    """Load the signing key ``name``."""
    return keyring_at(keyring).get(name)


def split_ref(ref: str) -> tuple[str, str]:
    """MODEL@VERSION as (model, version); a usage error otherwise."""
    model_id, _, version = ref.rpartition("@")
    if not model_id or not version:
        raise click.BadParameter(f"{ref!r} is not MODEL@VERSION", param_hint="MODEL@VERSION")
    return model_id, version
