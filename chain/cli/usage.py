"""``modelgov tx use`` and the usage reads under ``modelgov query``: a use of a version under
its license, and the receipts and licensor totals it leaves."""

from __future__ import annotations

import click

from app.pb.modelgov.v1 import tx_pb2
from app.usage.purposes import PURPOSES
from chain.cli.options import ACCOUNT, QUOTE, Send, list_options, reads, signed, split_ref
from chain.cli.output import emit, emit_list, record
from chain.cli.root import query, tx
from chain.client import MAX_U64, Node


@tx.command("use")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--purpose", required=True, type=click.Choice(PURPOSES))
@click.option("--quantity", default=1, show_default=True, type=click.IntRange(1, 2**32))
@click.option(
    "--max-fee",
    default=None,
    type=click.IntRange(0),
    help="most credits to pay (default: the fee the license quotes now, by a dry run)",
)
@signed
def use(ref: str, purpose: str, quantity: int, max_fee: int | None, send: Send) -> None:
    """Use a version under its license: pay the fee it asks (up to --max-fee), get a receipt.
    Without --max-fee the license is asked first (a dry run, nothing sent) and its fee is the
    most paid; a denial stops here with its reason."""
    model_id, version = split_ref(ref)
    msg = tx_pb2.Use(
        model=model_id, version=version, purpose=purpose, quantity=quantity, max_fee=max_fee or 0
    )
    if max_fee is None:
        msg.max_fee = QUOTE
    send(tx_pb2.Msg(use=msg))


@query.command("receipts")
@click.option("--model", default="", help="MODEL or MODEL@VERSION")
@click.option("--version", "version_", default="", help="with --model (or write MODEL@VERSION)")
@click.option("--consumer", default="", type=ACCOUNT, help="consumer account (address or key)")
@click.option("--consumer-org", default="")
@click.option("--licensor", default="")
@click.option("--from-height", default=0, type=click.IntRange(0))
@click.option("--to-height", default=MAX_U64, type=click.IntRange(0, MAX_U64))
@list_options
@reads
def receipts(
    model: str,
    version_: str,
    consumer: str,
    consumer_org: str,
    licensor: str,
    from_height: int,
    to_height: int,
    after: str,
    limit: int,
    client: Node,
    output: str,
) -> None:
    """List usage receipts, filtered, in the order they were written."""
    model, sep, named = model.partition("@")
    version_ = named if sep else version_
    listing = client.receipts(
        model, version_, consumer, consumer_org, licensor, from_height, to_height
    )
    items, nxt = listing.take(limit, after)
    columns = ["id", "height", "model", "version", "consumer_org", "purpose", "quantity", "fee"]
    emit_list(output, "receipts", [record(r) for r in items], nxt, columns)


@query.command("receipt")
@click.argument("receipt_id", type=click.IntRange(1))
@reads
def receipt(receipt_id: int, client: Node, output: str) -> None:
    """Show one receipt, and under ``licensed_model`` the derivative model it licensed: a
    receipt of an allowed fine-tune or training use licenses the first model published from it
    and no other ("" while it licensed none)."""
    shown = record(client.receipt(receipt_id))
    shown["licensed_model"] = client.receipt_binding(receipt_id) or ""
    emit(output, shown)


@query.command("totals")
@click.argument("licensor")
@reads
def totals(licensor: str, client: Node, output: str) -> None:
    """What a licensor has earned: receipts, quantity, fees."""
    emit(output, record(client.totals(licensor)))
