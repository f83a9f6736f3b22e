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
    """Refuse non-canonical or oversized parameters with TxError(invalid_params)."""
    count = _check_map(params, "params", 0, error)
    if count > MAX_ITEMS:
        raise TxError(error, f"{count} values, at most {MAX_ITEMS}")


def _check_map(params: tx_pb2.ValueMap, where: str, depth: int, error: ErrorCode) -> int:
    keys = [e.key for e in params.entries]
    if keys != sorted(set(keys)):
        raise TxError(error, f"{where}: keys must be sorted and unique")
    return sum(_check_value(e.value, f"{where}.{e.key}", depth + 1, error) for e in params.entries)


def _check_value(value: tx_pb2.Value, where: str, depth: int, error: ErrorCode) -> int:
    if depth > MAX_DEPTH:
        raise TxError(error, f"{where}: nested deeper than {MAX_DEPTH}")
    kind = value.WhichOneof("kind")
    if kind is None or (kind == "null_value" and not value.null_value):
        raise TxError(error, f"{where}: a value has no kind")
    if kind == "int_value" and abs(value.int_value) > MAX_INT:
        raise TxError(error, f"{where}: integer out of range")
    if kind == "str_value" and len(value.str_value.encode()) > MAX_TEXT:
        raise TxError(error, f"{where}: text over {MAX_TEXT} bytes")
    if kind == "list_value":
        items = value.list_value.items
        return 1 + sum(
            _check_value(v, f"{where}[{i}]", depth + 1, error) for i, v in enumerate(items)
        )
    if kind == "map_value":
        return 1 + _check_map(value.map_value, where, depth, error)
    return 1
