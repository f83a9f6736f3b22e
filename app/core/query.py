"""Read-only answers over the committed state: typed paths, JSON parameters, protobuf values.

A query names a path (``/models/version``) and passes its parameters as a JSON object; the
answer's value is the stored record's bytes, and ``key`` is the store key it came from, so
``prove=true`` can attach a Merkle proof of exactly those bytes. ``/store`` takes a raw key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import BAD_QUERY, NOT_FOUND, TxError
from app.pb.modelgov.v1 import state_pb2
from app.state import Reader

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class QueryAnswer:
    """A found value and, for single records, the store key that proves it."""

    value: bytes
    key: bytes = b""


Handler = Callable[[Reader, Mapping[str, Any]], QueryAnswer]


def parse_params(data: bytes) -> Mapping[str, Any]:
    """Decode a query's JSON object; empty data means no parameters."""
    if not data:
        return {}
    try:
        params = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TxError(BAD_QUERY, f"query data is not a JSON object ({exc})") from None
    if not isinstance(params, dict):
        raise TxError(BAD_QUERY, "query data must be a JSON object")
    return params


def text_param(params: Mapping[str, Any], name: str, required: bool = True) -> str:
    """A string parameter; raises TxError(bad_query) when missing or of another type."""
    value = params.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise TxError(BAD_QUERY, f"parameter {name!r} must be a non-empty string")
    return value


def int_param(
    params: Mapping[str, Any], name: str, default: int, maximum: int, minimum: int = 0
) -> int:
    """An integer parameter of at least ``minimum``, capped at ``maximum``."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TxError(BAD_QUERY, f"parameter {name!r} must be an integer >= {minimum}")
    return min(value, maximum)


def limit_param(params: Mapping[str, Any]) -> int:
    """The page size of a list query: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    return int_param(params, "limit", DEFAULT_LIMIT, MAX_LIMIT, minimum=1)


def record(state: Reader, key: bytes, what: str) -> QueryAnswer:
    """The stored record under ``key``; raises TxError(not_found) naming ``what``."""
    value = state.get(key)
    if value is None:
        raise TxError(NOT_FOUND, f"{what} not found")
    return QueryAnswer(value, key)


def page(items: Iterator[tuple[str, bytes]], limit: int) -> QueryAnswer:
    """Up to ``limit`` encoded items; ``next`` is the cursor of the last one if more remain."""
    out = state_pb2.Page()
    previous = ""
    for cursor, item in items:
        if len(out.items) == limit:
            out.next = previous
            break
        out.items.append(item)
        previous = cursor
    return QueryAnswer(out.SerializeToString())


def id_cursor(params: Mapping[str, Any]) -> int:
    """The "after" cursor of an id-ordered listing: the previous page's "next" (a decimal
    string) or an integer; 0 starts from the beginning."""
    after = params.get("after", 0)
    if isinstance(after, str) and after.isdigit():
        after = int(after)
    if after == "":
        return 0
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**64:
        raise TxError(BAD_QUERY, "'after' is the 'next' of the previous page")
    return after


def named_records(state: Reader, prefix: bytes, params: Mapping[str, Any]) -> QueryAnswer:
    """/…s {"after", "limit"}: a page of the records stored as ``prefix + id``, in id order;
    the cursor is the id."""
    after = text_param(params, "after", required=False)
    start = prefix + after.encode() if after else None
    items = ((k[len(prefix) :].decode(), v) for k, v in state.iterate(prefix, start))
    return page(items, limit_param(params))


def numbered_records(state: Reader, prefix: bytes, params: Mapping[str, Any]) -> QueryAnswer:
    """/…s {"after", "limit"}: a page of the records stored as ``prefix + 8-byte id``, in id
    order; the cursor is the decimal id."""
    after = id_cursor(params)
    start = prefix + after.to_bytes(8, "big") if after else None
    items = (
        (str(int.from_bytes(k[len(prefix) :], "big")), v) for k, v in state.iterate(prefix, start)
    )
    return page(items, limit_param(params))
