"""The only code that reads and writes rounds, their indexes and aggregate contributors."""

from __future__ import annotations

from collections.abc import Iterator

from app.core.ids import restore_last_id, take_id
from app.federated import errors, keys
from app.pb.modelgov.v1 import federated_pb2
from app.state import Overlay, Reader


class FederatedReader:
    """Read-only view for queries and other domains (usage reads contributors)."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def round(self, round_id: int) -> federated_pb2.Round | None:
        """One round, or None."""
        raw = self.state.get(keys.round_key(round_id))
        return None if raw is None else federated_pb2.Round.FromString(raw)

    def target_claimed(self, model_id: str, version: str) -> bool:
        """Whether an open round will publish ``model_id@version``."""
        return self.state.get(keys.target_key(model_id, version)) is not None

    def open_count(self, org: str, limit: int) -> int:
        """How many rounds ``org`` has open, counted up to ``limit``."""
        found = self.state.iterate(keys.opened_by_prefix(org))
        return sum(1 for _ in zip(range(limit), found, strict=False))

    def contributors(self, model_id: str, version: str) -> federated_pb2.Contributors | None:
        """The contributors of an aggregate version, or None for any other version."""
        raw = self.state.get(keys.contributors_key(model_id, version))
        return None if raw is None else federated_pb2.Contributors.FromString(raw)

    def due(self, height: int) -> Iterator[int]:
        """Ids of the open rounds whose deadline is at or before ``height``, by deadline."""
        for key, _ in self.state.iterate(keys.DEADLINE):
            entry = key[len(keys.DEADLINE) :]
            if int.from_bytes(entry[:8], "big") > height:
                return
            yield int.from_bytes(entry[8:], "big")


class FederatedKeeper(FederatedReader):
    """Read-write view for the round handlers and the end of a block."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def open(self, record: federated_pb2.Round) -> federated_pb2.Round:
        """Give a new round the next id and store it with its deadline and target indexes.

        Raises TxError(ids_exhausted) once the 8-byte ids are used up, before any write.
        """
        record.id = take_id(self.state, keys.LAST_ID, errors.IDS_EXHAUSTED, "round")
        self.restore(record)
        return record

    def restore(self, record: federated_pb2.Round) -> None:
        """Store a round under its id and, while it is open, its deadline, target and opener
        indexes (``open``'s writes; genesis calls it for the rounds it restores)."""
        self.set_round(record)
        if record.status == federated_pb2.ROUND_STATUS_OPEN:
            self.state.set(keys.deadline_key(record.deadline_height, record.id), b"\x01")
            self.state.set(keys.target_key(record.target_model, record.target_version), b"\x01")
            self.state.set(keys.opened_by_key(record.opener_org, record.id), b"\x01")

    def restore_last_id(self, last: int) -> None:
        """Write the round counter: the last id given (genesis)."""
        restore_last_id(self.state, keys.LAST_ID, last)

    def set_round(self, record: federated_pb2.Round) -> None:
        """Rewrite a round's record."""
        encoded = record.SerializeToString(deterministic=True)
        self.state.set(keys.round_key(record.id), encoded)

    def close(self, record: federated_pb2.Round) -> None:
        """Store a round that is no longer open and drop its open-round indexes."""
        self.set_round(record)
        self.state.delete(keys.deadline_key(record.deadline_height, record.id))
        self.state.delete(keys.target_key(record.target_model, record.target_version))
        self.state.delete(keys.opened_by_key(record.opener_org, record.id))

    def set_contributors(
        self, model_id: str, version: str, record: federated_pb2.Contributors
    ) -> None:
        """Record who shares the fees of an aggregate version."""
        encoded = record.SerializeToString(deterministic=True)
        self.state.set(keys.contributors_key(model_id, version), encoded)

    def add_submission(
        self, record: federated_pb2.Round, submission: federated_pb2.Submission
    ) -> None:
        """Add an invited organisation's update to an open round."""
        record.submissions.append(submission)
        self.set_round(record)

    def finalize(
        self,
        record: federated_pb2.Round,
        contributors: list[federated_pb2.Contributor],
        aggregate_digest: str,
        height: int,
    ) -> None:
        """Close a round whose aggregate (its target version) was published at ``height``: the
        contributors share the aggregate's fees, and the round names who was included."""
        model, version = record.target_model, record.target_version
        shares = federated_pb2.Contributors(round_id=record.id, contributors=contributors)
        self.set_contributors(model, version, shares)
        record.status = federated_pb2.ROUND_STATUS_FINALIZED
        record.included[:] = [c.org for c in contributors]
        record.aggregate_digest = aggregate_digest
        record.closed_height = height
        self.close(record)

    def expire(self, record: federated_pb2.Round, height: int, reason: str) -> None:
        """Close a round that reached the end of its deadline block unfinalized."""
        record.status = federated_pb2.ROUND_STATUS_EXPIRED
        record.closed_height = height
        record.close_reason = reason
        self.close(record)
