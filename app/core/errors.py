"""Registered errors: (codespace, code) pairs that never change once released.

Inside the core a rejection is a ``TxError`` carrying a registered ``ErrorCode`` and a detail
for people; the ABCI boundary turns it into (codespace, code, log). The numbers are part of
consensus (they go into the results hash), so a code is never renumbered or reused.
"""

from __future__ import annotations

from dataclasses import dataclass

_REGISTRY: dict[tuple[str, int], ErrorCode] = {}


@dataclass(frozen=True)
class ErrorCode:
    """One registered failure: where it comes from, its number and what it means."""

    codespace: str
    code: int
    name: str
    description: str


def register(codespace: str, code: int, name: str, description: str) -> ErrorCode:
    """Register a code once; raises ValueError on a duplicate or on code 0 (which means OK)."""
    if code <= 0:
        raise ValueError(f"error code {code} in {codespace}: codes start at 1 (0 means OK)")
    if (codespace, code) in _REGISTRY:
        raise ValueError(f"error code {code} registered twice in codespace {codespace}")
    error = ErrorCode(codespace, code, name, description)
    _REGISTRY[(codespace, code)] = error
    return error


def registered() -> list[ErrorCode]:
    """Every registered error, ordered by codespace and code (for docs and tests)."""
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


class TxError(Exception):
    """A transaction or query is refused; the state it touched is rolled back."""

    def __init__(self, error: ErrorCode, detail: str = "") -> None:
        self.error = error
        self.detail = detail or error.description
        super().__init__(f"{error.codespace}/{error.code} {error.name}: {self.detail}")

    @property
    def log(self) -> str:
        """The message a person reads in the tx result."""
        return f"{self.error.name}: {self.detail}"


# Codespace "tx": decoding and authentication, shared by CheckTx and FinalizeBlock.
TX = "tx"
UNDECODABLE = register(TX, 1, "undecodable", "the transaction bytes are not a modelgov Tx")
OVERSIZE = register(TX, 2, "oversize", "the transaction is larger than max_tx_bytes")
BAD_SIGNATURE = register(TX, 3, "bad_signature", "the signature does not verify")
HIGH_S = register(TX, 4, "high_s_signature", "the signature's s is not in the lower half")
WRONG_CHAIN = register(TX, 5, "wrong_chain_id", "the transaction is for another chain")
NONCE_REPLAYED = register(TX, 6, "nonce_replayed", "this nonce was already used")
NONCE_GAP = register(TX, 7, "nonce_out_of_order", "the nonce is ahead of the account's next")
UNKNOWN_SENDER = register(TX, 8, "unknown_sender", "the sender is not a consortium account")
MISSING_ROLE = register(TX, 9, "missing_role", "the sender lacks the role the message needs")
NO_MESSAGES = register(TX, 10, "no_messages", "the transaction carries no messages")
TOO_MANY_MESSAGES = register(TX, 11, "too_many_messages", "more messages than allowed per tx")
BAD_PUBKEY = register(TX, 12, "bad_pubkey", "the sender is not a compressed secp256k1 key")
MEMO_TOO_LONG = register(TX, 13, "memo_too_long", "the memo is longer than 256 bytes")
UNKNOWN_MESSAGE = register(TX, 14, "unknown_message", "a message of a type this app lacks")
SENDER_DISABLED = register(TX, 15, "sender_disabled", "the sender's organisation was removed")

# Codespace "query": answers to bad queries.
QUERY = "query"
UNKNOWN_PATH = register(QUERY, 1, "unknown_path", "no query answers at this path")
BAD_QUERY = register(QUERY, 2, "bad_query", "the query data is not valid")
NOT_FOUND = register(QUERY, 3, "not_found", "nothing is stored under this key")
HEIGHT_UNAVAILABLE = register(QUERY, 4, "height_unavailable", "only the latest state is kept")
INTERNAL = register(TX, 16, "internal", "the node failed to check this transaction; see its log")
TOO_MANY_PENDING = register(
    TX, 17, "too_many_pending", "the sender already has the most transactions waiting for a block"
)
BLOCK_GAS_EXHAUSTED = register(
    TX, 18, "block_gas_exhausted", "the block used its max_block_gas before this transaction"
)
NONCE_EXHAUSTED = register(
    TX, 19, "nonce_exhausted", "the account has used its last nonce; admit a new key for it"
)
