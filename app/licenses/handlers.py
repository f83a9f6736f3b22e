"""The licenses message server: deploy a checked script, attach it to a version."""

from __future__ import annotations

import re

from app.core import names
from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.gas import DEPLOY_GAS_PER_BYTE
from app.core.text import quote
from app.core.valuemap import to_data, validate_params
from app.licenses import errors, events
from app.licenses.keeper import LicensesKeeper, script_limits
from app.licenses.lang import ScriptError, to_value
from app.licenses.programs import compiled
from app.models import errors as model_errors
from app.models.keeper import ModelsReader
from app.pb.modelgov.v1 import state_pb2, tx_pb2

LICENSE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_license_id(license_id: str) -> None:
    """A license id is "<org>/<name>"; raises TxError(invalid_name)."""
    if not names.LICENSE_ID.fullmatch(license_id):
        raise TxError(errors.INVALID_NAME, f"{quote(license_id, 80)} is not ORG/NAME")


def validate_deploy(msg: tx_pb2.DeployLicense, params: state_pb2.Params) -> None:
    """Deploy checks: name, size, the script's own check, parameters. A bad script never
    reaches a block: CheckTx runs this too."""
    if not LICENSE_NAME.fullmatch(msg.name):
        detail = f"{quote(msg.name, 80)}: lowercase letters, digits, . _ -"
        raise TxError(errors.INVALID_NAME, detail)
    size = len(msg.source.encode())
    if size > params.max_license_source_bytes:
        limit = params.max_license_source_bytes
        raise TxError(errors.SCRIPT_TOO_LARGE, f"{size} bytes, at most {limit}")
    if len(msg.description.encode()) > params.max_description_bytes:
        raise TxError(errors.INVALID_PARAMS, "description longer than max_description_bytes")
    try:
        compiled(msg.source, script_limits(params))
    except ScriptError as exc:
        raise TxError(
            errors.INVALID_SCRIPT, f"line {exc.line}, col {exc.col}: {exc.reason}"
        ) from None
    validate_params(msg.params, errors.INVALID_PARAMS)
    try:
        to_value(to_data(msg.params), script_limits(params), "ctx.params")
    except (TypeError, ValueError) as exc:
        raise TxError(errors.INVALID_PARAMS, str(exc)) from None


def deploy_gas(msg: tx_pb2.DeployLicense) -> int:
    """The gas of a deploy's check: DEPLOY_GAS_PER_BYTE per byte of source (app.core.gas)."""
    return DEPLOY_GAS_PER_BYTE * len(msg.source.encode("utf-8", "surrogatepass"))


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


def validate_attach(msg: tx_pb2.AttachLicense, params: state_pb2.Params) -> None:
    """Checks of AttachLicense that need no state."""
    names.check_model_id(msg.model, model_errors.INVALID_NAME)
    names.check_version(msg.version, model_errors.INVALID_VERSION)
    check_license_id(msg.license)


def attach_license(ctx: MsgContext, msg: tx_pb2.AttachLicense) -> Event:
    """Make a deployed license govern a version from this block on (the owner's publishers)."""
    models = ModelsReader(ctx.state)
    models.owned_by(msg.model, ctx.sender.org)
    if models.version(msg.model, msg.version) is None:
        raise TxError(model_errors.VERSION_NOT_FOUND, f"{msg.model}@{msg.version} not published")
    return attach(ctx, msg.model, msg.version, msg.license)


def attach(ctx: MsgContext, model: str, version: str, license_id: str) -> Event:
    """Record ``license_id`` as governing ``model@version`` from now on."""
    LicensesKeeper(ctx.state).attach_license(
        model, version, license_id, ctx.sender.address, ctx.env.height
    )
    return Event(
        events.ATTACHED,
        (("model", model), ("version", version), ("license", license_id)),
    )
