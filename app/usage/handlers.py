"""The usage message server: a use the license allows pays its fee and leaves a receipt.

What a use costs is its license's decision (app.usage.decision); who is paid, app.usage.payment.

Each handler assumes its message passed ``app.usage.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.credits import events as credit_events
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors, events
from app.usage.decision import evaluate_use
from app.usage.expected import LeaseBook
from app.usage.keeper import UsageKeeper
from app.usage.payment import pay_fee

MAX_SHOWN = 256
"""How much of a script's deny reason the refusal quotes."""


def use_under(leases: LeaseBook) -> Callable[[MsgContext, tx_pb2.Use], Event]:
    """The ``use`` handler with the lease book the machine wires in (app.usage.expected)."""

    def use_leased(ctx: MsgContext, msg: tx_pb2.Use) -> Event:
        return use(ctx, msg, leases)

    return use_leased


def use(ctx: MsgContext, msg: tx_pb2.Use, leases: LeaseBook | None = None) -> Event:
    """Ask the license; on allow within max_fee, pay the owner and write the receipt (which
    names the lease that waived the fee, if one did)."""
    env = ctx.env
    evaluation = evaluate_use(ctx.state, ctx.sender, msg, env.height, env.time, ctx.gas, leases)
    decision = evaluation.decision
    license_id = evaluation.license.id
    if not decision.allowed:
        raise TxError(errors.DENIED, f"{license_id}: {quote(decision.reason, MAX_SHOWN)}")
    if decision.fee > msg.max_fee:
        raise TxError(
            errors.FEE_ABOVE_MAX,
            f"{license_id} asks {decision.fee} credits, max_fee is {msg.max_fee}",
        )
    paid = pay_fee(
        ctx.state,
        ctx.sender.org,
        evaluation.owner,
        msg.model,
        msg.version,
        decision.fee,
        evaluation.royalties,
    )
    for payee in paid:  # each move reads like a transfer to whoever follows credits
        if payee.amount and payee.org != ctx.sender.org:
            reason = "royalty" if payee.ref else "use"
            event = credit_events.transfer(ctx.sender.org, payee.org, payee.amount, reason)
            ctx.emitted.append(event)
    receipt = UsageKeeper(ctx.state).record(
        state_pb2.Receipt(
            model=msg.model,
            version=msg.version,
            consumer=ctx.sender.address,
            consumer_org=ctx.sender.org,
            licensor_org=evaluation.owner,
            purpose=msg.purpose,
            quantity=msg.quantity,
            fee=decision.fee,
            license=evaluation.license.id,
            code_hash=evaluation.license.code_hash,
            note=decision.note,
            height=ctx.env.height,
            time=ctx.env.time,
            tx_hash=ctx.tx_hash,
            gas_used=evaluation.gas_used,
            lease_id=evaluation.lease_id,
            payees=paid,
        ),
        evaluation.period_seconds,
    )
    return Event(
        events.RECEIPT,
        (
            ("id", str(receipt.id)),
            ("model", msg.model),
            ("version", msg.version),
            ("purpose", msg.purpose),
            ("fee", str(decision.fee)),
            ("licensor", evaluation.owner),
            ("consumer_org", ctx.sender.org),
            ("gas", str(evaluation.gas_used)),
            ("paid", ",".join(f"{p.org}:{p.amount}" for p in paid if not p.ref)),
            *_royalties(paid),
        ),
    )


def _royalties(paid: list[state_pb2.Payee]) -> tuple[tuple[str, str], ...]:
    """The receipt event's ``royalties`` attribute (org:amount:upstream ref, ...), present only
    when a use of a derivative paid upstream owners."""
    upstream = [f"{p.org}:{p.amount}:{p.ref}" for p in paid if p.ref]
    return (("royalties", ",".join(upstream)),) if upstream else ()
