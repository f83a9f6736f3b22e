"""The credits message server: transfers between organisations."""

from __future__ import annotations

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.names import ORG_ID
from app.core.text import quote
from app.credits import errors, events
from app.credits.keeper import MAX_BALANCE, CreditsKeeper
from app.members.keeper import MembersReader
from app.pb.modelgov.v1 import state_pb2, tx_pb2


def validate_transfer(msg: tx_pb2.TransferCredits, params: state_pb2.Params) -> None:
    """Checks of TransferCredits that need no state."""
    if not ORG_ID.fullmatch(msg.to_org):
        raise TxError(errors.UNKNOWN_ORG, f"{quote(msg.to_org, 64)} is not an organisation id")
    if not 0 < msg.amount <= MAX_BALANCE:
        raise TxError(errors.BAD_AMOUNT, f"amount {msg.amount} must be between 1 and 2^63-1")


def transfer_credits(ctx: MsgContext, msg: tx_pb2.TransferCredits) -> Event:
    """Pay ``amount`` from the sender's organisation to another."""
    if MembersReader(ctx.state).org(msg.to_org) is None:
        raise TxError(errors.UNKNOWN_ORG, f"no organisation {quote(msg.to_org, 64)}")
    if msg.to_org == ctx.sender.org:
        raise TxError(errors.SAME_ORG, f"{msg.to_org} would pay itself")
    CreditsKeeper(ctx.state).move(ctx.sender.org, msg.to_org, msg.amount)
    return Event(
        events.TRANSFER,
        (("from", ctx.sender.org), ("to", msg.to_org), ("amount", str(msg.amount))),
    )
