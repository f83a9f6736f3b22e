"""``modelgov tx market`` and the market reads under ``modelgov query``: models for sale,
versions for rent, and the leases that were paid."""

from __future__ import annotations

import functools

import click

from app.market.validation import MAX_PINNED_VERSIONS as MAX_PINNED
from app.pb.modelgov.v1 import tx_pb2
from app.usage.purposes import PURPOSES
from chain.cli.options import Send, absent, list_options, reads, signed, split_ref
from chain.cli.output import emit, emit_list, record
from chain.cli.root import query, tx
from chain.client import Node

PRICE = click.IntRange(1, 2**63 - 1)
REVOKED = tx_pb2.VERSION_STATUS_REVOKED


@tx.group("market")
def market_tx() -> None:
    """Sell models and rent versions for consortium credits (admins of the organisations)."""


@market_tx.command("list")
@click.argument("model", metavar="ORG/NAME")
@click.option("--price", required=True, type=PRICE, help="credits asked")
@signed
def list_model(model: str, price: int, send: Send) -> None:
    """List a model of your organisation for sale, or change its price."""
    send(tx_pb2.Msg(list_model=tx_pb2.ListModel(model=model, price=price)))


@market_tx.command("delist")
@click.argument("model", metavar="ORG/NAME")
@signed
def delist(model: str, send: Send) -> None:
    """Withdraw your organisation's listing of a model."""
    send(tx_pb2.Msg(delist_model=tx_pb2.DelistModel(model=model)))


@market_tx.command("buy")
@click.argument("model", metavar="ORG/NAME")
@click.option("--max-price", required=True, type=PRICE, help="most credits to pay")
@click.option(
    "--version",
    "versions",
    multiple=True,
    help="a version you pay for: the buy is refused if it was revoked first (repeat); "
    f"default: the model's live versions as the node shows them now (the newest {MAX_PINNED})",
)
@signed
def buy(model: str, max_price: int, versions: tuple[str, ...], send: Send) -> None:
    """Buy a listed model: the price goes to the seller and the model to your organisation."""
    body = tx_pb2.BuyModel(model=model, max_price=max_price, versions=versions)
    send(tx_pb2.Msg(buy_model=body), None if versions else pin_live_versions)


def pin_live_versions(client: Node, msg: tx_pb2.Msg) -> None:
    """Name in the buy the model's versions that are live now (the newest MAX_PINNED), so a
    seller who revokes one in the block before the buy sells nothing."""
    body = msg.buy_model
    live = [v.version for v in client.versions(body.model) if v.status != REVOKED]
    body.versions[:] = live[-MAX_PINNED:]
    shown = ", ".join(body.versions) or "none"
    click.echo(f"buying {body.model} with its live versions: {shown}", err=True)


@market_tx.command("offer-lease")
@click.argument("ref", metavar="ORG/NAME@VERSION")
@click.option("--price", required=True, type=PRICE, help="credits per 1,000 blocks")
@click.option("--purpose", "purposes", multiple=True, required=True, type=click.Choice(PURPOSES))
@click.option("--download/--no-download", default=False, help="may renters pull the weights")
@click.option("--max-blocks", default=0, type=click.IntRange(0, 2**32), help="0: no maximum")
@signed
def offer_lease(
    ref: str, price: int, purposes: tuple[str, ...], download: bool, max_blocks: int, send: Send
) -> None:
    """Offer a version for rent: renters use it for --purpose without a further fee."""
    model, version = split_ref(ref)
    offer = tx_pb2.OfferLease(
        model=model,
        version=version,
        price_per_1000_blocks=price,
        purposes=purposes,
        download=download,
        max_blocks=max_blocks,
    )
    send(tx_pb2.Msg(offer_lease=offer))


@market_tx.command("withdraw-lease")
@click.argument("ref", metavar="ORG/NAME@VERSION")
@signed
def withdraw_lease(ref: str, send: Send) -> None:
    """End a version's lease offer; leases already paid run to their end."""
    model, version = split_ref(ref)
    msg = tx_pb2.WithdrawLeaseOffer(model=model, version=version)
    send(tx_pb2.Msg(withdraw_lease_offer=msg))


