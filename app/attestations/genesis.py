"""The attestations domain's genesis: ``attestations``, the records and their counter.

Attestations travel as their records' protobuf JSON; their indexes by version and by
organisation are derived by the keeper when it writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.attestations import keys
from app.attestations.keeper import AttestationsKeeper
from app.core.genesis import (
    GenesisContext,
    check_last_id,
    integer,
    listed,
    record,
    section,
    to_json,
)
from app.core.ids import last_id
from app.pb.modelgov.v1 import federated_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("attestations",)
FIELDS = ("last_attestation_id", "attestations")


@dataclass(frozen=True)
class Attestations:
    """Validated attestations, by id."""

    last_attestation_id: int = 0
    attestations: tuple[federated_pb2.Attestation, ...] = ()


def default() -> dict[str, Any]:
    """No attestation made."""
    return {"attestations": {"last_attestation_id": 0, "attestations": []}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Attestations:
    """Attestations of published versions by organisations of the consortium, ids up to the
    counter. Raises GenesisError naming the first bad field."""
    found = section(part, "attestations", FIELDS)
    last = integer(found, "last_attestation_id", "attestations")
    attestations = []
    for i, item in enumerate(listed(found, "attestations", "attestations")):
        where = f"attestations.attestations[{i}]"
        attestation, _ = record(item, federated_pb2.Attestation, where)
        context.check_version(attestation.model, attestation.version, where)
        context.check_org(attestation.org, f"{where}.org")
        attestations.append(attestation)
    ids = [a.id for a in attestations]
    check_last_id(last, ids, "attestations.attestations", "attestation")
    return Attestations(last, tuple(sorted(attestations, key=lambda a: a.id)))


def init(state: Overlay, parsed: Attestations) -> None:
    """Write the counter and the attestations with their indexes."""
    keeper = AttestationsKeeper(state)
    keeper.restore_last_id(parsed.last_attestation_id)
    for attestation in parsed.attestations:
        keeper.restore(attestation)


def export(state: Reader) -> dict[str, Any]:
    """The counter and every attestation, by id."""
    return {
        "attestations": {
            "last_attestation_id": last_id(state, keys.LAST_ID),
            "attestations": [
                to_json(federated_pb2.Attestation.FromString(v))
                for _, v in state.iterate(keys.ATTESTATION)
            ],
        }
    }
