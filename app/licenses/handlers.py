"""The licenses message server: deploy a checked script, attach it to a version.

Each handler assumes its message passed ``app.licenses.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses.
"""

from __future__ import annotations

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.datasets import lineage
from app.licenses import errors, events
from app.licenses.keeper import LicensesKeeper, script_limits
from app.licenses.programs import compiled
from app.models import errors as model_errors
from app.models.keeper import ModelsReader
from app.pb.modelgov.v1 import state_pb2, tx_pb2


def deploy_license(ctx: MsgContext, msg: tx_pb2.DeployLicense) -> Event:
    """Store a license under "<sender's org>/<name>"; its code hash names it in receipts."""
    keeper = LicensesKeeper(ctx.state)
    license_id = f"{ctx.sender.org}/{msg.name}"
    if keeper.license(license_id) is not None:
        raise TxError(errors.LICENSE_EXISTS, f"{license_id} is already deployed")
    program = compiled(msg.source, script_limits(ctx.params))
    record = state_pb2.License(
        id=license_id,
        org=ctx.sender.org,
        name=msg.name,
        author=ctx.sender.address,
        source=msg.source,
        code_hash=program.code_hash,
        params=msg.params,
        description=msg.description,
        height=ctx.env.height,
        time=ctx.env.time,
    )
    keeper.add_license(record)
    return Event(events.DEPLOYED, (("license", license_id), ("code_hash", program.code_hash)))


def attach_license(ctx: MsgContext, msg: tx_pb2.AttachLicense) -> Event:
    """Make a deployed license govern a version from this block on (the owner's publishers);
    on a derivative, its inputs' ``derive(ctx)`` must allow the new license as they did its
    publication (app.datasets.lineage.check_attach)."""
    models = ModelsReader(ctx.state)
    models.owned_by(msg.model, ctx.sender.org)
    version = models.version(msg.model, msg.version)
    if version is None:
        raise TxError(model_errors.VERSION_NOT_FOUND, f"{msg.model}@{msg.version} not published")
    LicensesKeeper(ctx.state).attach_license(
        msg.model, msg.version, msg.license, ctx.sender.address, ctx.env.height
    )
    if version.parents or version.trained_on:
        clock = (ctx.env.height, ctx.env.time)
        lineage.check_attach(ctx.state, ctx.sender, version, msg.license, clock, ctx.gas)
    return events.attached(msg.model, msg.version, msg.license)
