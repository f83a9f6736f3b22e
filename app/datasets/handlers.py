"""The datasets message server: register a dataset, publish its versions.

A dataset is written as a model of kind "dataset" (``app.models.keeper``), so its id is taken in
the one namespace, its digests are held, claimed and consented like weights, its versions carry
licenses and receipts, and the stores serve its bytes by the same read rule. Each handler
assumes its message passed ``app.datasets.validation`` and the sender holds the route's role.
"""

from __future__ import annotations

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.datasets import errors, events
from app.datasets.keeper import DatasetsKeeper
from app.licenses import events as license_events
from app.licenses.keeper import LicensesKeeper
from app.models import errors as model_errors
from app.models.claims import ClaimsKeeper
from app.models.keeper import DATASET, ModelsKeeper, version_ref
from app.models.manifest import check_files
from app.pb.modelgov.v1 import state_pb2, tx_pb2


def register_dataset(ctx: MsgContext, msg: tx_pb2.RegisterDataset) -> Event:
    """Create a dataset owned by the sender's organisation; its id must be free of models and
    datasets alike."""
    if msg.owner_org != ctx.sender.org:
        raise TxError(
            errors.ORG_MISMATCH,
            f"sender belongs to {quote(ctx.sender.org, 80)}, not {quote(msg.owner_org, 80)}",
        )
    keeper = ModelsKeeper(ctx.state)
    dataset_id = f"{msg.owner_org}/{msg.name}"
    taken = keeper.model(dataset_id)
    if taken is not None:
        what = "dataset" if taken.kind == DATASET else "model"
        raise TxError(errors.ID_TAKEN, f"{dataset_id} is already a registered {what}")
    keeper.set_model(
        state_pb2.Model(
            id=dataset_id,
            owner_org=msg.owner_org,
            name=msg.name,
            description=msg.description,
            created_height=ctx.env.height,
            created_time=ctx.env.time,
            kind=DATASET,
        )
    )
    DatasetsKeeper(ctx.state).add(dataset_id)
    return Event(events.REGISTERED, (("dataset", dataset_id), ("owner", msg.owner_org)))


def publish_dataset(ctx: MsgContext, msg: tx_pb2.PublishDataset) -> Event:
    """Add an immutable version to a dataset the sender's organisation owns, by the models'
    one way of building a version (its digest held or consented, a claim revealed)."""
    keeper = ModelsKeeper(ctx.state)
    dataset = keeper.owned_by(msg.dataset, ctx.sender.org)
    if dataset.kind != DATASET:
        raise TxError(errors.NOT_DATASET, f"{msg.dataset} is a model: tx model publish")
    if keeper.version(msg.dataset, msg.version) is not None:
        raise TxError(
            model_errors.VERSION_EXISTS, f"{msg.dataset}@{msg.version} is already published"
        )
    if msg.files:
        check_files(msg.files, msg.digest, msg.size_bytes)
    claimed = 0
    if msg.claim_salt:
        claims = ClaimsKeeper(ctx.state)
        claimed = claims.reveal(ctx.sender.org, msg.digest, msg.claim_salt, ctx.env.height)
    keeper.publish(
        dataset,
        as_version(msg),
        ctx.sender.address,
        ctx.env.height,
        ctx.env.time,
        ctx.tx_hash,
        claimed,
    )
    if msg.license:
        LicensesKeeper(ctx.state).attach_license(
            msg.dataset, msg.version, msg.license, ctx.sender.address, ctx.env.height
        )
        ctx.emitted.append(license_events.attached(msg.dataset, msg.version, msg.license))
    return Event(
        events.VERSION_PUBLISHED,
        (
            ("dataset", msg.dataset),
            ("version", msg.version),
            ("ref", version_ref(msg.dataset, msg.version)),
            ("digest", msg.digest),
        ),
    )


def as_version(msg: tx_pb2.PublishDataset) -> tx_pb2.PublishVersion:
    """The dataset version as the registry builds every version."""
    return tx_pb2.PublishVersion(
        model=msg.dataset,
        version=msg.version,
        weights_digest=msg.digest,
        size_bytes=msg.size_bytes,
        format=msg.format,
        storage_uris=msg.storage_uris,
        model_card_digest=msg.card_digest,
        license=msg.license,
        files=msg.files,
        consent_receipts=msg.consent_receipts,
    )
