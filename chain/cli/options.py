"""Options and input parsing shared by the command groups: the node, the signer, the list
bounds, MODEL@VERSION and NAME=VALUE metrics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click

from app.core.errors import NOT_FOUND
from app.core.names import MAX_SCALE
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import config
from chain.cli.output import OUTPUT_CHOICE, emit
from chain.client import ClientError, Node
from chain.keys import Key, Keyring, default_keyring
from chain.rpc import DEFAULT_NODE, NODE_ENV, default_node
from chain.weights.claims import SaltFile, claim_for_publish, default_state_dir

F = TypeVar("F", bound=Callable[..., Any])
INT64_DIGITS = 19
"""Digits of the largest signed 64-bit integer (a metric's int_value)."""


def node_options(fn: F) -> F:
    """--node, --chain-id and --output for every command that talks to a node."""
    fn = click.option(
        "--output",
        "-o",
        type=OUTPUT_CHOICE,
        default=lambda: config.get("output", "text"),
        show_default="text, or `modelgov config set output json`",
        help="text for people, json for programs",
    )(fn)
    fn = click.option(
        "--chain-id",
        default=lambda: config.get("chain-id"),
        help="chain id to sign for (config chain-id, else asked of the node)",
    )(fn)
    return node_option(fn)


def node_option(fn: F) -> F:
    """--node: the RPC address of a node ($MODELGOV_NODE, else the local default)."""
    return click.option(
        "--node",
        default=default_node,
        show_default=f"${NODE_ENV} or {DEFAULT_NODE}",
        help="RPC address of a node",
    )(fn)


LIST_LIMIT = 1000
"""Most items a list command prints unless --limit says otherwise."""


def list_options(fn: F) -> F:
    """--after and --limit for a list command: it follows the chain's pages from --after until
    the list ends or --limit items are listed (then its output names the cursor of the rest)."""
    fn = click.option(
        "--limit",
        default=LIST_LIMIT,
        show_default=True,
        type=click.IntRange(1),
        help="most items to list (the chain's pages are followed up to it)",
    )(fn)
    return click.option(
        "--after", default="", help="list from after this cursor (the 'next' of a listing)"
    )(fn)


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


def signer(keyring: Path | None, name: str) -> Key:
    """Load the signing key ``name``."""
    return keyring_at(keyring).get(name)


def split_ref(ref: str) -> tuple[str, str]:
    """MODEL@VERSION as (model, version); a usage error otherwise."""
    model_id, _, version = ref.rpartition("@")
    if not model_id or not version:
        raise click.BadParameter(f"{ref!r} is not MODEL@VERSION", param_hint="MODEL@VERSION")
    return model_id, version


def version_of(client: Node, ref: str) -> state_pb2.Version:
    """The version MODEL@REF names: a version of that name, else (``/models/resolve``) an
    alias's version or, for ``latest``, the newest active one. Raises ClientError (not_found)."""
    model_id, name = split_ref(ref)
    try:
        return client.version(model_id, name)
    except ClientError as exc:
        if not exc.not_found:
            raise
    return client.resolve(model_id, name)


def parse_metric(text: str) -> tx_pb2.Metric:
    """NAME=VALUE: a decimal becomes an integer with a scale (0.913 -> 913, scale 3), anything
    else a string. Floats never reach the chain. A decimal the chain cannot hold (more than
    MAX_SCALE places, or past a signed 64-bit integer) is a usage error, refused before it is
    expanded (1e999999 would take the CLI minutes to write out)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--metric")
    try:
        number = Decimal(value)
    except InvalidOperation:
        return tx_pb2.Metric(name=name, text_value=value)
    if not number.is_finite():
        return tx_pb2.Metric(name=name, text_value=value)
    scale = max(0, -int(number.as_tuple().exponent))
    if scale > MAX_SCALE or number.adjusted() >= INT64_DIGITS:
        raise click.BadParameter(
            f"{name}: at most {MAX_SCALE} decimal places and {INT64_DIGITS} digits in all",
            param_hint="--metric",
        )
    scaled = int(number.scaleb(scale))
    if not -(2**63) <= scaled < 2**63:
        raise click.BadParameter(f"{name}: too many digits for the chain", param_hint="--metric")
    return tx_pb2.Metric(name=name, int_value=scaled, scale=scale)


def absent(what: str) -> ClientError:
    """The error a query command raises when the record it shows does not exist (exit 1, as
    the node's own not_found)."""
    return ClientError(f"{what} not found", NOT_FOUND.code, NOT_FOUND.codespace)


Send = Callable[[tx_pb2.Msg], None]


def signed(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a tx command --node, --chain-id, --output, --from and --keyring, and call it with
    ``send(msg)``: sign, broadcast, wait for the block, print height and hash."""

    @functools.wraps(fn)
    def command(
        *args: Any,
        node: str,
        chain_id: str,
        output: str,
        from_: str,
        keyring: Path | None,
        **kwargs: Any,
    ) -> None:
        def send(msg: tx_pb2.Msg) -> None:
            outcome = Node(node, chain_id).send(signer(keyring, from_), [msg])
            data = {"hash": outcome.hash, "height": outcome.height, "code": outcome.code}
            emit(output, data, lambda d: f"committed at height {d['height']}  tx {d['hash']}")

        fn(*args, send=send, **kwargs)

    return node_options(sender_options(command))


Claim = Callable[[str], bytes]


def signed_claiming(fn: Callable[..., None]) -> Callable[..., None]:
    """Like ``signed``, for commands that publish weights: also call it with ``claim(digest)``,
    the salt its publication reveals. When nobody holds the digest yet, ``claim`` first commits
    a ClaimDigests for it (one block), so no one who reads the publication in a mempool can
    publish the digest first and keep it (chain.weights.claims); ``--no-claim`` skips that.
    The salt waits in $MODELGOV_HOME/claims until the command succeeds."""

    @functools.wraps(fn)
    def command(
        *args: Any,
        node: str,
        chain_id: str,
        output: str,
        from_: str,
        keyring: Path | None,
        no_claim: bool,
        **kwargs: Any,
    ) -> None:
        client, key = Node(node, chain_id), signer(keyring, from_)
        waiting: list[SaltFile] = []

        def send(msg: tx_pb2.Msg) -> None:
            outcome = client.send(key, [msg])
            data = {"hash": outcome.hash, "height": outcome.height, "code": outcome.code}
            emit(output, data, lambda d: f"committed at height {d['height']}  tx {d['hash']}")

        def claim(digest: str) -> bytes:
            if no_claim:
                return b""
            org = client.account(key.address).org
            saved = SaltFile(default_state_dir(), client.chain_id, org, digest)
            waiting.append(saved)
            return claim_for_publish(client, key, org, digest, saved, say=_to_stderr)

        fn(*args, send=send, claim=claim, **kwargs)
        for saved in waiting:
            saved.remove()

    command = click.option(
        "--no-claim",
        is_flag=True,
        help="publish without claiming the digest first (one block faster, front-runnable)",
    )(command)
    return node_options(sender_options(command))


def _to_stderr(text: str) -> None:
    click.echo(text, err=True)


def reads(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a query command --node, --chain-id and --output, and call it with ``client`` (a
    Node) and ``output``."""

    @functools.wraps(fn)
    def command(*args: Any, node: str, chain_id: str, **kwargs: Any) -> None:
        fn(*args, client=Node(node, chain_id), **kwargs)

    return node_options(command)
