"""How records look outside the chain: one set of rules for the CLI's text and JSON and for the
Python API (``modelgov``), so a value reads the same wherever it is shown.

- enums by their short lowercase name (``VERSION_STATUS_ACTIVE`` -> ``active``,
  ``PROPOSAL_STATUS_VOTING`` -> ``voting``);
- times (int64 fields named ``time`` or ``*_time``: unix seconds from block headers) as RFC 3339
  UTC, ``2026-12-02T10:45:00Z`` (a value no calendar holds stays a number);
- metrics as ``{"name": ..., "value": "0.913"}``: the exact decimal of int_value / 10^scale,
  never a float, or the text of a text metric;
- bytes (hashes, keys, commitments) as lowercase hex; transaction hashes too.

It never prints and imports no CLI framework.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

METRIC = "modelgov.v1.Metric"


def plain(msg: Message) -> dict[str, Any]:
    """A protobuf record as plain data under the rules above; every field present."""
    if msg.DESCRIPTOR.full_name == METRIC:
        return metric(msg)
    out: dict[str, Any] = {}
    for field in msg.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and msg.WhichOneof(oneof.name) != field.name:
            continue
        value = getattr(msg, field.name)
        if field.is_repeated:
            out[field.name] = [_scalar(field, v) for v in value]
        else:
            out[field.name] = _scalar(field, value)
    return out


def _scalar(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return plain(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return bytes(value).hex()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_name(field.enum_type, value)
    if field.type == FieldDescriptor.TYPE_INT64 and _is_time(field.name):
        return rfc3339(value)
    return value


def _is_time(name: str) -> bool:
    return name == "time" or name.endswith("_time")


def enum_name(enum: Any, number: int) -> str:
    """``VERSION_STATUS_ACTIVE`` of enum VersionStatus -> ``active``; an unknown number as
    itself (a newer chain may know more values)."""
    found = enum.values_by_number.get(number)
    if found is None:
        return str(number)
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", str(enum.name)).upper() + "_"
    return str(found.name).removeprefix(prefix).lower()


def rfc3339(seconds: int) -> str | int:
    """Unix seconds as ``YYYY-MM-DDTHH:MM:SSZ``; 0 (never set) and values no calendar holds
    stay numbers."""
    if seconds == 0:
        return 0
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return seconds


def decimal(int_value: int, scale: int) -> str:
    """int_value / 10^scale written out exactly (913, 3 -> ``0.913``; 5, 0 -> ``5``)."""
    return f"{Decimal(int_value).scaleb(-scale):f}"


def metric(msg: Any) -> dict[str, Any]:
    """A Metric as ``{"name", "value"}``: the exact decimal, or its text."""
    if msg.WhichOneof("value") == "text_value":
        return {"name": msg.name, "value": msg.text_value}
    return {"name": msg.name, "value": decimal(msg.int_value, msg.scale)}


def tx_hash(value: str | bytes) -> str:
    """A transaction hash as lowercase hex (the engine writes it in capitals)."""
    return value.hex() if isinstance(value, bytes) else value.lower()
