"""Asking a version's license about one use: the context a script sees, and its answer.

The same function serves the ``use`` transaction and the ``/licenses/evaluate`` dry run, so a
dry run answers exactly what a block would decide at the same state and time. The dry run
meters its evaluation as the first transaction of a block does (a fresh ``GasMeter``, nothing
loaded yet), so every license it asks pays its first load, in the use's gas and in a lineage
check's budget: the same decision, gas, and refusal code and text as such a use
(tests/app/usage/test_dry_run.py). A later transaction of a block may pay less, for what the
block's earlier ones loaded (app.core.gas), and so pass a lineage check the dry run refuses.
The read-access rule asks licenses the same way (``evaluate_fresh``): a free download is
granted only where such a use would be allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.core.errors import ErrorCode, TxError
from app.core.gas import LOAD_GAS_PER_BYTE, GasMeter
from app.core.text import quote
from app.credits.keeper import MAX_BALANCE
from app.datasets import lineage
from app.licenses.keeper import LicensesReader
from app.licenses.lang import (
    Decision,
    MemoryExceeded,
    OutOfGas,
    Prepared,
    ScriptError,
    ScriptRuntimeError,
    run_authorize,
)
from app.members.keeper import MembersReader
from app.models.keeper import ModelsReader
from app.pb.modelgov.v1 import market_pb2, state_pb2, tx_pb2
from app.state import Reader
from app.usage import errors
from app.usage.expected import LeaseBook


@dataclass(frozen=True)
class Evaluation:
    """A license's decision on one use, with what it was decided under."""

    decision: Decision
    gas_used: int
    license: state_pb2.License
    owner: str
    period_seconds: int
    lease_id: int = 0
    """The lease that waived the fee (0: none; see ``lease_terms``)."""
    royalties: tuple[lineage.Royalty, ...] = ()
    """What the upstream licenses of a derivative ask of its fee (app.datasets.lineage)."""


def evaluate_use(
    state: Reader,
    account: state_pb2.Account,
    use: tx_pb2.Use,
    height: int,
    time: int,
    meter: GasMeter | None = None,
    leases: LeaseBook | None = None,
) -> Evaluation:
    """Run the governing license's ``authorize(ctx)``; a deny is a Decision, not an error.

    With ``leases`` (the market's, wired in by the machine), a lease the caller's organisation
    holds on the version and that runs at ``height`` is shown to the script as ``ctx.lease``,
    and an allowed use for one of the lease's purposes pays no fee (``lease_terms``).
    With ``meter`` (a transaction's in a block, or a dry run's fresh one), the license's first
    use in the block pays for loading it and every evaluation pays its gas, failed ones
    included (app.core.gas); without one nothing is charged (``evaluate_fresh`` gives the
    queries one).
    Raises TxError when there is nothing to ask (no version, revoked, no license, the owner no
    longer a member) or the script fails (out of gas, memory, a runtime error).
    """
    version, attachment = governing(state, use)
    model = ModelsReader(state).model(use.model)
    owner = model.owner_org if model is not None else ""
    if MembersReader(state).org(owner) is None:
        raise TxError(
            errors.LICENSOR_REMOVED,
            f"{use.model} belongs to {quote(owner, 64)}, which is no longer a member",
        )
    lease = leases(state, account.org, use.model, use.version, height) if leases else None
    if lease is not None and lease.lessor_org != owner:
        lease = None  # the model changed hands: the new owner's terms owe the old lease nothing
    licenses = LicensesReader(state)
    found = licenses.license(leased_attachment(state, lease, use, attachment).license)
    if found is None:
        raise _no_license(use)
    params, period_seconds = lineage.license_params(found)
    ctx = script_context(state, account, use, owner, params, height, time, period_seconds)
    if lease is not None:
        ctx["lease"] = lease_context(lease)
    if meter is not None and found.id not in meter.loaded:
        meter.consume(LOAD_GAS_PER_BYTE * len(found.source.encode()))
        meter.loaded.add(found.id)
    try:
        pin = meter is not None and meter.pins
        program, limits = licenses.runnable(found, MembersReader(state).params(), pin)
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
    decision, lease_id = lease_terms(outcome.decision, lease, use.purpose)
    if decision.allowed:
        check_answer(found.id, decision.fee, decision.note)
    evaluation = Evaluation(decision, outcome.gas_used, found, owner, period_seconds, lease_id)
    if decision.allowed and (version.parents or version.trained_on):
        return _with_upstream(state, account, use, version, (height, time), meter, evaluation)
    return evaluation


