"""The registry's message server: check against state, call the keeper, emit one event.

Each handler assumes its message passed ``app.models.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses and then the transaction's
writes are discarded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.datasets import lineage
from app.licenses import errors as license_errors
from app.licenses import events as license_events
from app.licenses.keeper import LicensesKeeper, LicensesReader
from app.members.keeper import MembersReader
from app.models import claims, errors, events
from app.models.claims import ClaimsKeeper
from app.models.expected import OwnerChanged, VersionRevoked
from app.models.keeper import DATASET, MAX_ALIASES, ModelsKeeper, split_ref, version_ref
from app.models.manifest import check_files
from app.pb.modelgov.v1 import state_pb2, tx_pb2


def register_model(ctx: MsgContext, msg: tx_pb2.RegisterModel) -> Event:
    """Create a model owned by the sender's organisation."""
    if msg.owner_org != ctx.sender.org:
        raise TxError(
            errors.ORG_MISMATCH,
            f"sender belongs to {quote(ctx.sender.org, 80)}, not {quote(msg.owner_org, 80)}",
        )
    keeper = ModelsKeeper(ctx.state)
    model_id = f"{msg.owner_org}/{msg.name}"
    if keeper.model(model_id) is not None:
        raise TxError(errors.MODEL_EXISTS, f"{model_id} is already registered")
    if msg.default_license:
        _deployed(ctx, msg.default_license)
    model = state_pb2.Model(
        id=model_id,
        owner_org=msg.owner_org,
        name=msg.name,
        description=msg.description,
        created_height=ctx.env.height,
        created_time=ctx.env.time,
        default_license=msg.default_license,
    )
    keeper.set_model(model)
    return Event(events.REGISTERED, (("model", model_id), ("owner", msg.owner_org)))


def claim_digests(ctx: MsgContext, msg: tx_pb2.ClaimDigests) -> Event:
    """Record the sender's organisation's commitments to digests it will publish in a later
    block (``app.models.claims``); each commitment costs GAS_PER_CLAIM."""
    org = ctx.sender.org
    ctx.gas.consume(claims.GAS_PER_CLAIM * len(msg.commitments))
    expires = ClaimsKeeper(ctx.state).record(org, msg.commitments, ctx.env.height)
    return Event(
        events.DIGESTS_CLAIMED,
        (("org", org), ("count", str(len(msg.commitments))), ("expires_height", str(expires))),
    )


def publish_version(ctx: MsgContext, msg: tx_pb2.PublishVersion) -> Event:
    """Add an immutable version to a model the sender's organisation owns; the weights digest
    (and every listed file) must be free, the sender's organisation's, consented by its
    holder, or held more recently than the claim the publication reveals (see
    ``app.models.keeper`` and ``app.models.claims``)."""
    keeper = ModelsKeeper(ctx.state)
    model = keeper.owned_by(msg.model, ctx.sender.org)
    if model.kind == DATASET:
        raise TxError(errors.IS_DATASET, f"{msg.model} is a dataset: tx dataset publish")
    if msg.files:
        check_files(msg.files, msg.weights_digest, msg.size_bytes)
    if keeper.version(msg.model, msg.version) is not None:
        raise TxError(errors.VERSION_EXISTS, f"{msg.model}@{msg.version} is already published")
    for parent in msg.parents:
        if keeper.version(*split_ref(parent)) is None:
            raise TxError(errors.PARENT_NOT_FOUND, f"parent {parent} is not published")
    if not msg.license and model.default_license:
        inherited = tx_pb2.PublishVersion()
        inherited.CopyFrom(msg)
        inherited.license = model.default_license
        msg = inherited
    pins = _check_inputs(ctx, msg)
    lineage.bind_receipts(ctx.state, msg.model, pins)
    claimed = 0
    if msg.claim_salt:
        claims = ClaimsKeeper(ctx.state)
        claimed = claims.reveal(ctx.sender.org, msg.weights_digest, msg.claim_salt, ctx.env.height)
    keeper.publish(
        model, msg, ctx.sender.address, ctx.env.height, ctx.env.time, ctx.tx_hash, claimed, pins
    )
    if msg.license:
        LicensesKeeper(ctx.state).attach_license(
            msg.model, msg.version, msg.license, ctx.sender.address, ctx.env.height
        )
        ctx.emitted.append(license_events.attached(msg.model, msg.version, msg.license))
    attributes: tuple[tuple[str, str], ...] = (
        ("model", msg.model),
        ("version", msg.version),
        ("ref", version_ref(msg.model, msg.version)),
        ("digest", msg.weights_digest),
    )
    if claimed:
        attributes += (("claim_height", str(claimed)),)
    return Event(events.VERSION_PUBLISHED, attributes)


