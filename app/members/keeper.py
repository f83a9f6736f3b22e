"""The only code that reads and writes organisations, accounts and parameters."""

from __future__ import annotations

from app.core.ante import LAST_NONCE
from app.core.ids import restore_last_id, take_id
from app.members import errors, keys
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader

RETIRED_GAP = 2**32
"""How far past its retired nonce a re-admitted key starts (``reuse_nonce``)."""

DEFAULT_PARAMS = state_pb2.Params(
    max_tx_bytes=65536,
    max_messages_per_tx=16,
    max_description_bytes=4096,
    max_uris_per_version=16,
    max_parents_per_version=16,
    max_metrics_per_version=64,
    max_datasets_per_version=16,
    license_gas_limit=150_000,
    license_memory_limit=1_000_000,
    max_license_source_bytes=16_384,
    vote_quorum_percent=50,
    vote_threshold_percent=66,
    voting_period_blocks=100,
    max_block_gas=10_000_000,
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

    def org_ids(self) -> list[str]:
        """Ids of the member organisations, sorted."""
        return [k[len(keys.ORG) :].decode() for k, _ in self.state.iterate(keys.ORG)]

    def proposal(self, proposal_id: int) -> state_pb2.Proposal | None:
        """A proposal, or None."""
        raw = self.state.get(keys.proposal_key(proposal_id))
        return None if raw is None else state_pb2.Proposal.FromString(raw)

    def active_proposals(self) -> list[int]:
        """Ids of the proposals still open to votes, ascending."""
        return [
            int.from_bytes(k[len(keys.ACTIVE) :], "big") for k, _ in self.state.iterate(keys.ACTIVE)
        ]

    def open_proposals_of(self, org_id: str) -> int:
        """How many of the proposals ``org_id`` submitted are still open."""
        raw = self.state.get(keys.open_count_key(org_id))
        return 0 if raw is None else int.from_bytes(raw, "big")

    def due_proposals(self, height: int) -> list[int]:
        """Ids of the open proposals whose voting period ends at or before ``height``, by end."""
        due = []
        for key, _ in self.state.iterate(keys.DUE):
            entry = key[len(keys.DUE) :]
            if int.from_bytes(entry[:8], "big") > height:
                break
            due.append(int.from_bytes(entry[8:], "big"))
        return due

    def touched_proposals(self) -> list[int]:
        """Ids of the proposals voted on since the end of the last block, ascending."""
        return [
            int.from_bytes(k[len(keys.TOUCHED) :], "big")
            for k, _ in self.state.iterate(keys.TOUCHED)
        ]

    def counted_under(self) -> bytes:
        """The fingerprint of the members and parameters of the last end of block."""
        return self.state.get(keys.COUNTED) or b""

    def votes(self, proposal_id: int) -> dict[str, int]:
        """Organisation -> VoteOption of the votes cast on a proposal."""
        prefix = keys.vote_prefix(proposal_id)
        return {k[len(prefix) :].decode(): v[0] for k, v in self.state.iterate(prefix)}

    def removed_org(self, org_id: str) -> state_pb2.Org | None:
        """The last record of an organisation governance removed (None once re-admitted)."""
        raw = self.state.get(keys.removed_key(org_id))
        return None if raw is None else state_pb2.Org.FromString(raw)

    def retired_nonce(self, address: str) -> int | None:
        """The next nonce of a deleted account (revoked, or of a removed org), else None."""
        raw = self.state.get(keys.retired_key(address))
        return None if raw is None else int.from_bytes(raw, "big")

    def org_accounts(self, org_id: str) -> list[str]:
        """Addresses listed under an organisation, in address order."""
        prefix = keys.org_account_prefix(org_id)
        return [k[len(prefix) :].decode() for k, _ in self.state.iterate(prefix)]

    def validators(self) -> list[state_pb2.Validator]:
        """The validator set as the app last updated it, by public key."""
        return [state_pb2.Validator.FromString(v) for _, v in self.state.iterate(keys.VALIDATOR)]


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

    def remove_org(self, org_id: str) -> int:
        """Remove an organisation: what removal means, in one place.

        Its record moves to the removed index; every account listed under it is deleted (its
        key can send nothing and read nothing, and re-admitting the id brings none of them
        back); its votes on open proposals are withdrawn. What the id holds stays on chain,
        frozen: models and versions (no store serves them while the id is not a member),
        licenses, receipts, and credits (credits are never burnt; no account can move them).
        Returns the number of accounts deleted.
        """
        org = self.org(org_id)
        if org is None:
            raise ValueError(f"no organisation {org_id!r} to remove")
        self.state.delete(keys.org_key(org_id))
        self.state.set(keys.removed_key(org_id), org.SerializeToString(deterministic=True))
        addresses = self.org_accounts(org_id)
        for address in addresses:
            self._forget_listing(org_id, address)
        for proposal_id in self.active_proposals():
            self.state.delete(keys.vote_key(proposal_id, org_id))
        return len(addresses)

    def readmit(self, org_id: str) -> bool:
        """Clear what a removal left under ``org_id`` before it is admitted again: the removed
        record and any account still listed (state written before removals deleted them).
        Returns whether the id had been removed."""
        for address in self.org_accounts(org_id):
            self._forget_listing(org_id, address)
        was_removed = self.state.get(keys.removed_key(org_id)) is not None
        self.state.delete(keys.removed_key(org_id))
        return was_removed

    def _forget_listing(self, org_id: str, address: str) -> None:
        """Delete an account listed under ``org_id`` (or only the listing, if it moved)."""
        account = self.account(address)
        if account is not None and account.org == org_id:
            self.remove_account(account)
        self.state.delete(keys.org_account_key(org_id, address))

    def remove_account(self, account: state_pb2.Account) -> None:
        """Delete an account and its index entry, keeping its next nonce: if the same key is
        ever admitted again it continues from there, so no transaction it signed before can be
        replayed."""
        self.state.delete(keys.account_key(account.address))
        self.state.delete(keys.org_account_key(account.org, account.address))
        self.state.set(keys.retired_key(account.address), account.nonce.to_bytes(8, "big"))

    def open_account(self, account: state_pb2.Account) -> None:
        """Store a new account: a key that had an account before continues from its retired
        nonce (``remove_account``), any other starts at 0."""
        account.nonce = self.reuse_nonce(account.address)
        self.set_account(account)

    def reuse_nonce(self, address: str) -> int:
        """The nonce a (re-)admitted key starts from: RETIRED_GAP past its retired nonce, else
        0; the retired record is dropped since the account record carries it from now on.

        Not the retired nonce itself: a transaction the key signed in its earlier life that
        never ran (refused at the door with its nonce unused, its bytes public in a block)
        would match it and run in the new life, as the old intent. No key signs 2^32
        transactions ahead, so none of an earlier life can match after the gap.
        """
        nonce = self.retired_nonce(address)
        self.state.delete(keys.retired_key(address))
        return 0 if nonce is None else min(nonce + RETIRED_GAP, LAST_NONCE)

    def add_proposal(self, proposal: state_pb2.Proposal) -> state_pb2.Proposal:
        """Store a new proposal under the next id and open it to votes; raises
        TxError(ids_exhausted) once the 8-byte ids are used up, before any write."""
        proposal.id = take_id(self.state, keys.LAST_PROPOSAL, errors.IDS_EXHAUSTED, "proposal")
        self.state.set(keys.active_key(proposal.id), b"\x01")
        self._count_open(proposal.proposer_org, +1)
        self.state.set(keys.due_key(proposal.voting_end_height, proposal.id), b"\x01")
        self.set_proposal(proposal)
        return proposal

    def set_proposal(self, proposal: state_pb2.Proposal) -> None:
        """Rewrite a proposal; a decided one leaves the open indexes (once)."""
        self.state.set(keys.proposal_key(proposal.id), proposal.SerializeToString())
        still_open = self.state.get(keys.active_key(proposal.id)) is not None
        if proposal.status != state_pb2.PROPOSAL_STATUS_VOTING and still_open:
            self.state.delete(keys.active_key(proposal.id))
            self._count_open(proposal.proposer_org, -1)
            self.state.delete(keys.due_key(proposal.voting_end_height, proposal.id))
            self.state.delete(keys.touched_key(proposal.id))

    def _count_open(self, org_id: str, step: int) -> None:
        """Move an organisation's count of open proposals by ``step``; dropped at zero."""
        count = self.open_proposals_of(org_id) + step
        if count < 0:
            raise RuntimeError(f"{org_id} would have {count} open proposals")
        if count == 0:
            self.state.delete(keys.open_count_key(org_id))
        else:
            self.state.set(keys.open_count_key(org_id), count.to_bytes(8, "big"))

    def set_vote(self, proposal_id: int, org_id: str, option: int) -> None:
        """Record (or replace) an organisation's vote; the proposal is recounted at the end of
        this block."""
        self.state.set(keys.vote_key(proposal_id, org_id), bytes([option]))
        self.state.set(keys.touched_key(proposal_id), b"\x01")

    def forget_touched(self, proposal_ids: list[int]) -> None:
        """Clear the touched marks once the end of the block has counted those proposals."""
        for proposal_id in proposal_ids:
            self.state.delete(keys.touched_key(proposal_id))

    def set_counted_under(self, fingerprint: bytes) -> None:
        """Remember the members and parameters this end of block counted under."""
        self.state.set(keys.COUNTED, fingerprint)

    # --- genesis: records as an export read them, with the indexes derived from them ----------

    def restore_removed_org(self, org: state_pb2.Org) -> None:
        """Write a removed organisation's last record (genesis)."""
        self.state.set(keys.removed_key(org.id), org.SerializeToString(deterministic=True))

    def restore_retired(self, address: str, nonce: int) -> None:
        """Write a deleted account's next nonce (genesis)."""
        self.state.set(keys.retired_key(address), nonce.to_bytes(8, "big"))

    def restore_last_proposal(self, last: int) -> None:
        """Write the proposal counter: the last id given (genesis)."""
        restore_last_id(self.state, keys.LAST_PROPOSAL, last)

    def restore_proposal(self, proposal: state_pb2.Proposal) -> None:
        """Write a proposal under its id and, while it is open, its open indexes (genesis)."""
        self.state.set(keys.proposal_key(proposal.id), proposal.SerializeToString())
        if proposal.status == state_pb2.PROPOSAL_STATUS_VOTING:
            self.state.set(keys.active_key(proposal.id), b"\x01")
            self._count_open(proposal.proposer_org, +1)
            self.state.set(keys.due_key(proposal.voting_end_height, proposal.id), b"\x01")

    def restore_vote(self, proposal_id: int, org_id: str, option: int) -> None:
        """Write an organisation's vote as counted (genesis: no block has to recount it)."""
        self.state.set(keys.vote_key(proposal_id, org_id), bytes([option]))

    def set_validator(self, validator: state_pb2.Validator) -> None:
        """Track a validator's power; power 0 removes it."""
        if validator.power == 0:
            self.state.delete(keys.validator_key(validator.pubkey))
        else:
            self.state.set(keys.validator_key(validator.pubkey), validator.SerializeToString())