def evaluate_fresh(
    state: Reader,
    account: state_pb2.Account,
    use: tx_pb2.Use,
    height: int,
    time: int,
    leases: LeaseBook | None = None,
) -> Evaluation:
    """``evaluate_use`` metered as the first transaction of a block (a fresh meter that pins
    nothing, so a query holds no program past the cache's budget): what a read-access decision
    asks of a license, so that it grants a free download only where such a use would be
    allowed, never where the block refuses it (``upstream_out_of_gas``). Raises TxError."""
    meter = GasMeter(pins=False)
    return evaluate_use(state, account, use, height, time, meter, leases)


def leased_attachment(
    state: Reader, lease: market_pb2.Lease | None, use: tx_pb2.Use, current: state_pb2.Attachment
) -> state_pb2.Attachment:
    """The attachment that decides ``use``: for one of a running lease's purposes, the one the
    lease was bought under (a lessor attaching other terms later narrows nothing the renter
    paid for); else ``current``. Raises TxError(no_license) when the lease's is missing (only
    a hand-written genesis could name one that is not there)."""
    if lease is None or not lease.license or use.purpose not in lease.purposes:
        return current
    found = LicensesReader(state).attachment(use.model, use.version, lease.license_seq)
    if found is None or found.license != lease.license:
        raise TxError(
            errors.NO_LICENSE,
            f"lease {lease.id}: its attachment {lease.license_seq} "
            f"({quote(lease.license, 80)}) is missing",
        )
    return found


def lease_terms(
    decision: Decision, lease: market_pb2.Lease | None, purpose: str
) -> tuple[Decision, int]:
    """The decision under a running lease, and the lease's id when it applies: a use for one
    of the lease's purposes that the license allows costs nothing more (the rent was paid up
    front); the license still decides, and a deny stays a deny (an owner's terms refine a
    lease, they are not replaced by it)."""
    if lease is None or purpose not in lease.purposes or not decision.allowed:
        return decision, 0
    return replace(decision, fee=0), lease.id


def lease_context(lease: market_pb2.Lease) -> dict[str, Any]:
    """``ctx.lease``: present only while the caller's organisation rents the version (so a
    use without a lease sees, and is charged gas for, the same context as before leases)."""
    return {
        "id": lease.id,
        "lessor": lease.lessor_org,
        "purposes": list(lease.purposes),
        "start_height": lease.start_height,
        "end_height": lease.end_height,
        "paid": lease.paid,
    }


def _with_upstream(
    state: Reader,
    account: state_pb2.Account,
    use: tx_pb2.Use,
    version: state_pb2.Version,
    clock: tuple[int, int],
    meter: GasMeter | None,
    own: Evaluation,
) -> Evaluation:
    """A derivative's use is allowed only if every upstream license allows it on its behalf;
    the royalties they ask go with the decision (app.datasets.lineage)."""
    answer = lineage.ask_upstream(state, account, version, use.purpose, use.quantity, clock, meter)
    decision = own.decision
    if answer.denied:
        decision = Decision(False, 0, "", answer.denied)
    gas = own.gas_used + answer.gas_used
    return replace(own, decision=decision, gas_used=gas, royalties=answer.royalties)


def admit_use(state: Reader, use: tx_pb2.Use) -> None:
    """What CheckTx asks of a use before its sender's nonce is spent on it: the version is
    published, not revoked, and a license governs it (the decision itself is the block's).
    Raises TxError(version_not_found, version_revoked, no_license)."""
    governing(state, use)


def governing(state: Reader, use: tx_pb2.Use) -> tuple[state_pb2.Version, state_pb2.Attachment]:
    """The used version and the attachment that governs it now; raises TxError
    (version_not_found, version_revoked, no_license)."""
    version = ModelsReader(state).version(use.model, use.version)
    if version is None:
        raise TxError(errors.VERSION_NOT_FOUND, f"{use.model}@{use.version} is not published")
    if version.status == tx_pb2.VERSION_STATUS_REVOKED:
        raise TxError(errors.VERSION_REVOKED, f"{use.model}@{use.version}: {version.status_reason}")
    attachment = LicensesReader(state).current(use.model, use.version)
    if attachment is None:
        raise _no_license(use)
    return version, attachment


def _no_license(use: tx_pb2.Use) -> TxError:
    return TxError(
        errors.NO_LICENSE, f"{use.model}@{use.version} has no license; ask its owner to attach one"
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
    params: Prepared,
    height: int,
    time: int,
    period_seconds: int,
) -> dict[str, Any]:
    """The ``ctx`` a license script reads about a direct use (documented in
    app/licenses/lang/context.py; one builder, app.datasets.lineage, for every run)."""
    target = (use.model, use.version, owner)
    return lineage.script_context(
        state, account, target, use.purpose, use.quantity, params, (height, time), period_seconds
    )


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