def _check_inputs(ctx: MsgContext, msg: tx_pb2.PublishVersion) -> list[state_pb2.InputTerms]:
    """What the version's parents and datasets ask of a derivative (app.datasets.lineage), and
    the terms they carry into it (pinned on the version)."""
    if not msg.parents and not msg.trained_on:
        return []
    child = lineage.Derivative(
        model=msg.model,
        version=msg.version,
        owner=ctx.sender.org,
        license=msg.license,
        parents=msg.parents,
        trained_on=msg.trained_on,
        receipts=msg.license_receipts,
        receipt_terms=msg.receipt_terms,
    )
    return lineage.check_inputs(
        ctx.state, ctx.sender, child, (ctx.env.height, ctx.env.time), ctx.gas
    )


def set_version_status(ctx: MsgContext, msg: tx_pb2.SetVersionStatus) -> Event:
    """Deprecate or revoke a version; a revoked version stays revoked."""
    keeper = ModelsKeeper(ctx.state)
    keeper.owned_by(msg.model, ctx.sender.org)
    version = keeper.version(msg.model, msg.version)
    if version is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{msg.model}@{msg.version} is not published")
    if version.status == tx_pb2.VERSION_STATUS_REVOKED:
        raise TxError(errors.BAD_STATUS, f"{msg.model}@{msg.version} is revoked, which is final")
    if version.status == msg.status:
        raise TxError(errors.BAD_STATUS, f"{msg.model}@{msg.version} already has that status")
    keeper.set_status(version, msg.status, msg.reason)
    status = tx_pb2.VersionStatus.Name(msg.status).removeprefix("VERSION_STATUS_").lower()
    return Event(
        events.VERSION_STATUS,
        (("model", msg.model), ("version", msg.version), ("status", status)),
    )


def transfer_model(ctx: MsgContext, msg: tx_pb2.TransferModel) -> Event:
    """Hand a model (and the right to publish its versions) to another organisation."""
    keeper = ModelsKeeper(ctx.state)
    model = keeper.owned_by(msg.model, ctx.sender.org)
    if MembersReader(ctx.state).org(msg.new_owner_org) is None:
        raise TxError(errors.UNKNOWN_ORG, f"no organisation {quote(msg.new_owner_org, 80)}")
    if model.owner_org == msg.new_owner_org:
        raise TxError(errors.SAME_OWNER, f"{msg.model} already belongs to {msg.new_owner_org}")
    previous = keeper.transfer(model, msg.new_owner_org)
    return Event(
        events.TRANSFERRED, (("model", msg.model), ("from", previous), ("to", model.owner_org))
    )


def set_version_status_telling(
    revoked: VersionRevoked,
) -> Callable[[MsgContext, tx_pb2.SetVersionStatus], Event]:
    """``set_version_status``, then, for a revocation, ``revoked`` in the same transaction (the
    machine wires in the market, which withdraws the version's lease offer)."""

    def set_and_tell(ctx: MsgContext, msg: tx_pb2.SetVersionStatus) -> Event:
        event = set_version_status(ctx, msg)
        if msg.status == tx_pb2.VERSION_STATUS_REVOKED:
            ctx.emitted.extend(revoked(ctx.state, msg.model, msg.version))
        return event

    return set_and_tell


