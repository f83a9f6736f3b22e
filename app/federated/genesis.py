"""The federated domain's genesis: ``federated``, rounds, their counter, and the contributors of
aggregate versions.

Rounds travel as their records' protobuf JSON, contributors as theirs with the ``model`` and
``version`` of the aggregate they share the fees of. An open round's deadline and target
indexes are derived by the keeper when it writes the round. Heights (a round's deadline) are
the exported chain's: a chain started from an export continues its heights
(``initial_height``), so an open round closes when it would have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.genesis import (
    GenesisContext,
    GenesisError,
    check_last_id,
    integer,
    key_part,
    listed,
    record,
    section,
    to_json,
)
from app.core.ids import last_id
from app.core.text import quote
from app.federated import keys
from app.federated.keeper import FederatedKeeper
from app.pb.modelgov.v1 import federated_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("federated",)
FIELDS = ("last_round_id", "rounds", "contributors")


@dataclass(frozen=True)
class Federated:
    """Validated rounds (by id) and contributors (by aggregate version)."""

    last_round_id: int = 0
    rounds: tuple[federated_pb2.Round, ...] = ()
    contributors: tuple[tuple[str, str, federated_pb2.Contributors], ...] = ()


def default() -> dict[str, Any]:
    """No round opened."""
    return {"federated": {"last_round_id": 0, "rounds": [], "contributors": []}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Federated:
    """Rounds on published bases of known target models, opened by organisations of the
    consortium, ids up to the counter, at most one open round per target; contributors of
    published versions from listed rounds. Raises GenesisError naming the first bad field."""
    found = section(part, "federated", FIELDS)
    last = integer(found, "last_round_id", "federated")
    rounds = _rounds(listed(found, "rounds", "federated"), context)
    check_last_id(last, [r.id for r in rounds], "federated.rounds", "round")
    ids = {r.id for r in rounds}
    contributors = _contributors(listed(found, "contributors", "federated"), ids, context)
    return Federated(last, tuple(sorted(rounds, key=lambda r: r.id)), contributors)


def init(state: Overlay, parsed: Federated) -> None:
    """Write the counter, the rounds with their open indexes, and the contributors."""
    keeper = FederatedKeeper(state)
    keeper.restore_last_id(parsed.last_round_id)
    for found in parsed.rounds:
        keeper.restore(found)
    for model, version, contributors in parsed.contributors:
        keeper.set_contributors(model, version, contributors)


def export(state: Reader) -> dict[str, Any]:
    """The counter, every round and every aggregate's contributors, in store-key order."""
    return {
        "federated": {
            "last_round_id": last_id(state, keys.LAST_ID),
            "rounds": [
                to_json(federated_pb2.Round.FromString(v)) for _, v in state.iterate(keys.ROUND)
            ],
            "contributors": [_contributors_json(k, v) for k, v in state.iterate(keys.CONTRIBUTORS)],
        }
    }


def _contributors_json(key: bytes, value: bytes) -> dict[str, Any]:
    model, version = key[len(keys.CONTRIBUTORS) :].split(keys.SEP, 1)
    found = to_json(federated_pb2.Contributors.FromString(value))
    return {"model": model.decode(), "version": version.decode(), **found}


def _rounds(items: list[Any], context: GenesisContext) -> list[federated_pb2.Round]:
    rounds = []
    targets: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        where = f"federated.rounds[{i}]"
        found, _ = record(item, federated_pb2.Round, where)
        context.check_org(found.opener_org, f"{where}.opener_org")
        if found.base not in context.versions:
            raise GenesisError(f"{where}.base", f"no version {quote(found.base, 160)}")
        if found.target_model not in context.models:
            raise GenesisError(f"{where}.target_model", "no such model")
        key_part(found.target_version, f"{where}.target_version")
        if found.status not in federated_pb2.RoundStatus.values() or not found.status:
            raise GenesisError(f"{where}.status", "not a round status")
        target = (found.target_model, found.target_version)
        if found.status == federated_pb2.ROUND_STATUS_OPEN:
            if target in targets:
                raise GenesisError(f"{where}.target_version", "another open round targets it")
            targets.add(target)
        rounds.append(found)
    return rounds


def _contributors(
    items: list[Any], rounds: set[int], context: GenesisContext
) -> tuple[tuple[str, str, federated_pb2.Contributors], ...]:
    found: dict[tuple[str, str], federated_pb2.Contributors] = {}
    for i, item in enumerate(items):
        where = f"federated.contributors[{i}]"
        entry, extra = record(item, federated_pb2.Contributors, where, ("model", "version"))
        model, version = extra.get("model"), extra.get("version")
        if not isinstance(model, str) or not isinstance(version, str):
            raise GenesisError(where, "model and version are strings")
        context.check_version(model, version, where)
        if entry.round_id not in rounds:
            raise GenesisError(f"{where}.round_id", f"no round {entry.round_id}")
        for j, contributor in enumerate(entry.contributors):
            context.check_org(contributor.org, f"{where}.contributors[{j}].org")
        if (model, version) in found:
            raise GenesisError(where, f"{model}@{version}'s contributors appear twice")
        found[(model, version)] = entry
        context.unleasable.add(f"{model}@{version}")  # an aggregate pays its contributors
    return tuple((m, v, found[(m, v)]) for m, v in sorted(found))
