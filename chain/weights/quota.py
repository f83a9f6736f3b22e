"""Upload quotas: how many bytes each organisation's uploads may hold on one store.

A blob is charged to the organisation whose upload brought it into the store (its owner record,
``owners/<hex>``); uploading bytes the store already holds costs nothing. An upload is refused
before a byte is read: 413 when it would take its organisation past its quota, 507 when the disk
would keep less than the reserve free. Each answer says what to do. Usage is counted from the
owner records at start and kept in memory; ``weights gc`` runs in another process, so a refusal
first recounts (at most every ``RECOUNT_SECONDS``) in case space was freed meanwhile.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from dataclasses import dataclass

from chain.weights.store import BlobStore

GiB = 1 << 30
DEFAULT_QUOTA = 64 * GiB
DEFAULT_MIN_FREE = 1 * GiB
RECOUNT_SECONDS = 10.0
_SIZE = re.compile(r"([0-9]{1,19})([KMGT]?)(i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class QuotaError(Exception):
    """An upload that does not fit: the HTTP status (413 or 507), why and what to do."""

    def __init__(self, status: int, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class Reservation:
    """Bytes set aside for one upload in progress."""

    org: str
    length: int


def parse_size(text: str) -> int:
    """``1073741824``, ``512M``, ``64G``, ``1TiB``: bytes (binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size (like 512M, 64G, 1T): {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


class Quotas:
    """Per-organisation upload quotas of one store, and its free-space reserve."""

    def __init__(
        self,
        store: BlobStore,
        default: int = DEFAULT_QUOTA,
        per_org: dict[str, int] | None = None,
        min_free: int = DEFAULT_MIN_FREE,
    ) -> None:
        self.store = store
        self.default = default
        self.per_org = dict(per_org or {})
        self.min_free = min_free
        self._lock = threading.Lock()
        self._reserved: dict[str, int] = {}
        self._used: dict[str, int] = {}
        self._counted = 0.0
        self._recount()

    def limit(self, org: str) -> int:
        """The quota of ``org`` on this store."""
        return self.per_org.get(org, self.default)

    def used(self, org: str) -> int:
        """Bytes of the blobs ``org``'s uploads brought into this store."""
        with self._lock:
            return self._used.get(org, 0)

    def reserve(self, org: str, length: int) -> Reservation:
        """Set aside ``length`` bytes for an upload of ``org``; raises QuotaError."""
        try:
            return self._try_reserve(org, length)
        except QuotaError:
            if time.monotonic() - self._counted < RECOUNT_SECONDS:
                raise
        self._recount()
        return self._try_reserve(org, length)

    def _try_reserve(self, org: str, length: int) -> Reservation:
        with self._lock:
            taken = self._used.get(org, 0) + self._reserved.get(org, 0)
            if taken + length > self.limit(org):
                raise QuotaError(
                    413,
                    f"{org} holds {taken} of its {self.limit(org)} bytes on this store; this "
                    f"upload needs {length} more",
                    "delete uploads no version references (modelgov weights gc on the store's "
                    f"node), push to another store, or ask its operator to raise --org-quota {org}",
                )
            free = shutil.disk_usage(self.store.root).free - sum(self._reserved.values())
            if free - length < self.min_free:
                raise QuotaError(
                    507,
                    f"this store has {max(free, 0)} bytes free and keeps {self.min_free} in "
                    f"reserve; the upload needs {length}",
                    "push to another store (modelgov query providers) or ask its operator",
                )
            self._reserved[org] = self._reserved.get(org, 0) + length
        return Reservation(org, length)

    def settle(self, reservation: Reservation, stored: int) -> None:
        """End an upload: release its reservation and charge the bytes it added (0 if the blob
        was there already or the upload failed)."""
        with self._lock:
            left = self._reserved.get(reservation.org, 0) - reservation.length
            if left > 0:
                self._reserved[reservation.org] = left
            else:
                self._reserved.pop(reservation.org, None)
            if stored:
                self._used[reservation.org] = self._used.get(reservation.org, 0) + stored

    def _recount(self) -> None:
        """Recount every organisation's bytes from the owner records."""
        used: dict[str, int] = {}
        for digest, org in self.store.owners():
            size = self.store.size(digest)
            if size is not None:
                used[org] = used.get(org, 0) + size
        with self._lock:
            self._used = used
            self._counted = time.monotonic()
