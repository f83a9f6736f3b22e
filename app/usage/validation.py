"""Stateless checks of usage messages (``validate_basic``): they need no state to refuse."""

from __future__ import annotations

from app.core import names
from app.core.errors import TxError
from app.core.text import quote
from app.models import errors as model_errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors
from app.usage.purposes import PURPOSES

MAX_QUANTITY = 2**32
"""The most units one use declares: a script may multiply it into a fee, and the consumer's
usage counters add it up (app.usage.keeper), so it is bounded before any script sees it."""


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
