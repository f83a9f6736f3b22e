"""The licenses domain's genesis: ``licenses``, deployed licenses and every version's attachments.

Both travel as their records' protobuf JSON. The attachment in force for a version and the index
of the versions each license governed are not listed: the keeper derives them when it writes a
version's attachments in order. A deployed license's script is not checked again: it passed its
deploy check, under the limits of its time (``deployed_limits`` keeps that so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.genesis import (
    GenesisContext,
    GenesisError,
    check_pattern,
    listed,
    record,
    section,
    to_json,
)
from app.core.names import LICENSE_ID
from app.core.text import quote
from app.licenses import keys
from app.licenses.keeper import LicensesKeeper
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("licenses",)
FIELDS = ("licenses", "attachments")


@dataclass(frozen=True)
class Licenses:
    """Validated licenses, and attachments in the order they are written (by version, oldest
    first)."""

    licenses: tuple[state_pb2.License, ...] = ()
    attachments: tuple[state_pb2.Attachment, ...] = ()


def default() -> dict[str, Any]:
    """No license deployed."""
    return {"licenses": {name: [] for name in FIELDS}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Licenses:
    """Licenses of the consortium's organisations, attachments of published versions to
    listed licenses, each version's numbered from 0; the license ids join ``context``. Raises
    GenesisError naming the first bad field."""
    found = section(part, "licenses", FIELDS)
    licenses = _licenses(listed(found, "licenses", "licenses"), context)
    context.licenses.update(licenses)
    attachments = _attachments(listed(found, "attachments", "licenses"), context)
    return Licenses(tuple(licenses[k] for k in sorted(licenses)), attachments)


def init(state: Overlay, parsed: Licenses) -> None:
    """Write the licenses, then each version's attachments in order (the last is in force)."""
    keeper = LicensesKeeper(state)
    for found in parsed.licenses:
        keeper.add_license(found)
    for attachment in parsed.attachments:
        keeper.attach(attachment)


def export(state: Reader) -> dict[str, Any]:
    """Every license and attachment, in store-key order."""
    return {
        "licenses": {
            "licenses": [
                to_json(state_pb2.License.FromString(v)) for _, v in state.iterate(keys.LICENSE)
            ],
            "attachments": [
                to_json(state_pb2.Attachment.FromString(v))
                for _, v in state.iterate(keys.ATTACHMENT)
            ],
        }
    }


def _licenses(items: list[Any], context: GenesisContext) -> dict[str, state_pb2.License]:
    licenses: dict[str, state_pb2.License] = {}
    for i, item in enumerate(items):
        where = f"licenses.licenses[{i}]"
        found, _ = record(item, state_pb2.License, where)
        check_pattern(found.id, LICENSE_ID, f"{where}.id", "ORG/NAME")
        context.check_org(found.org, f"{where}.org")
        if found.id != f"{found.org}/{found.name}":
            raise GenesisError(f"{where}.id", f"{quote(found.id, 80)} is not its org/name")
        if found.id in licenses:
            raise GenesisError(f"{where}.id", f"license {found.id} appears twice")
        licenses[found.id] = found
    return licenses


def _attachments(items: list[Any], context: GenesisContext) -> tuple[state_pb2.Attachment, ...]:
    attachments: dict[tuple[str, str, int], state_pb2.Attachment] = {}
    counts: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        where = f"licenses.attachments[{i}]"
        attachment, _ = record(item, state_pb2.Attachment, where)
        context.check_version(attachment.model, attachment.version, where)
        if attachment.license not in context.licenses:
            raise GenesisError(f"{where}.license", f"no license {quote(attachment.license, 80)}")
        key = (attachment.model, attachment.version, attachment.seq)
        if key in attachments:
            raise GenesisError(f"{where}.seq", f"attachment {attachment.seq} appears twice")
        attachments[key] = attachment
        counts[key[:2]] = counts.get(key[:2], 0) + 1
    for model, version, seq in attachments:
        if seq >= counts[(model, version)]:
            raise GenesisError("licenses.attachments", f"{model}@{version}'s are not 0 to n-1")
    return tuple(attachments[k] for k in sorted(attachments))
