"""Options and input parsing shared by the command groups: the node, the signer, the list
bounds, MODEL@VERSION and NAME=VALUE metrics."""

from __future__ import annotations

import base64
import functools
import json
import re
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from app.core.errors import NOT_FOUND
from app.core.names import MAX_SCALE
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain import config
from chain.cli.output import OUTPUT_CHOICE, emit, tx_report, tx_text
from chain.client import ClientError, Node
from chain.keys import Key, Keyring, KeyringError, default_keyring
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
    """The keyring at ``path`` or the default one; an encrypted key's passphrase comes from
    $MODELGOV_KEYRING_PASSPHRASE, else a prompt on a terminal."""
    return Keyring(path or default_keyring(), passphrase=ask_passphrase)


def ask_passphrase(name: str) -> str:
    """Prompt for key ``name``'s passphrase when a person is at the terminal ("" otherwise, so
    a script gets the keyring's error saying how to give it)."""
    if not sys.stdin.isatty():
        return ""
    return str(click.prompt(f"passphrase of key {name}", hide_input=True, err=True))


def signer(keyring: Path | None, name: str) -> Key:
    """Load the signing key ``name``."""
    return keyring_at(keyring).get(name)


ADDRESS = re.compile(r"\A[0-9a-fA-F]{40}\Z")


if TYPE_CHECKING:
    _StrParam = click.ParamType[str]
else:  # click before 8.2 has no type parameter
    _StrParam = click.ParamType


class AddressOrKey(_StrParam):
    """An account: its 40-hex address, or the name of a key in the keyring (--keyring, else
    the default), whose address is read from the key file's public part."""

    name = "ADDRESS|KEY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text or ADDRESS.fullmatch(text):
            return text.lower()
        directory = ctx.params.get("keyring") if ctx is not None else None
        try:
            return keyring_at(directory).public(text)[0]
        except KeyringError as exc:
            self.fail(f"{text!r} is neither an address (40 hex) nor a key: {exc}", param, ctx)


ACCOUNT = AddressOrKey()


def pubkey_of(text: str, keyring: Path | None = None) -> bytes:
    """A compressed public key given as 66 hex, or as the name of a key in the keyring."""
    try:
        raw = bytes.fromhex(text)
        if len(raw) == 33:
            return raw
    except ValueError:
        pass
    try:
        return keyring_at(keyring).public(text)[1]
    except KeyringError as exc:
        raise click.BadParameter(
            f"{text!r} is neither a public key (66 hex) nor a key: {exc}"
        ) from None


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


Pin = Callable[[Node, tx_pb2.Msg], None]
"""What a command reads from the node into its message just before it is signed: the terms
the user saw (a lease offer, a model's live versions), so a counterparty who changes them in
the block before the tx gets a refusal, not the user's credits."""


class Send(Protocol):
    """Sign and send ``msg``; ``pin`` first fills in what the user left to the node."""

    def __call__(self, msg: tx_pb2.Msg, pin: Pin | None = None) -> None: ...


MODEL_FIELDS = ("model", "base_model", "target_model", "license", "default_license")
"""Fields that name a model (or a license, ORG/NAME too) in the messages the CLI sends
(qualified by ``qualify``)."""
REF_FIELDS = ("parents",)


def qualify(msg: tx_pb2.Msg, org: str) -> None:
    """Give bare model NAMEs (and NAME@VERSION parents) the sender's organisation, so every
    command takes ORG/NAME or a bare NAME of your own organisation."""
    kind = msg.WhichOneof("sum")
    if kind is None:
        return
    body = getattr(msg, kind)
    names = {f.name for f in body.DESCRIPTOR.fields}
    for field in MODEL_FIELDS:
        value = getattr(body, field) if field in names else ""
        if isinstance(value, str) and value and "/" not in value:
            setattr(body, field, f"{org}/{value}")
    for field in REF_FIELDS:
        if field in names:
            refs = getattr(body, field)
            for i, ref in enumerate(refs):
                if "/" not in ref.partition("@")[0]:
                    refs[i] = f"{org}/{ref}"


def needs_org(msg: tx_pb2.Msg) -> bool:
    """Whether ``msg`` names a model without its organisation."""
    kind = msg.WhichOneof("sum")
    if kind is None:
        return False
    body = getattr(msg, kind)
    names = {f.name for f in body.DESCRIPTOR.fields}
    bare = [getattr(body, f) for f in MODEL_FIELDS if f in names]
    refs = [r.partition("@")[0] for f in REF_FIELDS if f in names for r in getattr(body, f)]
    return any(isinstance(v, str) and v and "/" not in v for v in [*bare, *refs])


RESOLVED = ("use", "attach_license", "set_version_status", "attest", "set_alias")
"""Messages whose (model, version) may be written MODEL@ALIAS or MODEL@latest: the CLI signs
the version the name stands for when it sends."""


def resolve_names(client: Node, msg: tx_pb2.Msg) -> None:
    """Replace an alias or ``latest`` in a RESOLVED message's version by the version it names
    now (a version of that name wins; an alias never shares a version's name)."""
    kind = msg.WhichOneof("sum")
    if kind not in RESOLVED:
        return
    body = getattr(msg, kind)
    if body.version and ALIAS_LIKE.fullmatch(body.version):
        body.version = version_of(client, f"{body.model}@{body.version}").version


ALIAS_LIKE = re.compile(r"\A[a-z][a-z0-9_-]{0,31}\Z")


QUOTE = 2**64 - 1
"""A Use's max_fee placeholder for "the fee the license quotes now" (``tx use`` without
--max-fee); ``deliver`` replaces it by a dry run before signing, so it never reaches a block."""


