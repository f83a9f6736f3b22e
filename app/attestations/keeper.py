"""The only code that reads and writes attestations and their indexes."""

from __future__ import annotations

from collections.abc import Iterator

from app.attestations import errors, keys
from app.core.ids import restore_last_id, take_id
from app.pb.modelgov.v1 import federated_pb2
from app.state import Overlay, Reader


class AttestationsReader:
    """Read-only view for queries and other domains."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def get(self, attestation_id: int) -> federated_pb2.Attestation | None:
        """One attestation, or None."""
        raw = self.state.get(keys.attestation_key(attestation_id))
        return None if raw is None else federated_pb2.Attestation.FromString(raw)

    def ids(self, prefix: bytes, after: int = 0) -> Iterator[int]:
        """Ids under an index prefix, ascending, greater than ``after``."""
        start = prefix + keys.u64(after) if after else None
        for key, _ in self.state.iterate(prefix, start):
            yield int.from_bytes(key[len(prefix) :], "big")


class AttestationsKeeper(AttestationsReader):
    """Read-write view for the handlers (and the federated rounds, which attest updates)."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def append(self, attestation: federated_pb2.Attestation) -> federated_pb2.Attestation:
        """Give the attestation the next id and store it with its indexes; returns it.

        Raises TxError(ids_exhausted) once the 8-byte ids are used up, before any write.
        """
        attestation.id = take_id(self.state, keys.LAST_ID, errors.IDS_EXHAUSTED, "attestation")
        self.restore(attestation)
        return attestation

    def restore(self, attestation: federated_pb2.Attestation) -> None:
        """Store an attestation under its id with its indexes (``append``'s writes; genesis
        calls it for the records it restores)."""
        encoded = attestation.SerializeToString(deterministic=True)
        self.state.set(keys.attestation_key(attestation.id), encoded)
        by_version = keys.version_prefix(attestation.model, attestation.version)
        self.state.set(by_version + keys.u64(attestation.id), b"\x01")
        self.state.set(keys.org_prefix(attestation.org) + keys.u64(attestation.id), b"\x01")

    def restore_last_id(self, last: int) -> None:
        """Write the attestation counter: the last id given (genesis)."""
        restore_last_id(self.state, keys.LAST_ID, last)