@market_tx.command("lease")
@click.argument("ref", metavar="ORG/NAME@VERSION")
@click.option("--blocks", required=True, type=click.IntRange(1, 2**32))
@click.option("--max-price", required=True, type=PRICE, help="most credits to pay")
@click.option(
    "--purpose",
    "purposes",
    multiple=True,
    type=click.Choice(PURPOSES),
    help="a use you rent it for (repeat); default: the offer's purposes as the node shows them now",
)
@click.option(
    "--download/--no-download",
    default=None,
    help="whether you need the weights; default: what the offer grants now",
)
@click.option(
    "--license",
    "license_id",
    default="",
    metavar="ORG/NAME",
    help="the license you rent under; default: the one attached now, read from the node",
)
@signed
def lease(
    ref: str,
    blocks: int,
    max_price: int,
    purposes: tuple[str, ...],
    download: bool | None,
    license_id: str,
    send: Send,
) -> None:
    """Rent a version for --blocks blocks from the next one, paid up front. The lease is
    refused if the offer no longer grants the purposes and download it asks for, or another
    license is attached than the one it names; its purposes keep that license while it runs."""
    model, version = split_ref(ref)
    msg = tx_pb2.LeaseVersion(
        model=model,
        version=version,
        blocks=blocks,
        max_price=max_price,
        purposes=purposes,
        download=bool(download),
        license=license_id,
    )
    pin = None
    if not purposes or download is None or not license_id:
        pin = functools.partial(pin_offer_terms, bool(purposes), download is not None)
    send(tx_pb2.Msg(lease_version=msg), pin)


def pin_offer_terms(
    keep_purposes: bool, keep_download: bool, client: Node, msg: tx_pb2.Msg
) -> None:
    """Ask in the lease for the terms the offer grants now and the license attached now
    (those the user did not give), so a lessor who narrows the offer or attaches other terms
    in the block before the lease sells nothing."""
    body = msg.lease_version
    if not (keep_purposes and keep_download):
        offer = client.lease_offer(body.model, body.version)
        if offer is None:
            raise absent(f"a lease offer of {body.model}@{body.version}")
        if not keep_purposes:
            body.purposes[:] = offer.purposes
        if not keep_download:
            body.download = offer.download
    if not body.license:  # so a lessor attaching other terms in the block before sells nothing
        attached = client.attachment(body.model, body.version)
        body.license = attached.license if attached is not None else ""
    terms = f"{', '.join(body.purposes)}, {'with' if body.download else 'without'} download"
    if body.license:
        terms += f", under {body.license}"
    click.echo(f"leasing {body.model}@{body.version} for {terms}", err=True)


@query.command("listings")
@click.argument("model", required=False, default="")
@list_options
@reads
def listings(model: str, after: str, limit: int, client: Node, output: str) -> None:
    """Models for sale, or (with MODEL) one model's listing."""
    if model:
        found = client.listing(model)
        if found is None:
            raise absent(f"a listing of {model}")
        emit(output, record(found))
        return
    items, nxt = client.listings().take(limit, after)
    columns = ["model", "seller_org", "price", "height"]
    emit_list(output, "listings", [record(x) for x in items], nxt, columns)


@query.command("offers")
@click.argument("ref", required=False, default="", metavar="[ORG/NAME@VERSION]")
@list_options
@reads
def offers(ref: str, after: str, limit: int, client: Node, output: str) -> None:
    """Versions offered for rent, or (with ORG/NAME@VERSION) one version's offer."""
    if ref:
        found = client.lease_offer(*split_ref(ref))
        if found is None:
            raise absent(f"a lease offer of {ref}")
        emit(output, record(found))
        return
    items, nxt = client.lease_offers().take(limit, after)
    columns = ["model", "version", "lessor_org", "price_per_1000_blocks", "purposes", "download"]
    emit_list(output, "offers", [record(x) for x in items], nxt, columns)


@query.command("leases")
@click.option("--org", default="", help="the renting organisation")
@click.option("--version", "ref", default="", metavar="ORG/NAME@VERSION")
@list_options
@reads
def leases(org: str, ref: str, after: str, limit: int, client: Node, output: str) -> None:
    """Leases, running or ended, of a renting organisation or of one version."""
    if bool(org) == bool(ref):
        raise click.UsageError("give --org or --version")
    listing = client.leases(org=org) if org else client.leases("", *split_ref(ref))
    items, nxt = listing.take(limit, after)
    columns = ["id", "model", "version", "renter_org", "start_height", "end_height", "paid"]
    emit_list(output, "leases", [record(x) for x in items], nxt, columns)


@query.command("lease")
@click.argument("lease_id", type=click.IntRange(1))
@reads
def lease_record(lease_id: int, client: Node, output: str) -> None:
    """Show one lease."""
    emit(output, record(client.lease(lease_id)))
