"""The round message server: open, submit, finalize; each returns one event.

Updates and aggregates are versions of the round's target model, written with the registry's
keeper: an update is published at submit time as "<target_version>-update-<org>" (parent: the
base), and the aggregate as "<target_version>" with the base and every included update as its
parents, so the registry's lineage names every contribution. Opening the round is the target
owner's consent to those versions.

Each handler assumes its message passed ``app.federated.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.attestations.keeper import AttestationsKeeper
from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.datasets import lineage
from app.federated import errors, events
from app.federated.keeper import FederatedKeeper
from app.federated.validation import update_version
from app.members.keeper import MembersReader
from app.models.claims import ClaimsKeeper
from app.models.keeper import DATASET, ModelsKeeper, version_ref
from app.pb.modelgov.v1 import federated_pb2, state_pb2, tx_pb2

FORMAT = "safetensors"
FRAMEWORK = "pytorch"
MAX_OPEN_PER_ORG = 64
"""Rounds one organisation may have open at once. The end of a block closes, without gas,
every open round whose deadline it is: unbounded, one publisher could aim any number of rounds
at one height and make that block take minutes on every validator."""


def open_round(ctx: MsgContext, msg: tx_pb2.OpenRound) -> Event:
    """Open a round on a published base; the sender's org must own the target model."""
    models = ModelsKeeper(ctx.state)
    target = models.owned_by(msg.target_model, ctx.sender.org)
    if models.version(msg.base_model, msg.base_version) is None:
        raise TxError(errors.BASE_NOT_FOUND, f"{msg.base_model}@{msg.base_version} not published")
    _check_target_free(ctx, msg.target_model, msg.target_version)
    [base_terms] = _check_derivative(ctx, msg, target)
    lineage.bind_receipts(ctx.state, msg.target_model, [base_terms])
    members = MembersReader(ctx.state)
    for org in msg.invited_orgs:
        if members.org(org) is None:
            raise TxError(errors.UNKNOWN_ORG, f"no organisation {quote(org, 64)}")
    if msg.deadline_height <= ctx.env.height:
        raise TxError(errors.BAD_DEADLINE, f"deadline {msg.deadline_height} is not after now")
    if FederatedKeeper(ctx.state).open_count(ctx.sender.org, MAX_OPEN_PER_ORG) >= MAX_OPEN_PER_ORG:
        raise TxError(
            errors.TOO_MANY_OPEN,
            f"{ctx.sender.org} has {MAX_OPEN_PER_ORG} rounds open; finalize one or let it expire",
        )
    record = FederatedKeeper(ctx.state).open(
        federated_pb2.Round(
            opener=ctx.sender.address,
            opener_org=ctx.sender.org,
            base=version_ref(msg.base_model, msg.base_version),
            target_model=msg.target_model,
            target_version=msg.target_version,
            invited_orgs=sorted(msg.invited_orgs),
            min_participants=msg.min_participants,
            deadline_height=msg.deadline_height,
            status=federated_pb2.ROUND_STATUS_OPEN,
            open_height=ctx.env.height,
            base_terms=base_terms,
        )
    )
    return Event(events.ROUND_OPENED, (("id", str(record.id)), ("base", record.base)))


def _check_derivative(
    ctx: MsgContext, msg: tx_pb2.OpenRound, target: state_pb2.Model
) -> list[state_pb2.InputTerms]:
    """The round's versions derive from the base: a model's round (not a dataset's, on a model
    base), licensed like any derivative (app.datasets.lineage: the opener's fine-tune receipt of
    another org's base, the base license's derive(ctx) with no license on the child yet). The
    base's terms now, which the round's versions carry."""
    base = ModelsKeeper(ctx.state).model(msg.base_model)
    if target.kind == DATASET or (base is not None and base.kind == DATASET):
        raise TxError(errors.INVALID_FIELD, "federated rounds train models from a model base")
    child = lineage.Derivative(
        model=msg.target_model,
        version=msg.target_version,
        owner=ctx.sender.org,
        license="",
        parents=[version_ref(msg.base_model, msg.base_version)],
        trained_on=[],
        receipts=msg.license_receipts,
        receipt_terms=msg.receipt_terms,
    )
    return lineage.check_inputs(
        ctx.state, ctx.sender, child, (ctx.env.height, ctx.env.time), ctx.gas
    )


def _round_terms(
    ctx: MsgContext, record: federated_pb2.Round, parents: list[str]
) -> list[state_pb2.InputTerms]:
    """The terms a round's version carries from ``parents``: for the base, those pinned when
    the round opened (so its owner attaching another license mid-round changes nothing), for
    the updates (the target owner's own versions) those in force now; a round opened before
    pinning pins the base's in force now."""
    pins = lineage.pin_inputs(ctx.state, parents)
    if not record.HasField("base_terms"):
        return pins
    return [record.base_terms if pin.ref == record.base else pin for pin in pins]


def _check_target_owned(ctx: MsgContext, record: federated_pb2.Round) -> None:
    """The opener's organisation still owns the target model: a round does not outlive a sale
    or transfer of it (else the seller's invitees go on publishing weights into the buyer's
    model). Raises TxError(target_sold)."""
    model = ModelsKeeper(ctx.state).model(record.target_model)
    if model is None or model.owner_org != record.opener_org:
        raise TxError(
            errors.TARGET_SOLD,
            f"{record.target_model} is no longer {record.opener_org}'s: round {record.id} is over",
        )


def _check_target_free(ctx: MsgContext, model_id: str, version: str) -> None:
    taken = ModelsKeeper(ctx.state).version(model_id, version) is not None
    if taken or FederatedKeeper(ctx.state).target_claimed(model_id, version):
        raise TxError(errors.TARGET_TAKEN, f"{model_id}@{version} is published or claimed")


