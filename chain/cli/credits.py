"""``modelgov tx credits`` and ``modelgov query balance``: consortium credits, the unit license
fees are paid in."""

from __future__ import annotations

import click

from app.pb.modelgov.v1 import tx_pb2
from chain.cli.options import Send, list_options, reads, signed
from chain.cli.output import emit, emit_list, record
from chain.cli.root import query, tx
from chain.client import Node


@tx.group("credits")
def credits_tx() -> None:
    """Move consortium credits between organisations."""


@credits_tx.command("transfer")
@click.option("--to", "to_org", required=True, help="the receiving organisation")
@click.option("--amount", required=True, type=click.IntRange(1, 2**63 - 1))
@signed
def transfer(to_org: str, amount: int, send: Send) -> None:
    """Pay AMOUNT credits from the sender's organisation to --to (needs the admin role)."""
    send(tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=to_org, amount=amount)))


@query.command("balance")
@click.argument("org", required=False, default="")
@list_options
@reads
def balance(org: str, after: str, limit: int, client: Node, output: str) -> None:
    """An organisation's credits, or (without ORG) every organisation's."""
    if org:
        emit(output, record(client.balance(org)))
        return
    items, nxt = client.balances().take(limit, after)
    emit_list(output, "balances", [record(b) for b in items], nxt, ["org", "amount"])
