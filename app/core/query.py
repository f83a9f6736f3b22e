"""Read-only answers over the committed state: typed paths, JSON parameters, protobuf values.

A query names a path (``/models/version``) and passes its parameters as a JSON object; the
answer's value is the stored record's bytes, and ``key`` is the store key it came from, so
``prove=true`` can attach a Merkle proof of exactly those bytes. ``/store`` takes a raw key.

Anyone who reaches a node's RPC can query, so every query is bounded: the parameters are a small,
shallow JSON object of strings and integers (``parse_params``), list queries return pages of at
most MAX_LIMIT items and scan a bounded number of keys, and every malformed parameter is a
registered ``bad_query`` answer, never an internal error. Long scans call ``pause_point`` so that
a query running beside consensus lets it go first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import BAD_QUERY, NOT_FOUND, TxError
from app.core.pause import pause_point
from app.core.text import quote
from app.pb.modelgov.v1 import state_pb2
from app.state import Reader

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_BYTES = 4096
"""Largest query data: the parameters of every query fit in far less."""
MAX_NESTING = 2
"""Deepest nesting of JSON arrays and objects in the parameters (the object itself is 1)."""
MAX_INT_DIGITS = 20
"""Most digits of an integer parameter (2**64 - 1 has 20), so no int() of a huge literal."""
MAX_TEXT_CHARS = 1024
"""Longest string parameter (names, digests, addresses, cursors are all far shorter)."""
MAX_PAGE_BYTES = 1 << 20
"""A page stops once its items reach this many bytes: ``limit`` items alone do not bound it (a
license's source and parameters may be 128 KiB, an attestation's method and metrics more), and
a query of a few bytes must not make the node build and ship tens of megabytes."""


@dataclass(frozen=True)
class QueryAnswer:
    """A found value and, for single records, the store key that proves it."""

    value: bytes
    key: bytes = b""


Handler = Callable[[Reader, Mapping[str, Any]], QueryAnswer]


def parse_params(data: bytes) -> Mapping[str, Any]:
    """Decode a query's JSON object; empty data means no parameters.

    Raises TxError(bad_query) for data over MAX_QUERY_BYTES, nesting deeper than MAX_NESTING
    (checked before parsing: the parser recurses on the host stack), floats, NaN and Infinity,
    integers of more than MAX_INT_DIGITS digits, or anything but an object.
    """
    if not data:
        return {}
    if len(data) > MAX_QUERY_BYTES:
        raise TxError(BAD_QUERY, f"query data of {len(data)} bytes, at most {MAX_QUERY_BYTES}")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise TxError(BAD_QUERY, "query data is not UTF-8") from None
    if nesting(text) > MAX_NESTING:
        raise TxError(BAD_QUERY, f"query data nests deeper than {MAX_NESTING} levels")
    try:
        params = json.loads(
            text, parse_int=_json_int, parse_float=_no_float, parse_constant=_no_float
        )
    except json.JSONDecodeError as exc:
        raise TxError(BAD_QUERY, f"query data is not a JSON object ({exc.msg})") from None
    if not isinstance(params, dict):
        raise TxError(BAD_QUERY, "query data must be a JSON object")
    return params


def nesting(text: str) -> int:
    """Deepest nesting of arrays and objects in JSON text (strings skipped), in one pass."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _json_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise TxError(BAD_QUERY, f"an integer parameter has more than {MAX_INT_DIGITS} digits")
    return int(literal)


def _no_float(literal: str) -> Any:
    raise TxError(BAD_QUERY, f"parameters are integers or strings, not {quote(literal, 20)}")


def text_param(params: Mapping[str, Any], name: str, required: bool = True) -> str:
    """A string parameter of printable text; raises TxError(bad_query) when missing, of another
    type, too long, or holding control characters or lone surrogates (which no key holds and
    UTF-8 cannot encode)."""
    value = params.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise TxError(BAD_QUERY, f"parameter {name!r} must be a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise TxError(BAD_QUERY, f"parameter {name!r} is longer than {MAX_TEXT_CHARS} characters")
    if any(c < " " or c == "\x7f" or "\ud800" <= c <= "\udfff" for c in value):
        raise TxError(BAD_QUERY, f"parameter {name!r} holds control characters or surrogates")
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
    """Up to ``limit`` encoded items, and no more once they reach MAX_PAGE_BYTES (one item at
    least); ``next`` is the cursor of the last one if more remain."""
    out = state_pb2.Page()
    previous, size = "", 0
    for cursor, item in items:
        pause_point()
        if len(out.items) == limit or size >= MAX_PAGE_BYTES:
            out.next = previous
            break
        out.items.append(item)
        previous, size = cursor, size + len(item)
    return QueryAnswer(out.SerializeToString())


def id_cursor(params: Mapping[str, Any], maximum: int = 2**64 - 1) -> int:
    """The "after" cursor of a listing by id (ids start at 1): the previous page's "next" or
    an integer; absent, 0 or "" start from the beginning. Raises TxError(bad_query)."""
    after = optional_cursor(params, maximum)
    return 0 if after is None else after


def optional_cursor(params: Mapping[str, Any], maximum: int) -> int | None:
    """The "after" cursor of a listing by number: the previous page's "next" (a decimal string
    of ASCII digits) or an integer, 0 to ``maximum``; None when absent or "". Raises
    TxError(bad_query)."""
    after = params.get("after")
    if after is None or after == "":
        return None
    if isinstance(after, str):
        after = decimal(after, "after")
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= maximum:
        raise TxError(BAD_QUERY, "'after' is the 'next' of the previous page")
    return after


def decimal(text: str, name: str) -> int:
    """A non-negative integer written in at most MAX_INT_DIGITS ASCII digits (``isdigit``
    alone admits other scripts' digits and superscripts, which ``int`` reads or refuses)."""
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_INT_DIGITS):
        raise TxError(BAD_QUERY, f"parameter {name!r} must be a decimal integer")
    return int(text)


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