def _open_round(ctx: MsgContext, round_id: int) -> federated_pb2.Round:
    """The round if it is open and its deadline has not passed; raises TxError."""
    record = FederatedKeeper(ctx.state).round(round_id)
    if record is None:
        raise TxError(errors.ROUND_NOT_FOUND, f"no round {round_id}")
    if record.status != federated_pb2.ROUND_STATUS_OPEN:
        raise TxError(errors.ROUND_CLOSED, f"round {round_id} is no longer open")
    if ctx.env.height > record.deadline_height:
        raise TxError(errors.ROUND_CLOSED, f"round {round_id} closed at {record.deadline_height}")
    return record


def submit_update(ctx: MsgContext, msg: tx_pb2.SubmitUpdate) -> Event:
    """Record an invited org's update and publish it as a version of the target model (not
    once another organisation revoked the base: nothing new derives from it)."""
    record = _open_round(ctx, msg.round_id)
    _check_target_owned(ctx, record)
    lineage.check_live_parents(ctx.state, record.opener_org, [record.base])
    org = ctx.sender.org
    if org not in record.invited_orgs:
        raise TxError(errors.NOT_INVITED, f"{org} is not invited to round {record.id}")
    if any(s.org == org for s in record.submissions):
        raise TxError(errors.ALREADY_SUBMITTED, f"{org} already submitted to round {record.id}")
    name = update_version(record.target_version, org)
    _publish(
        ctx,
        record.target_model,
        name,
        msg.update_digest,
        msg.size_bytes,
        _round_terms(ctx, record, [record.base]),
        msg.claim_salt,
    )
    submission = federated_pb2.Submission(
        org=org,
        submitter=ctx.sender.address,
        update_digest=msg.update_digest,
        size_bytes=msg.size_bytes,
        sample_count=msg.sample_count,
        version=name,
        height=ctx.env.height,
        attestation_id=_attest_update(ctx, record, name, msg.metrics),
    )
    FederatedKeeper(ctx.state).add_submission(record, submission)
    ref = version_ref(record.target_model, name)
    return Event(events.UPDATE_SUBMITTED, (("round", str(record.id)), ("ref", ref)))


def _attest_update(
    ctx: MsgContext, record: federated_pb2.Round, name: str, metrics: Sequence[tx_pb2.Metric]
) -> int:
    """The training attestation of an update's metrics; its id, or 0 without metrics."""
    if not metrics:
        return 0
    attestation = federated_pb2.Attestation(
        model=record.target_model,
        version=name,
        kind="training",
        metrics=metrics,
        method=f"federated round {record.id} update from {record.base}",
        attester=ctx.sender.address,
        org=ctx.sender.org,
        height=ctx.env.height,
        time=ctx.env.time,
        tx_hash=ctx.tx_hash,
    )
    return AttestationsKeeper(ctx.state).append(attestation).id


def finalize_round(ctx: MsgContext, msg: tx_pb2.FinalizeRound) -> Event:
    """Publish the aggregate of the included updates; its parents are the base and updates
    (refused once another organisation revoked the base, as a submission is)."""
    record = _open_round(ctx, msg.round_id)
    if ctx.sender.org != record.opener_org:
        raise TxError(errors.NOT_OPENER, f"round {record.id} was opened by {record.opener_org}")
    ModelsKeeper(ctx.state).owned_by(record.target_model, ctx.sender.org)
    lineage.check_live_parents(ctx.state, record.opener_org, [record.base])
    included = sorted(msg.included)
    by_org = {s.org: s for s in record.submissions}
    for org in included:
        if org not in by_org:
            raise TxError(errors.NOT_SUBMITTED, f"{org} submitted no update to round {record.id}")
    if len(included) < record.min_participants:
        raise TxError(errors.TOO_FEW, f"{len(included)} included, {record.min_participants} needed")
    updates = [version_ref(record.target_model, by_org[org].version) for org in included]
    terms = _round_terms(ctx, record, [record.base, *updates])
    model, name = record.target_model, record.target_version
    _publish(ctx, model, name, msg.aggregate_digest, msg.size_bytes, terms, msg.claim_salt)
    contributors = [
        federated_pb2.Contributor(org=o, sample_count=by_org[o].sample_count) for o in included
    ]
    FederatedKeeper(ctx.state).finalize(record, contributors, msg.aggregate_digest, ctx.env.height)
    ref = version_ref(model, name)
    return Event(events.ROUND_FINALIZED, (("id", str(record.id)), ("ref", ref)))


def _publish(
    ctx: MsgContext,
    model_id: str,
    name: str,
    digest: str,
    size: int,
    terms: list[state_pb2.InputTerms],
    claim_salt: bytes = b"",
) -> None:
    """Write a version the way PublishVersion does, on behalf of the round, its parents those
    ``terms`` name (with their terms); a claim salt reveals the sender's earlier claim of the
    digest (app.models.claims), as a publication's does."""
    models = ModelsKeeper(ctx.state)
    model = models.model(model_id)
    if model is None or models.version(model_id, name) is not None:
        raise TxError(errors.TARGET_TAKEN, f"{model_id}@{name} is published or gone")
    described = tx_pb2.PublishVersion(
        model=model_id,
        version=name,
        weights_digest=digest,
        size_bytes=size,
        format=FORMAT,
        framework=FRAMEWORK,
        parents=[pin.ref for pin in terms],
    )
    claimed = 0
    if claim_salt:
        claimed = ClaimsKeeper(ctx.state).reveal(ctx.sender.org, digest, claim_salt, ctx.env.height)
    models.publish(
        model,
        described,
        ctx.sender.address,
        ctx.env.height,
        ctx.env.time,
        ctx.tx_hash,
        claimed,
        terms,
    )
