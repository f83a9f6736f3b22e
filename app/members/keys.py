"""Store keys of the members domain: prefix 0x01, then one byte per record kind."""

from __future__ import annotations

PREFIX = b"\x01"
ORG = PREFIX + b"o"
ACCOUNT = PREFIX + b"a"
ORG_ACCOUNT = PREFIX + b"i"
PARAMS = PREFIX + b"p"
MAX_U64 = 2**64 - 1
"""The largest proposal id an 8-byte key holds."""


def org_key(org_id: str) -> bytes:
    """Key of an organisation record."""
    return ORG + org_id.encode()


def account_key(address: str) -> bytes:
    """Key of an account record, by its hex address."""
    return ACCOUNT + address.encode()


def org_account_key(org_id: str, address: str) -> bytes:
    """Index entry listing an account under its organisation."""
    return ORG_ACCOUNT + org_id.encode() + b"\x00" + address.encode()


PROPOSAL = PREFIX + b"P"
LAST_PROPOSAL = PREFIX + b"N"
ACTIVE = PREFIX + b"A"
VOTE = PREFIX + b"v"
VALIDATOR = PREFIX + b"V"
OPEN_COUNT = PREFIX + b"O"
DUE = PREFIX + b"D"
TOUCHED = PREFIX + b"T"
COUNTED = PREFIX + b"C"
"""Fingerprint of the member list and parameters the open proposals were last counted under."""


def proposal_key(proposal_id: int) -> bytes:
    """Key of a proposal (big-endian id, so proposals list in order)."""
    return PROPOSAL + proposal_id.to_bytes(8, "big")


def active_key(proposal_id: int) -> bytes:
    """Index entry: the proposal is still being voted on."""
    return ACTIVE + proposal_id.to_bytes(8, "big")


def vote_prefix(proposal_id: int) -> bytes:
    """Prefix of the votes cast on a proposal, one per organisation."""
    return VOTE + proposal_id.to_bytes(8, "big")


def vote_key(proposal_id: int, org_id: str) -> bytes:
    """Key of an organisation's vote on a proposal."""
    return vote_prefix(proposal_id) + org_id.encode()


def validator_key(pubkey: bytes) -> bytes:
    """Key of a validator, by its ed25519 public key."""
    return VALIDATOR + pubkey


def open_count_key(org_id: str) -> bytes:
    """How many open proposals an organisation submitted (what bounds its spam): a counter,
    read and written in O(1), never a scan."""
    return OPEN_COUNT + org_id.encode()


def due_key(end_height: int, proposal_id: int) -> bytes:
    """Index entry of an open proposal by the height its voting period ends."""
    return DUE + end_height.to_bytes(8, "big") + proposal_id.to_bytes(8, "big")


def touched_key(proposal_id: int) -> bytes:
    """Index entry: a vote was cast on the proposal since the end of the last block."""
    return TOUCHED + proposal_id.to_bytes(8, "big")


REMOVED = PREFIX + b"R"
RETIRED = PREFIX + b"r"


def removed_key(org_id: str) -> bytes:
    """Key of a removed organisation's last record (kept while its id is not a member)."""
    return REMOVED + org_id.encode()


def retired_key(address: str) -> bytes:
    """Key of a deleted account's next nonce, so its key can never replay an old transaction."""
    return RETIRED + address.encode()


def org_account_prefix(org_id: str) -> bytes:
    """Prefix of the index entries of an organisation's accounts."""
    return ORG_ACCOUNT + org_id.encode() + b"\x00"
