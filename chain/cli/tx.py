"""``modelgov tx``: sign a transaction, send it, wait until it is in a block."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2
from app.usage.purposes import PURPOSES
from chain.cli.license import json_arg
from chain.cli.options import Claim, Send, signed, signed_claiming, split_ref


@click.group()
def tx() -> None:
    """Send transactions (each waits for its block and prints height and hash)."""


@tx.group()
def model() -> None:
    """Register models, publish versions, deprecate or revoke them, transfer ownership."""


@model.command("register")
@click.argument("name")
@click.option("--org", required=True, help="owner organisation (the sender's own)")
@click.option("--description", default="", help="what the model is for")
@signed
def register(
    name: str,
    org: str,
    description: str,
    send: Send,
) -> None:
    """Register model NAME for ORG; its id becomes ORG/NAME."""
    msg = tx_pb2.Msg(
        register_model=tx_pb2.RegisterModel(owner_org=org, name=name, description=description)
    )
    send(msg)


@model.command("publish")
@click.argument("model_id", metavar="MODEL")
@click.argument("version")
@click.option("--digest", required=True, help="weights digest, sha256:<64 hex>")
@click.option("--size", "size_bytes", required=True, type=click.IntRange(min=1), help="bytes")
@click.option("--format", "fmt", required=True, help="safetensors, pytorch, onnx, gguf, ...")
@click.option("--framework", default="pytorch", show_default=True)
@click.option("--uri", "uris", multiple=True, help="where the weights can be fetched (repeat)")
@click.option("--parent", "parents", multiple=True, help="MODEL@VERSION it derives from (repeat)")
@click.option("--metric", "metrics", multiple=True, help="NAME=VALUE, e.g. accuracy=0.913 (repeat)")
@click.option("--dataset-digest", "datasets", multiple=True, help="sha256:<hex> (repeat)")
@click.option("--card-digest", default="", help="digest of the model card")
@signed_claiming
def publish(
    model_id: str,
    version: str,
    digest: str,
    size_bytes: int,
    fmt: str,
    framework: str,
    uris: tuple[str, ...],
    parents: tuple[str, ...],
    metrics: tuple[str, ...],
    datasets: tuple[str, ...],
    card_digest: str,
    send: Send,
    claim: Claim,
) -> None:
    """Publish VERSION of MODEL: an immutable record of its weights and lineage. A digest no
    one holds yet is claimed first (one block), so it cannot be front-run."""
    salt = claim(digest)
    msg = tx_pb2.Msg(
        publish_version=tx_pb2.PublishVersion(
            model=model_id,
            version=version,
            weights_digest=digest,
            size_bytes=size_bytes,
            format=fmt,
            framework=framework,
            storage_uris=uris,
            parents=parents,
            metrics=[parse_metric(m) for m in metrics],
            dataset_digests=datasets,
            model_card_digest=card_digest,
            claim_salt=salt,
        )
    )
    send(msg)


def parse_metric(text: str) -> tx_pb2.Metric:
    """NAME=VALUE: a decimal becomes an integer with a scale (0.913 -> 913, scale 3), anything
    else a string. Floats never reach the chain."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--metric")
    try:
        number = Decimal(value)
    except InvalidOperation:
        return tx_pb2.Metric(name=name, text_value=value)
    if not number.is_finite():
        return tx_pb2.Metric(name=name, text_value=value)
    exponent = number.as_tuple().exponent
    scale = max(0, -int(exponent))
    scaled = int(number.scaleb(scale))
    return tx_pb2.Metric(name=name, int_value=scaled, scale=scale)


@model.command("deprecate")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--reason", required=True, help="why users should move on (shown to them)")
@click.option("--revoke", is_flag=True, help="revoke instead: final, for broken or unsafe weights")
@signed
def deprecate(
    ref: str,
    reason: str,
    revoke: bool,
    send: Send,
) -> None:
    """Deprecate (or with --revoke, revoke) a published version."""
    model_id, version = split_ref(ref)
    status = tx_pb2.VERSION_STATUS_REVOKED if revoke else tx_pb2.VERSION_STATUS_DEPRECATED
    msg = tx_pb2.Msg(
        set_version_status=tx_pb2.SetVersionStatus(
            model=model_id, version=version, status=status, reason=reason
        )
    )
    send(msg)


@model.command("transfer")
@click.argument("model_id", metavar="MODEL")
@click.option("--to", "new_owner", required=True, help="the organisation that will own it")
@signed
def transfer(
    model_id: str,
    new_owner: str,
    send: Send,
) -> None:
    """Transfer MODEL to another organisation (needs the admin role)."""
    msg = tx_pb2.Msg(transfer_model=tx_pb2.TransferModel(model=model_id, new_owner_org=new_owner))
    send(msg)


@tx.group("license")
def license_tx() -> None:
    """Deploy license scripts and attach them to versions."""


@license_tx.command("deploy")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--params", "params_json", default="{}", help="JSON object (or @FILE): ctx.params")
@click.option("--description", default="", help="the terms in words, for people")
@signed
def deploy(
    name: str,
    path: Path,
    params_json: str,
    description: str,
    send: Send,
) -> None:
    """Deploy the script at PATH as license ORG/NAME (the sender's org)."""
    try:
        params = from_data(json_arg(params_json, "--params"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--params") from None
    msg = tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(
            name=name, source=path.read_text(), params=params, description=description
        )
    )
    send(msg)


@license_tx.command("attach")
@click.argument("ref", metavar="MODEL@VERSION")
@click.argument("license_id", metavar="LICENSE")
@signed
def attach(
    ref: str,
    license_id: str,
    send: Send,
) -> None:
    """Make LICENSE govern MODEL@VERSION from the next block on."""
    model_id, version = split_ref(ref)
    msg = tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=model_id, version=version, license=license_id)
    )
    send(msg)


@tx.command("use")
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--purpose", required=True, type=click.Choice(PURPOSES))
@click.option("--quantity", default=1, show_default=True, type=click.IntRange(1, 2**32))
@click.option("--max-fee", required=True, type=click.IntRange(0), help="most credits to pay")
@signed
def use(
    ref: str,
    purpose: str,
    quantity: int,
    max_fee: int,
    send: Send,
) -> None:
    """Use a version under its license: pay the fee it asks (up to --max-fee), get a receipt."""
    model_id, version = split_ref(ref)
    msg = tx_pb2.Msg(
        use=tx_pb2.Use(
            model=model_id, version=version, purpose=purpose, quantity=quantity, max_fee=max_fee
        )
    )
    send(msg)


@tx.group()
def credits() -> None:
    """Move consortium credits between organisations."""


@credits.command("transfer")
@click.option("--to", "to_org", required=True, help="the receiving organisation")
@click.option("--amount", required=True, type=click.IntRange(1, 2**63 - 1))
@signed
def transfer_credits(
    to_org: str,
    amount: int,
    send: Send,
) -> None:
    """Pay AMOUNT credits from the sender's organisation to --to (needs the admin role)."""
    msg = tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=to_org, amount=amount))
    send(msg)
