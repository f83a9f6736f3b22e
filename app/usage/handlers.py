"""The usage message server: a use the license allows pays its fee and leaves a receipt."""

from __future__ import annotations

from app.core import names
from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.credits import events as credit_events
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors, events
from app.usage.decision import evaluate_use
from app.usage.keeper import UsageKeeper
from app.usage.payment import pay_fee
from app.usage.purposes import PURPOSES

MAX_QUANTITY = 2**32
"""A fee is paid in credits, so it never exceeds what a balance can hold (a script may ask up
to 2^256: that would overflow Receipt.fee and the licensor's totals inside FinalizeBlock)."""
MAX_SHOWN = 256


def validate_use(msg: tx_pb2.Use, params: state_pb2.Params) -> None:
    """Checks of Use that need no state."""
    names.check_model_id(msg.model, model_errors.INVALID_NAME)
    names.check_version(msg.version, model_errors.INVALID_VERSION)
    if msg.purpose not in PURPOSES:
        raise TxError(
            errors.INVALID_PURPOSE, f"{quote(msg.purpose, 64)} is not one of {', '.join(PURPOSES)}"
        )
    if not 1 <= msg.quantity <= MAX_QUANTITY:
        raise TxError(errors.INVALID_QUANTITY, f"quantity {msg.quantity} is not 1 to 2^32")


def use(ctx: MsgContext, msg: tx_pb2.Use) -> Event:
    """Ask the license; on allow within max_fee, pay the owner and write the receipt."""
    evaluation = evaluate_use(ctx.state, ctx.sender, msg, ctx.env.height, ctx.env.time, ctx.gas)
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
        ctx.state, ctx.sender.org, evaluation.owner, msg.model, msg.version, decision.fee
    )
    for org, amount in paid:  # each move reads like a transfer to whoever follows credits
        if amount and org != ctx.sender.org:
            moved = (("from", ctx.sender.org), ("to", org), ("amount", str(amount)))
            ctx.emitted.append(Event(credit_events.TRANSFER, (*moved, ("reason", "use"))))
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
            ("paid", ",".join(f"{org}:{amount}" for org, amount in paid)),
        ),
    )
