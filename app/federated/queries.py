"""Queries of federated rounds and of the contributors of aggregate versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.query import (
    Handler,
    QueryAnswer,
    int_param,
    numbered_records,
    record,
    text_param,
)
from app.federated import keys
from app.state import Reader

MAX_ID = 2**63


def round_(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/federated/round {"id"}: one round with its submissions."""
    round_id = int_param(params, "id", 0, MAX_ID, minimum=1)
    return record(state, keys.round_key(round_id), f"round {round_id}")


def rounds(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/federated/rounds {"after", "limit"}: rounds in id order."""
    return numbered_records(state, keys.ROUND, params)


def contributors(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/federated/contributors {"model", "version"}: who shares an aggregate's fees."""
    model, version = text_param(params, "model"), text_param(params, "version")
    key = keys.contributors_key(model, version)
    return record(state, key, f"contributors of {model}@{version}")


QUERIES: dict[str, Handler] = {
    "/federated/round": round_,
    "/federated/rounds": rounds,
    "/federated/contributors": contributors,
}