def quote_use(client: Node, key: Key, use: tx_pb2.Use) -> None:
    """Put the license's quoted fee into ``use.max_fee``, and warn on stderr when the version
    is deprecated or revoked; a denial raises ClientError with the license's reason."""
    found = client.version(use.model, use.version)
    if found.status != tx_pb2.VERSION_STATUS_ACTIVE:
        status = tx_pb2.VersionStatus.Name(found.status).removeprefix("VERSION_STATUS_").lower()
        _to_stderr(f"warning: {use.model}@{use.version} is {status}: {found.status_reason}")
    if use.max_fee != QUOTE:
        return
    decision = client.evaluate(key.address, use.model, use.version, use.purpose, use.quantity)
    if not decision.allowed:
        raise ClientError(
            f"{use.model}@{use.version}: the license denies {use.purpose}: {decision.reason}"
        )
    use.max_fee = decision.fee


def deliver(
    client: Node, key: Key, msg: tx_pb2.Msg, output: str, memo: str, pin: Pin | None = None
) -> None:
    """Qualify bare names, resolve aliases, pin what the command left to the node, quote a
    use's fee, sign, send, wait for the block; print the tx report (height, hash, the ids and
    amounts its events carry)."""
    if needs_org(msg):
        qualify(msg, client.account(key.address).org)
    resolve_names(client, msg)
    if pin is not None:
        pin(client, msg)
    if msg.WhichOneof("sum") == "use":
        quote_use(client, key, msg.use)
    outcome = client.send(key, [msg], memo=memo)
    data = tx_report(outcome.hash, outcome.height, outcome.code, outcome.events)
    emit(output, data, tx_text)


def tx_options(fn: F) -> F:
    """--memo and --generate-only for every tx command."""
    fn = click.option(
        "--generate-only",
        is_flag=True,
        help="print the unsigned transaction (JSON) instead of sending it: sign it with "
        "`tx sign FILE` where the key is, send it with `tx broadcast FILE`",
    )(fn)
    return click.option("--memo", default="", help="a note carried in the transaction")(fn)


def unsigned(sender: str, chain_id: str, msgs: list[tx_pb2.Msg], memo: str) -> dict[str, Any]:
    """An unsigned transaction as `--generate-only` prints it and `tx sign` reads it: the
    messages (base64 of their protobuf bytes, and readable), the memo, the chain id (may be
    "") and the address that must sign it."""
    from chain.render import plain

    return {
        "type": "modelgov/unsigned-tx",
        "chain_id": chain_id,
        "sender": sender,
        "memo": memo,
        "messages": [base64.b64encode(m.SerializeToString()).decode() for m in msgs],
        "readable": [plain(m) for m in msgs],
    }


def generate(keyring: Path | None, from_: str, chain_id: str, msg: tx_pb2.Msg, memo: str) -> None:
    """Print ``msg`` unsigned for --generate-only: only the key's public part is read."""
    address, _ = keyring_at(keyring).public(from_)
    click.echo(json.dumps(unsigned(address, chain_id, [msg], memo), indent=2, sort_keys=True))


def signed(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a tx command --node, --chain-id, --output, --from, --keyring and --memo, and call
    it with ``send(msg)``: sign, broadcast, wait for the block, print the tx report."""

    @functools.wraps(fn)
    def command(
        *args: Any,
        node: str,
        chain_id: str,
        output: str,
        from_: str,
        keyring: Path | None,
        memo: str,
        generate_only: bool,
        **kwargs: Any,
    ) -> None:
        def send(msg: tx_pb2.Msg, pin: Pin | None = None) -> None:
            if generate_only:
                if msg.WhichOneof("sum") == "use" and msg.use.max_fee == QUOTE:
                    raise click.UsageError("--generate-only needs --max-fee (nothing is asked)")
                if pin is not None:
                    raise click.UsageError(
                        "--generate-only reads nothing from the node: give the terms to pin "
                        "(--purpose, --download/--no-download and --license, or --version)"
                    )
                generate(keyring, from_, chain_id, msg, memo)
                return
            deliver(Node(node, chain_id), signer(keyring, from_), msg, output, memo, pin)

        fn(*args, send=send, **kwargs)

    return node_options(sender_options(tx_options(command)))


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
        memo: str,
        generate_only: bool,
        no_claim: bool,
        **kwargs: Any,
    ) -> None:
        client = Node(node, chain_id)
        waiting: list[SaltFile] = []
        key = functools.cache(lambda: signer(keyring, from_))  # one passphrase prompt

        def send(msg: tx_pb2.Msg) -> None:
            if generate_only:
                generate(keyring, from_, chain_id, msg, memo)
                return
            deliver(client, key(), msg, output, memo)

        def claim(digest: str) -> bytes:
            if no_claim or generate_only:
                return b""
            org = client.account(key().address).org
            saved = SaltFile(default_state_dir(), client.chain_id, org, digest)
            waiting.append(saved)
            return claim_for_publish(client, key(), org, digest, saved, say=_to_stderr)

        fn(*args, send=send, claim=claim, **kwargs)
        for saved in waiting:
            saved.remove()

    command = click.option(
        "--no-claim",
        is_flag=True,
        help="publish without claiming the digest first (one block faster, front-runnable)",
    )(command)
    return node_options(sender_options(tx_options(command)))


def _to_stderr(text: str) -> None:
    click.echo(text, err=True)


def reads(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a query command --node, --chain-id and --output, and call it with ``client`` (a
    Node) and ``output``."""

    @functools.wraps(fn)
    def command(*args: Any, node: str, chain_id: str, **kwargs: Any) -> None:
        fn(*args, client=Node(node, chain_id), **kwargs)

    return node_options(command)
