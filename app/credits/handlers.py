"""The credits message server: transfers between organisations.

Each handler assumes its message passed ``app.credits.validation`` and the sender holds the
route's role; it raises ``TxError`` for anything the state refuses.
"""

from __future__ import annotations

from app.core.context import MsgContext
from app.core.env import Event
from app.core.errors import TxError
from app.core.text import quote
from app.credits import errors, events
from app.credits.keeper import CreditsKeeper
from app.members.keeper import MembersReader
from app.pb.modelgov.v1 import tx_pb2


def transfer_credits(ctx: MsgContext, msg: tx_pb2.TransferCredits) -> Event:
    """Pay ``amount`` from the sender's organisation to another."""
    if MembersReader(ctx.state).org(msg.to_org) is None:
        raise TxError(errors.UNKNOWN_ORG, f"no organisation {quote(msg.to_org, 64)}")
    if msg.to_org == ctx.sender.org:
        raise TxError(errors.SAME_ORG, f"{msg.to_org} would pay itself")
    CreditsKeeper(ctx.state).move(ctx.sender.org, msg.to_org, msg.amount)
    return events.transfer(ctx.sender.org, msg.to_org, msg.amount)
