"""Asking a version's license about one use: the context a script sees, and its answer.

The same function serves the ``use`` transaction and the ``/licenses/evaluate`` dry run, so a
dry run answers exactly what a block would decide at the same state and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import ErrorCode, TxError
from app.core.gas import LOAD_GAS_PER_BYTE, GasMeter
from app.core.text import quote
from app.core.valuemap import to_data
from app.credits.keeper import MAX_BALANCE
from app.licenses.keeper import LicensesReader
from app.licenses.lang import (
    Decision,
    MemoryExceeded,
    OutOfGas,
    ScriptError,
    ScriptRuntimeError,
    run_authorize,
)
from app.members.keeper import MembersReader
from app.models.keeper import ModelsReader
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Reader
from app.usage import errors
from app.usage.keeper import DEFAULT_PERIOD_SECONDS, UsageReader


@dataclass(frozen=True)
class Evaluation:
    """A license's decision on one use, with what it was decided under."""

    decision: Decision
    gas_used: int
    license: state_pb2.License
    owner: str
    period_seconds: int


def evaluate_use(
    state: Reader,
    account: state_pb2.Account,
    use: tx_pb2.Use,
    height: int,
    time: int,
    meter: GasMeter | None = None,
) -> Evaluation:
    """Run the governing license's ``authorize(ctx)``; a deny is a Decision, not an error.

    With ``meter`` (a transaction's, in a block), the license's first use in the block pays
    for loading it and every evaluation pays its gas, failed ones included (app.core.gas).
    Raises TxError when there is nothing to ask (no version, revoked, no license, the owner no
    longer a member) or the script fails (out of gas, memory, a runtime error).
    """
    version = ModelsReader(state).version(use.model, use.version)
    if version is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{use.model}@{use.version} is not published")
    if version.status == tx_pb2.VERSION_STATUS_REVOKED:
        raise TxError(errors.VERSION_REVOKED, f"{use.model}@{use.version}: {version.status_reason}")
    licenses = LicensesReader(state)
    attachment = licenses.current(use.model, use.version)
    found = licenses.license(attachment.license) if attachment is not None else None
    if found is None:
        raise TxError(
            errors.NO_LICENSE,
            f"{use.model}@{use.version} has no license; ask its owner to attach one",
        )
    model = ModelsReader(state).model(use.model)
    owner = model.owner_org if model is not None else ""
    if MembersReader(state).org(owner) is None:
        raise TxError(
            errors.LICENSOR_REMOVED,
            f"{use.model} belongs to {quote(owner, 64)}, which is no longer a member",
        )
    params = to_data(found.params)
    period = params.get("period_seconds")
    period_seconds = period if type(period) is int and period > 0 else DEFAULT_PERIOD_SECONDS
    ctx = script_context(state, account, use, owner, params, height, time, period_seconds)
    if meter is not None and found.id not in meter.loaded:
        meter.consume(LOAD_GAS_PER_BYTE * len(found.source.encode()))
        meter.loaded.add(found.id)
    try:
        program, limits = licenses.runnable(found, MembersReader(state).params(), meter is not None)
        outcome = run_authorize(program, ctx, limits)
    except ScriptError as exc:
        raise TxError(
            errors.SCRIPT_FAILED, f"{found.id}: no longer passes its check: {exc}"
        ) from None
    except ScriptRuntimeError as exc:
        if meter is not None:
            meter.consume(exc.gas_used)
        raise TxError(_runtime_error(exc), f"{found.id}: {exc}") from None
    except (TypeError, ValueError) as exc:  # the context does not fit the interpreter's limits
        raise TxError(errors.SCRIPT_FAILED, f"{found.id}: context refused: {exc}") from None
    if meter is not None:
        meter.consume(outcome.gas_used)
    if outcome.decision.allowed:
        check_answer(found.id, outcome.decision.fee, outcome.decision.note)
    return Evaluation(outcome.decision, outcome.gas_used, found, owner, period_seconds)


def admit_use(state: Reader, use: tx_pb2.Use) -> None:
    """What CheckTx asks of a use before its sender's nonce is spent on it: the version is
    published, not revoked, and a license governs it (the decision itself is the block's).
    Raises TxError(version_not_found, version_revoked, no_license)."""
    version = ModelsReader(state).version(use.model, use.version)
    if version is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{use.model}@{use.version} is not published")
    if version.status == tx_pb2.VERSION_STATUS_REVOKED:
        raise TxError(errors.VERSION_REVOKED, f"{use.model}@{use.version}: {version.status_reason}")
    if LicensesReader(state).current(use.model, use.version) is None:
        raise TxError(
            errors.NO_LICENSE,
            f"{use.model}@{use.version} has no license; ask its owner to attach one",
        )


def _runtime_error(exc: ScriptRuntimeError) -> ErrorCode:
    if isinstance(exc, OutOfGas):
        return errors.OUT_OF_GAS
    if isinstance(exc, MemoryExceeded):
        return errors.MEMORY_EXCEEDED
    return errors.SCRIPT_FAILED


def script_context(
    state: Reader,
    account: state_pb2.Account,
    use: tx_pb2.Use,
    owner: str,
    params: dict[str, Any],
    height: int,
    time: int,
    period_seconds: int,
) -> dict[str, Any]:
    """The ``ctx`` a license script reads (documented in app/licenses/lang/context.py)."""
    org = MembersReader(state).org(account.org)
    attributes = {
        a.key: getattr(a, a.WhichOneof("value") or "text_value")
        for a in (org.attributes if org is not None else [])
    }
    usage = UsageReader(state).usage(account.org, use.model, use.version, time, period_seconds)
    return {
        "caller": {
            "address": account.address,
            "org": account.org,
            "org_kind": org.kind if org is not None else "",
            "roles": list(account.roles),
            "attributes": attributes,
        },
        "model": use.model,
        "version": use.version,
        "owner": owner,
        "purpose": use.purpose,
        "quantity": use.quantity,
        "height": height,
        "time": time,
        "usage": {
            "version_total": usage.version_total,
            "model_total": usage.model_total,
            "version_period": usage.version_period,
            "model_period": usage.model_period,
            "period_seconds": usage.period_seconds,
            "period_start": usage.period_start,
        },
        "params": params,
    }


MAX_FEE = MAX_BALANCE


def check_answer(license_id: str, fee: int, note: str) -> None:
    """Refuse an allow whose fee or note cannot be stored: a fee above MAX_FEE
    (fee_out_of_range), a note that is not UTF-8 text, e.g. a lone surrogate a script built
    with an escape (script_failed). Either would otherwise raise while encoding the receipt."""
    if not 0 <= fee <= MAX_FEE:
        shown = str(fee) if fee.bit_length() <= 64 else f"a {fee.bit_length()}-bit number"
        raise TxError(errors.FEE_OUT_OF_RANGE, f"{license_id} asks {shown} credits, above 2^63-1")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise TxError(
            errors.SCRIPT_FAILED, f"{license_id}: the note {quote(note, 256)} is not text"
        ) from None
