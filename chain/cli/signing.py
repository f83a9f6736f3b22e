"""``modelgov tx sign FILE`` and ``modelgov tx broadcast FILE``: cold-key signing.

Any tx command with ``--generate-only`` prints the unsigned transaction (JSON: messages, memo,
chain id, the address that must sign). ``tx sign`` signs it where the key is, with the account's
next nonce (asked of ``--node``) or, offline, ``--nonce`` and ``--chain-id``; it prints the
signed transaction (JSON: base64 bytes and hash). ``tx broadcast`` sends a signed transaction
from any machine and waits for its block, printing the tx report as every tx command does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import click

from app.pb.modelgov.v1 import tx_pb2
from chain.cli.options import needs_org, node_options, qualify, sender_options, signer
from chain.cli.output import emit, tx_report, tx_text
from chain.cli.root import tx
from chain.client import ClientError, Node

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _read(path: Path, kind: str) -> dict[str, Any]:
    """A JSON transaction file of ``kind``; a usage error otherwise."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="FILE") from None
    if not isinstance(data, dict) or data.get("type") != kind:
        raise click.BadParameter(f"{path} is not a {kind} file", param_hint="FILE")
    return data


@tx.command("sign")
@click.argument("path", metavar="FILE", type=FILE)
@click.option("--nonce", type=click.IntRange(0), default=None, help="offline: the nonce to use")
@node_options
@sender_options
def sign(
    path: Path,
    nonce: int | None,
    node: str,
    chain_id: str,
    output: str,
    from_: str,
    keyring: Path | None,
) -> None:
    """Sign the unsigned transaction in FILE (from --generate-only) with --from's key; offline
    with --nonce and --chain-id."""
    data = _read(path, "modelgov/unsigned-tx")
    key = signer(keyring, from_)
    if data.get("sender") and data["sender"] != key.address:
        raise click.BadParameter(f"FILE is to be signed by {data['sender']}, not {key.address}")
    msgs = [tx_pb2.Msg.FromString(base64.b64decode(m)) for m in data["messages"]]
    client = Node(node, chain_id or data.get("chain_id", ""))
    if nonce is None:
        org = client.account(key.address).org
        for msg in msgs:
            if needs_org(msg):
                qualify(msg, org)
    elif not (chain_id or data.get("chain_id")):
        raise click.UsageError("signing offline (--nonce) needs --chain-id")
    raw = client.sign(key, msgs, nonce=nonce, memo=str(data.get("memo", "")))
    signed = {
        "type": "modelgov/signed-tx",
        "tx": base64.b64encode(raw).decode(),
        "hash": hashlib.sha256(raw).hexdigest(),
    }
    click.echo(json.dumps(signed, indent=2, sort_keys=True))


@tx.command("broadcast")
@click.argument("path", metavar="FILE", type=FILE)
@node_options
def broadcast(path: Path, node: str, chain_id: str, output: str) -> None:
    """Send the signed transaction in FILE (from `tx sign`) and wait for its block."""
    data = _read(path, "modelgov/signed-tx")
    client = Node(node, chain_id)
    outcome = client.wait_for_tx(client.broadcast(base64.b64decode(data["tx"])))
    if outcome.code != 0:
        raise ClientError(
            f"tx {outcome.hash.lower()} failed in block {outcome.height}: {outcome.log}",
            outcome.code,
            outcome.codespace,
            outcome.hash,
            outcome.log,
        )
    emit(output, tx_report(outcome.hash, outcome.height, outcome.code, outcome.events), tx_text)
