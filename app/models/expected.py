"""What the models domain needs from other domains, as interfaces the machine wires in (like a
Cosmos module's ``expected_keepers.go``): the domain names what it asks, not who answers."""

from __future__ import annotations

from typing import Protocol

from app.core.env import Event
from app.pb.modelgov.v1 import market_pb2, state_pb2, tx_pb2
from app.state import Overlay, Reader


class LicenseAnswer(Protocol):
    """What a license decided for one use, as far as access needs it."""

    @property
    def allowed(self) -> bool: ...

    @property
    def fee(self) -> int: ...

    @property
    def reason(self) -> str: ...


class UseEvaluation(Protocol):
    """A use's evaluation: the decision and the license that made it."""

    @property
    def decision(self) -> LicenseAnswer: ...

    @property
    def license(self) -> state_pb2.License: ...


class LicenseOracle(Protocol):
    """Asks a version's license about one use by an account at a height and time; raises
    TxError when there is nothing to ask or the script fails (the usage domain answers)."""

    def __call__(
        self, state: Reader, account: state_pb2.Account, use: tx_pb2.Use, height: int, time: int
    ) -> UseEvaluation: ...


class LeaseBook(Protocol):
    """The lease of ``model@version`` that ``org`` holds and that runs at ``height``, or None,
    and the store keys that prove it (the market answers; a lease with ``download`` lets the
    renter read the weights)."""

    def __call__(
        self, state: Reader, org: str, model: str, version: str, height: int
    ) -> market_pb2.Lease | None: ...

    def proof(self, org: str, model: str, version: str, lease_id: int) -> list[bytes]: ...


class OwnerChanged(Protocol):
    """Told that a model passed to another organisation at ``height``, inside the transfer's
    transaction; returns the events of what it closed (the market closes the model's listing
    and offers), or raises TxError to refuse the change (the market, while a lease runs)."""

    def __call__(self, state: Overlay, model: str, height: int) -> tuple[Event, ...]: ...


class VersionRevoked(Protocol):
    """Told that a version was revoked, inside the revoking transaction; returns the events of
    what it closed (the market withdraws the version's lease offer: no lease of a revoked
    version can be sold)."""

    def __call__(self, state: Overlay, model: str, version: str) -> tuple[Event, ...]: ...