def transfer_model_telling(
    owner_changed: OwnerChanged,
) -> Callable[[MsgContext, tx_pb2.TransferModel], Event]:
    """``transfer_model``, then ``owner_changed`` in the same transaction (the machine wires in
    the market, whose listings and lease offers a new owner closes)."""

    def transfer_and_tell(ctx: MsgContext, msg: tx_pb2.TransferModel) -> Event:
        event = transfer_model(ctx, msg)
        ctx.emitted.extend(owner_changed(ctx.state, msg.model, ctx.env.height))
        return event

    return transfer_and_tell


def announce_provider(ctx: MsgContext, msg: tx_pb2.AnnounceProvider) -> Event:
    """Record that the sender's organisation serves the blob of a published digest at a URL."""
    if next(ModelsKeeper(ctx.state).refs_with_digest(msg.digest), None) is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"no published version has digest {msg.digest}")
    provider = state_pb2.Provider(
        digest=msg.digest,
        url=msg.url,
        org=ctx.sender.org,
        address=ctx.sender.address,
        height=ctx.env.height,
    )
    ModelsKeeper(ctx.state).add_provider(provider)
    return Event(events.PROVIDER, (("digest", msg.digest), ("url", msg.url)))


def _deployed(ctx: MsgContext, license_id: str) -> None:
    """Raises TxError(license_not_found) unless ``license_id`` was deployed."""
    if LicensesReader(ctx.state).license(license_id) is None:
        raise TxError(
            license_errors.LICENSE_NOT_FOUND, f"no license {quote(license_id, 80)}; deploy it first"
        )


def set_alias(ctx: MsgContext, msg: tx_pb2.SetAlias) -> Event:
    """Point an alias of a model the sender's organisation owns at one of its versions (or,
    with no version, remove it). A version name is never an alias, so MODEL@NAME keeps one
    meaning. Raises TxError(alias_conflict, version_not_found, alias_not_found, too_many)."""
    keeper = ModelsKeeper(ctx.state)
    keeper.owned_by(msg.model, ctx.sender.org)
    existing = keeper.alias(msg.model, msg.alias)
    if not msg.version:
        if existing is None:
            raise TxError(errors.ALIAS_NOT_FOUND, f"{msg.model} has no alias {msg.alias}")
        keeper.remove_alias(msg.model, msg.alias)
        removed = (("model", msg.model), ("alias", msg.alias), ("version", ""))
        return Event(events.ALIAS_SET, removed)
    if keeper.version(msg.model, msg.alias) is not None:
        raise TxError(errors.ALIAS_CONFLICT, f"{msg.model}@{msg.alias} is a version")
    if keeper.version(msg.model, msg.version) is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{msg.model}@{msg.version} is not published")
    if existing is None and _count(keeper.aliases(msg.model), MAX_ALIASES) >= MAX_ALIASES:
        raise TxError(errors.TOO_MANY, f"{msg.model} has {MAX_ALIASES} aliases, the most allowed")
    keeper.set_alias(
        state_pb2.Alias(
            model=msg.model,
            alias=msg.alias,
            version=msg.version,
            height=ctx.env.height,
            set_by=ctx.sender.address,
        )
    )
    return Event(
        events.ALIAS_SET,
        (("model", msg.model), ("alias", msg.alias), ("version", msg.version)),
    )


def _count(items: Iterator[object], bound: int) -> int:
    """How many ``items`` there are, counting no further than ``bound``."""
    return sum(1 for _ in itertools.islice(items, bound))


def set_default_license(ctx: MsgContext, msg: tx_pb2.SetDefaultLicense) -> Event:
    """Set (or clear) the license the model's future versions inherit when published without
    one; versions already published keep their attachments."""
    keeper = ModelsKeeper(ctx.state)
    model = keeper.owned_by(msg.model, ctx.sender.org)
    if msg.license:
        _deployed(ctx, msg.license)
    model.default_license = msg.license
    keeper.set_model(model)
    return Event(events.DEFAULT_LICENSE, (("model", msg.model), ("license", msg.license)))
