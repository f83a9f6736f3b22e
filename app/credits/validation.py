"""Stateless checks of credit messages (``validate_basic``): they need no state to refuse."""

from __future__ import annotations

from app.core.errors import TxError
from app.core.names import ORG_ID
from app.core.text import quote
from app.credits import errors
from app.credits.keeper import MAX_BALANCE
from app.pb.modelgov.v1 import state_pb2, tx_pb2


def validate_transfer(msg: tx_pb2.TransferCredits, params: state_pb2.Params) -> None:
    """Checks of TransferCredits that need no state."""
    if not ORG_ID.fullmatch(msg.to_org):
        raise TxError(errors.UNKNOWN_ORG, f"{quote(msg.to_org, 64)} is not an organisation id")
    if not 0 < msg.amount <= MAX_BALANCE:
        raise TxError(errors.BAD_AMOUNT, f"amount {msg.amount} must be between 1 and 2^63-1")
