"""Queries of balances."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.query import (
    Handler,
    QueryAnswer,
    named_records,
    text_param,
)
from app.credits import keys
from app.pb.modelgov.v1 import state_pb2
from app.state import Reader


def balance(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/credits/balance {"org"}: one organisation's balance (0 if it holds none)."""
    org_id = text_param(params, "org")
    key = keys.balance_key(org_id)
    stored = state.get(key)
    if stored is None:
        return QueryAnswer(state_pb2.Balance(org=org_id, amount=0).SerializeToString())
    return QueryAnswer(stored, key)


def balances(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/credits/balances {"after", "limit"}: every balance in org id order."""
    return named_records(state, keys.BALANCE, params)


QUERIES: dict[str, Handler] = {"/credits/balance": balance, "/credits/balances": balances}
