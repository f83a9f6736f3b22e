"""What the usage domain needs from other domains, as interfaces the machine wires in (like a
Cosmos module's ``expected_keepers.go``): the domain names what it asks, not who answers."""

from __future__ import annotations

from typing import Protocol

from app.pb.modelgov.v1 import market_pb2
from app.state import Reader


class LeaseBook(Protocol):
    """The lease of ``model@version`` that ``org`` holds and that runs at ``height``, or None
    (the market answers)."""

    def __call__(
        self, state: Reader, org: str, model: str, version: str, height: int
    ) -> market_pb2.Lease | None: ...
