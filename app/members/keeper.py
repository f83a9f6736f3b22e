"""The only code that reads and writes organisations, accounts and parameters."""

from __future__ import annotations

from app.members import keys
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader

DEFAULT_PARAMS = state_pb2.Params(
    max_tx_bytes=65536,
    max_messages_per_tx=16,
    max_description_bytes=4096,
    max_uris_per_version=16,
    max_parents_per_version=16,
    max_metrics_per_version=64,
    max_datasets_per_version=16,
    license_gas_limit=200_000,
    license_memory_limit=1_000_000,
    max_license_source_bytes=16_384,
)


class MembersReader:
    """Read-only view of the consortium, handed to whoever only reads."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def org(self, org_id: str) -> state_pb2.Org | None:
        """The organisation ``org_id``, or None."""
        raw = self.state.get(keys.org_key(org_id))
        return None if raw is None else state_pb2.Org.FromString(raw)

    def account(self, address: str) -> state_pb2.Account | None:
        """The account at ``address``, or None."""
        raw = self.state.get(keys.account_key(address))
        return None if raw is None else state_pb2.Account.FromString(raw)

    def params(self) -> state_pb2.Params:
        """The consortium's parameters (the defaults before genesis wrote them)."""
        raw = self.state.get(keys.PARAMS)
        return DEFAULT_PARAMS if raw is None else state_pb2.Params.FromString(raw)


class MembersKeeper(MembersReader):
    """Read-write view used by transaction handlers and genesis."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def set_org(self, org: state_pb2.Org) -> None:
        """Store an organisation record."""
        self.state.set(keys.org_key(org.id), org.SerializeToString(deterministic=True))

    def set_account(self, account: state_pb2.Account) -> None:
        """Store an account and its entry in its organisation's index."""
        self.state.set(keys.account_key(account.address), account.SerializeToString())
        self.state.set(keys.org_account_key(account.org, account.address), b"\x01")

    def set_params(self, params: state_pb2.Params) -> None:
        """Store the consortium's parameters."""
        self.state.set(keys.PARAMS, params.SerializeToString())
