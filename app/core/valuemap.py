"""Parameter maps: protobuf ``ValueMap`` <-> plain data (a license's parameters, which a script
reads as ctx.params; an organisation's attributes).

Only integers, strings, booleans, None, lists and string-keyed maps; map entries sorted and
unique so a parameter set has exactly one encoding; bounded depth, count and integer size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.errors import ErrorCode, TxError
from app.pb.modelgov.v1 import tx_pb2

MAX_DEPTH = 8
MAX_ITEMS = 1024
MAX_INT = 2**63 - 1
MAX_TEXT = 4096


def to_data(params: tx_pb2.ValueMap) -> dict[str, Any]:
    """The dict a script sees; assumes ``validate_params`` passed."""
    return {entry.key: _value_data(entry.value) for entry in params.entries}


def _value_data(value: tx_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "list_value":
        return [_value_data(v) for v in value.list_value.items]
    if kind == "map_value":
        return to_data(value.map_value)
    if kind == "null_value" or kind is None:
        return None
    return getattr(value, kind)


def from_data(data: Mapping[str, Any]) -> tx_pb2.ValueMap:
    """Encode plain data (JSON-like, no floats) as a canonical ValueMap; raises ValueError."""
    return tx_pb2.ValueMap(
        entries=[tx_pb2.ValueEntry(key=k, value=_encode(data[k])) for k in sorted(data)]
    )


def _encode(value: Any) -> tx_pb2.Value:
    if value is None:
        return tx_pb2.Value(null_value=True)
    if isinstance(value, bool):
        return tx_pb2.Value(bool_value=value)
    if isinstance(value, int):
        return tx_pb2.Value(int_value=value)
    if isinstance(value, str):
        return tx_pb2.Value(str_value=value)
    if isinstance(value, list):
        return tx_pb2.Value(list_value=tx_pb2.ValueList(items=[_encode(v) for v in value]))
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("parameter maps have string keys")
        return tx_pb2.Value(map_value=from_data(value))
    raise ValueError(f"a parameter cannot be {type(value).__name__} (integers, not floats)")


def validate_params(params: tx_pb2.ValueMap, error: ErrorCode) -> None:
    """Refuse non-canonical or oversized parameters with TxError(invalid_params).

    The walk stops at the first value past MAX_ITEMS, so its cost is that of a valid map
    whatever the transaction's size (it once counted every value first: a deploy of a
    64 KiB list took 20 ms for the gas of an empty transaction). A value's place
    (``params.key[3]``) is spelled out only for a refusal: keys may be as long as the
    transaction, and every value under one would copy it.
    """
    budget = _Budget()
    _check_map(params, ("params",), 0, error, budget)


class _Budget:
    """The values seen so far; raises once there are more than MAX_ITEMS."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen = 0

    def take(self, error: ErrorCode) -> None:
        self.seen += 1
        if self.seen > MAX_ITEMS:
            raise TxError(error, f"more than {MAX_ITEMS} values")


Place = tuple[str, ...]
"""Where a value is: "params", then ".key" or "[index]" steps (joined only for a refusal)."""


def _check_map(
    params: tx_pb2.ValueMap, where: Place, depth: int, error: ErrorCode, budget: _Budget
) -> None:
    keys = [e.key for e in params.entries]
    if keys != sorted(set(keys)):
        raise TxError(error, f"{_spelled(where)}: keys must be sorted and unique")
    for entry in params.entries:
        _check_value(entry.value, (*where, "." + entry.key), depth + 1, error, budget)


def _check_value(
    value: tx_pb2.Value, where: Place, depth: int, error: ErrorCode, budget: _Budget
) -> None:
    if depth > MAX_DEPTH:
        raise TxError(error, f"{_spelled(where)}: nested deeper than {MAX_DEPTH}")
    budget.take(error)
    kind = value.WhichOneof("kind")
    if kind is None or (kind == "null_value" and not value.null_value):
        raise TxError(error, f"{_spelled(where)}: a value has no kind")
    if kind == "int_value" and abs(value.int_value) > MAX_INT:
        raise TxError(error, f"{_spelled(where)}: integer out of range")
    if kind == "str_value" and len(value.str_value.encode()) > MAX_TEXT:
        raise TxError(error, f"{_spelled(where)}: text over {MAX_TEXT} bytes")
    if kind == "list_value":
        for i, item in enumerate(value.list_value.items):
            _check_value(item, (*where, f"[{i}]"), depth + 1, error, budget)
    if kind == "map_value":
        _check_map(value.map_value, where, depth, error, budget)


def _spelled(where: Place) -> str:
    return "".join(where)
