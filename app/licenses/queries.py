"""Queries of deployed licenses and of which license governs a version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.query import (
    Handler,
    QueryAnswer,
    limit_param,
    named_records,
    optional_cursor,
    page,
    record,
    text_param,
)
from app.core.text import quote
from app.licenses import keys
from app.state import Reader

MAX_SEQ = 2**32 - 1
"""Attachment sequence numbers are stored in 4 bytes."""


def license_(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/license {"id"}: a deployed license with its source and parameters."""
    license_id = text_param(params, "id")
    return record(state, keys.license_key(license_id), f"license {quote(license_id, 80)}")


def licenses(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/licenses {"after", "limit"}: deployed licenses in id order."""
    return named_records(state, keys.LICENSE, params)


def attachment(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/attachment {"model", "version"}: the attachment in force."""
    model, version = text_param(params, "model"), text_param(params, "version")
    return record(state, keys.current_key(model, version), f"a license for {model}@{version}")


def history(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/history {"model", "version", "after", "limit"}: every attachment of a version,
    oldest first; the cursor is the attachment's sequence number."""
    model, version = text_param(params, "model"), text_param(params, "version")
    after = optional_cursor(params, MAX_SEQ)
    prefix = keys.attachment_prefix(model, version)
    start = None if after is None else keys.attachment_key(model, version, after)
    items = (
        (str(int.from_bytes(k[len(prefix) :], "big")), v) for k, v in state.iterate(prefix, start)
    )
    return page(items, limit_param(params))


QUERIES: dict[str, Handler] = {
    "/licenses/license": license_,
    "/licenses/licenses": licenses,
    "/licenses/attachment": attachment,
    "/licenses/history": history,
}
