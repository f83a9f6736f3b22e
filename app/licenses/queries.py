"""Queries of deployed licenses and of which license governs a version."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from app.core.query import (
    Handler,
    QueryAnswer,
    limit_param,
    named_records,
    page,
    record,
    text_param,
)
from app.licenses import keys
from app.licenses.keeper import LicensesReader
from app.state import Reader


def license_(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/license {"id"}: a deployed license with its source and parameters."""
    license_id = text_param(params, "id")
    return record(state, keys.license_key(license_id), f"license {license_id!r}")


def licenses(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/licenses {"after", "limit"}: deployed licenses in id order."""
    return named_records(state, keys.LICENSE, params)


def attachment(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/attachment {"model", "version"}: the attachment in force."""
    model, version = text_param(params, "model"), text_param(params, "version")
    return record(state, keys.current_key(model, version), f"a license for {model}@{version}")


def history(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/licenses/history {"model", "version"}: every attachment of a version, oldest first."""
    model, version = text_param(params, "model"), text_param(params, "version")

    def items() -> Iterator[tuple[str, bytes]]:
        for found in LicensesReader(state).history(model, version):
            yield str(found.seq), found.SerializeToString()

    return page(items(), limit_param(params))


QUERIES: dict[str, Handler] = {
    "/licenses/license": license_,
    "/licenses/licenses": licenses,
    "/licenses/attachment": attachment,
    "/licenses/history": history,
}
